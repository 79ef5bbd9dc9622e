const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['<rootDir>/test/support/quiet-runtime.ts'],
};

// Each Temporal-facing project starts the one shared dev server; the setup runs once even when both are selected.
const withDevServer = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 120_000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/test/{activities,client,config,replay,platform,lab-setup}/**/*.test.ts',
        // Reads the lab's scenario list and the e2e files; needs neither root nor a lab.
        '<rootDir>/test/lab/scenario-coverage.test.ts',
      ],
    },
    {
      ...shared,
      ...withDevServer,
      displayName: 'temporal',
      testMatch: ['<rootDir>/test/{workflows,webhook,cli,durability,security,process}/**/*.test.ts'],
    },
    {
      ...shared,
      ...withDevServer,
      displayName: 'lab',
      testMatch: ['<rootDir>/test/lab/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', 'scenario-coverage'],
    },
    {
      // Each file brings up its own lab and its own cluster (PostgreSQL, the Temporal server, two workers and two
      // webhooks as processes), so it needs no shared dev server.
      ...shared,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.test.ts'],
    },
    {
      // Starts its own dev server, with the Web UI, and drives it with headless Chromium.
      ...shared,
      displayName: 'ui',
      testMatch: ['<rootDir>/test/ui/**/*.test.ts'],
    },
  ],
};
