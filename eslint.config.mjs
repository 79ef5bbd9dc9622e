import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const FOLDERS = [
  'workflows',
  'activities',
  'config',
  'platform',
  'worker',
  'client',
  'lab',
  'drill',
  'cluster',
  'app',
  'bench',
  'test',
];

/**
 * What each top-level folder may import. The product's layers go workflows → activities → worker → client → app,
 * with config and platform (logger, Temporal connection) shared below them; the lab and the drill sit beside the
 * product, and the cluster runs the product's processes; nothing imports the tests.
 */
const MAY_IMPORT = {
  workflows: [],
  platform: [],
  config: ['workflows', 'platform'],
  activities: ['workflows', 'config', 'platform'],
  worker: ['workflows', 'activities', 'config', 'platform'],
  client: ['workflows', 'config', 'platform'],
  lab: ['config', 'platform'],
  drill: ['workflows', 'config', 'platform', 'client', 'lab'],
  cluster: ['workflows', 'config', 'platform', 'worker', 'lab'],
  app: ['workflows', 'activities', 'config', 'platform', 'worker', 'client', 'lab', 'drill', 'cluster'],
  bench: ['workflows', 'activities', 'config', 'platform', 'worker', 'client', 'lab', 'drill', 'cluster', 'app'],
  test: FOLDERS,
};

const layerZones = Object.entries(MAY_IMPORT).flatMap(([target, allowed]) =>
  FOLDERS.filter((from) => from !== target && !allowed.includes(from)).map((from) => ({
    target: `./${target}`,
    from: `./${from}`,
    message: `${target}/ may import only ${allowed.length > 0 ? allowed.join(', ') : 'itself'} (see eslint.config.mjs)`,
  })),
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '*.js', '*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [importX.createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
    },
  },
  {
    // One job per function: code, test helpers included, keeps each function short enough to read whole. A test
    // file's describe blocks are lists of cases, not functions with a job, so test files are exempt.
    files: ['**/*.ts'],
    ignores: ['test/**/*.test.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60, skipBlankLines: false, skipComments: false }] },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: the workflow SDK and its own files, nothing else.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/workflow$|\\./)',
              message: 'workflow code must be deterministic: only @temporalio/workflow and its own files',
            },
          ],
        },
      ],
    },
  },
);
