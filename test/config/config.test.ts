import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfigFile, parseConfig, ConfigFileMissingError } from '../../config/load';
import { incidentInputFor } from '../../config/incident-input';

const exampleEnv = {
  MAILMEND_WEBHOOK_TOKEN: 'tok',
  MX1_CANARY_PASSWORD: 'canary',
  MAILMEND_RELAY_PASSWORD: 'relay',
  OPS_CHAT_WEBHOOK_URL: 'http://chat.invalid/hook',
  STATUS_PAGE_WEBHOOK_URL: 'http://status.invalid/hook',
};

function minimalConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    servers: [{ id: 'mx1', smtp: { host: '127.0.0.1', port: 25 }, imap: { host: '127.0.0.1', port: 143 } }],
    audiences: {
      itTeam: { channels: [{ name: 'ops', type: 'webhook', url: { env: 'HOOK' } }] },
      management: { channels: [{ name: 'mgmt', type: 'webhook', url: { env: 'HOOK' } }] },
      users: { channels: [{ name: 'users', type: 'webhook', url: { env: 'HOOK' } }] },
    },
    approvers: ['alice'],
    ...overrides,
  };
}

function problemsOf(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  test('the documented example loads, with durations in milliseconds', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailmend-example-'));
    copyFileSync(path.join(__dirname, '..', '..', 'mailmend.example.yaml'), path.join(dir, 'mailmend.yaml'));
    mkdirSync(path.join(dir, 'secrets'));
    writeFileSync(path.join(dir, 'secrets', 'mx1_id_ed25519'), 'private-key-material\n');
    const { config, secrets } = loadConfigFile(path.join(dir, 'mailmend.yaml'), exampleEnv);
    expect(config.servers[0]?.id).toBe('mx1');
    expect(config.policies.updateInterval).toBe(30 * 60_000);
    expect(config.policies.probeTimeout).toBe(5_000);
    expect(secrets.knownSecrets()).toEqual(expect.arrayContaining(['tok', 'relay', 'canary', 'private-key-material']));
  });

  test('a bad key is named with the reason', () => {
    const problems = problemsOf(() =>
      parseConfig(
        minimalConfig({ policies: { updateInterval: 'soon', confirmationsRequired: 0 }, surprise: true }),
        'test.yaml',
        { HOOK: 'http://x' },
        '/',
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^policies\.updateInterval: "soon" is not a positive duration/),
        expect.stringMatching(/^policies\.confirmationsRequired: /),
        expect.stringMatching(/surprise/),
      ]),
    );
  });

  test('a missing secret fails at start, naming the key and the reference but no value', () => {
    const problems = problemsOf(() => parseConfig(minimalConfig(), 'test.yaml', {}, '/'));
    expect(problems).toContain('audiences.itTeam.channels[0].url: environment variable HOOK is not set');
  });

  test('email channels need a fallback relay, and server ids must be unique', () => {
    const problems = problemsOf(() =>
      parseConfig(
        minimalConfig({
          servers: [
            { id: 'mx1', smtp: { host: 'a', port: 25 }, imap: { host: 'a', port: 143 } },
            { id: 'mx2', aliases: ['mx1'], smtp: { host: 'b', port: 25 }, imap: { host: 'b', port: 143 } },
          ],
          audiences: {
            itTeam: { channels: [{ name: 'ops', type: 'email', to: ['ops@example.com'] }] },
            management: { channels: [{ name: 'mgmt', type: 'email', to: ['not-an-address'] }] },
            users: { channels: [] },
          },
        }),
        'test.yaml',
        {},
        '/',
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^audiences\.management\.channels\[0\]\.to\[0\]: /),
        expect.stringMatching(/^audiences\.users\.channels: /),
      ]),
    );
  });

  test('unreadable and non-YAML files get clear errors', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailmend-config-'));
    expect(() => loadConfigFile(path.join(dir, 'missing.yaml'), {})).toThrow(ConfigFileMissingError);
    expect(problemsOf(() => loadConfigFile(path.join(dir, 'missing.yaml'), {}))).toEqual(['the file does not exist']);
    expect(problemsOf(() => loadConfigFile(dir, {}))).toEqual(['cannot read the file: EISDIR']);
    writeFileSync(path.join(dir, 'bad.yaml'), 'servers: [unclosed');
    expect(problemsOf(() => loadConfigFile(path.join(dir, 'bad.yaml'), {}))[0]).toMatch(/^not valid YAML/);
  });

  test('the workflow input carries names and policies, never secrets', () => {
    const { config } = parseConfig(minimalConfig(), 'test.yaml', { HOOK: 'http://hook.invalid/s3cret' }, '/');
    const input = incidentInputFor(config, 'mx1');
    expect(JSON.stringify(input)).not.toContain('s3cret');
    expect(input.audiences.itTeam).toEqual(['ops']);
    expect(input.policies.approvalTimeoutMs).toBe(15 * 60_000);
  });

  test('serverFiles add the servers of another file, such as the lab fragment', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mailmend-fragment-'));
    writeFileSync(
      path.join(dir, 'lab.yaml'),
      'servers:\n  - id: lab\n    smtp: { host: 127.0.0.1, port: 2525 }\n    imap: { host: 127.0.0.1, port: 1143 }\n',
    );
    const { config } = parseConfig(
      minimalConfig({ serverFiles: ['lab.yaml'] }),
      'test.yaml',
      { HOOK: 'http://x' },
      dir,
    );
    expect(config.servers.map((server) => server.id)).toEqual(['mx1', 'lab']);
    expect(problemsOf(() => parseConfig(minimalConfig({ serverFiles: ['gone.yaml'] }), 'test.yaml', {}, dir))).toEqual([
      `serverFiles[0]: cannot use ${path.join(dir, 'gone.yaml')}: ENOENT`,
    ]);
  });

  test('a relative tls.caFile is beside the config file; TLS defaults warn 14 days before expiry', () => {
    const servers = [
      {
        id: 'mx1',
        smtp: { host: 'mx1.example.org', port: 25 },
        imap: { host: 'mx1.example.org', port: 993, tls: true },
        tls: { caFile: 'ca/private-ca.pem' },
      },
      { id: 'mx2', smtp: { host: 'mx2.example.org', port: 25 }, imap: { host: 'mx2.example.org', port: 143 } },
    ];
    const { config } = parseConfig(minimalConfig({ servers }), 'test.yaml', { HOOK: 'http://x' }, '/etc/mailmend');
    expect(config.servers.map((server) => server.tls)).toEqual([
      { caFile: '/etc/mailmend/ca/private-ca.pem', expiryWarning: 14 * 24 * 60 * 60_000 },
      { expiryWarning: 14 * 24 * 60 * 60_000 },
    ]);
    expect(config.servers[1]?.smtp.requireTls).toBe(false);
  });

  test('a probe timeout that would outlast the step-1 activity is refused with the reason', () => {
    expect(
      problemsOf(() =>
        parseConfig(minimalConfig({ policies: { probeTimeout: '20s' } }), 'test.yaml', { HOOK: 'http://x' }, '/'),
      ),
    ).toEqual([expect.stringMatching(/policies\.probeTimeout.*at most 12s/)]);
    const { config } = parseConfig(minimalConfig(), 'test.yaml', { HOOK: 'http://x' }, '/');
    expect(config.policies.probeTimeout).toBe(5_000);
  });

  test('an assessment deadline the probes cannot answer within is refused, and 30s is the default', () => {
    expect(
      problemsOf(() =>
        parseConfig(
          minimalConfig({ policies: { probeTimeout: '10s', assessmentDeadline: '24s' } }),
          'test.yaml',
          { HOOK: 'http://x' },
          '/',
        ),
      ),
    ).toEqual([expect.stringMatching(/policies\.assessmentDeadline.*at least twice policies\.probeTimeout/)]);
    const { config } = parseConfig(minimalConfig(), 'test.yaml', { HOOK: 'http://x' }, '/');
    expect(config.policies.assessmentDeadline).toBe(30_000);
    expect(incidentInputFor(config, config.servers[0]?.id ?? '').policies.assessmentDeadlineMs).toBe(30_000);
  });

  test('an unknown key is named on its own line, with the key probably meant', () => {
    const problems = problemsOf(() =>
      parseConfig(
        minimalConfig({
          policies: { updateIntervall: '10m' },
          timezone: 'Europe/Paris',
          servers: [
            {
              id: 'mx1',
              smtp: { host: 'a', port: 25 },
              imap: { host: 'a', port: 143 },
              host: { postfixConfigDirectory: '/etc/postfix', logfiles: ['/var/log/mail.log'] },
            },
          ],
          audiences: {
            itTeam: { channels: [{ name: 'ops', type: 'webhook', url: { enb: 'HOOK' } }] },
            management: { channels: [{ name: 'mgmt', type: 'webhook', url: { env: 'HOOK' } }] },
            users: { channels: [{ name: 'users', type: 'webhook', url: { env: 'HOOK' } }] },
          },
          zzz: 1,
        }),
        'test.yaml',
        { HOOK: 'http://x' },
        '/',
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        'policies.updateIntervall: unknown key; did you mean "updateInterval"?',
        'timezone: unknown key; did you mean "timeZone"?',
        'servers[0].host.postfixConfigDirectory: unknown key; did you mean "postfixConfigDir"?',
        'servers[0].host.logfiles: unknown key; did you mean "logFiles"?',
        'audiences.itTeam.channels[0].url.enb: unknown key; did you mean "env"?',
        'zzz: unknown key',
      ]),
    );
  });
});
