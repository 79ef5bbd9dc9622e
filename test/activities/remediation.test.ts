import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createRemediationActivities, type RemediationExecutor } from '../../activities/remediation';
import {
  findCatalogAction,
  REMEDIATION_CATALOG,
  type CatalogAction,
  type CatalogActionId,
} from '../../activities/remediation-catalog';
import type { MailHostAccess } from '../../activities/mail-host';
import { createSshRemediationExecutor } from '../../activities/ssh-remediation';
import type { SshSession } from '../../activities/ssh';
import type { HostFacts } from '../../activities/remediation-steps';
import { serverSchema } from '../../config/schema';
import { FailureType } from '../../workflows/failure-types';
import { NO_CATALOG_ACTION, type IncidentStepContext } from '../../workflows/messages';

const server = serverSchema.parse({
  id: 'mx1',
  smtp: { host: 'mx1.example.org', port: 25 },
  imap: { host: 'mx1.example.org', port: 143 },
  host: {
    postfixConfigDir: '/etc/postfix',
    knownGoodDir: '/var/lib/mailmend/known-good',
    mailDirs: ['/srv/vmail'],
    mailOwner: 'vmail:vmail',
  },
});

/** What the host answered for the facts the resume and set-permissions actions read. */
const TEST_FACTS: HostFacts = {
  postfixQueueDir: '/var/spool/postfix',
  postfixMasterPid: '1234',
  dovecotBaseDir: '/run/dovecot',
  dovecotMasterPid: '2345',
};

const context: IncidentStepContext = { incidentId: 'incident-mx1', serverId: 'mx1', step: 'remediation' };

function recordingExecutor() {
  const ran: string[] = [];
  const executor: RemediationExecutor = {
    async runAction(_server, action, onProgress) {
      onProgress();
      ran.push(action.id);
      return { exitCode: 0, output: 'ok', alreadyApplied: false };
    },
  };
  return { executor, ran };
}

function remediationActivities() {
  const { executor, ran } = recordingExecutor();
  const { runRemediation } = createRemediationActivities({
    servers: new Map([['mx1', server]]),
    remediationExecutor: executor,
    logger: pino({ level: 'silent' }),
  });
  return { runRemediation, ran };
}

describe('the remediation catalog', () => {
  test('an id outside the catalog is refused, non-retryably, before anything runs', async () => {
    const { runRemediation, ran } = remediationActivities();
    const failure = await new MockActivityEnvironment()
      .run(runRemediation, {
        context,
        actionId: 'rm -rf /',
      })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: FailureType.UnknownRemediationAction, nonRetryable: true });
    expect((failure as Error).message).toBe('"rm -rf /" is not in the remediation catalog');
    expect(ran).toEqual([]);
  });

  test('a catalog action runs through the executor with a heartbeat', async () => {
    const { runRemediation, ran } = remediationActivities();
    const environment = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    environment.on('heartbeat', (details: unknown) => heartbeats.push(details));
    const result = await environment.run(runRemediation, {
      context,
      actionId: 'start-postfix',
    });
    expect(result).toMatchObject({ actionId: 'start-postfix', exitCode: 0, alreadyApplied: false });
    expect(ran).toEqual(['start-postfix']);
    expect(heartbeats).toEqual(['start-postfix']);
  });

  test('a retry of an action that is not idempotent is refused before anything runs', async () => {
    const { runRemediation, ran } = remediationActivities();
    const failure = await new MockActivityEnvironment({ attempt: 2 })
      .run(runRemediation, { context, actionId: 'restart-postfix' })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: FailureType.RemediationNotRetried, nonRetryable: true });
    expect((failure as Error).message).toBe(
      '"restart-postfix" is not idempotent and attempt 1 may already have run it; it is not retried',
    );
    expect(ran).toEqual([]);
  });

  test('a retry of an idempotent action runs, so its check can find the effect in place', async () => {
    const { runRemediation, ran } = remediationActivities();
    const result = await new MockActivityEnvironment({ attempt: 2 }).run(runRemediation, {
      context,
      actionId: 'start-postfix',
    });
    expect(result).toMatchObject({ actionId: 'start-postfix', exitCode: 0 });
    expect(ran).toEqual(['start-postfix']);
  });

  test('a failure the attempt reports is final for an action that is not idempotent, and retried for one that is', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:22'), { name: 'SshConnectError' });
    const { runRemediation } = createRemediationActivities({
      servers: new Map([['mx1', server]]),
      remediationExecutor: {
        runAction: () => Promise.reject(refused),
      },
      logger: pino({ level: 'silent' }),
    });
    const restart = await new MockActivityEnvironment()
      .run(runRemediation, { context, actionId: 'restart-postfix' })
      .catch((error: unknown) => error);
    expect(restart).toBeInstanceOf(ApplicationFailure);
    expect(restart).toMatchObject({
      type: 'SshConnectError',
      nonRetryable: true,
      message: 'connect ECONNREFUSED 127.0.0.1:22',
    });
    const start = await new MockActivityEnvironment()
      .run(runRemediation, { context, actionId: 'start-postfix' })
      .catch((error: unknown) => error);
    expect(start).toBe(refused);
  });

  test('every action has a read-only check, or says that it is not idempotent', () => {
    for (const action of REMEDIATION_CATALOG.values()) {
      if (action.idempotent) expect(action.alreadyApplied(server, TEST_FACTS).length).toBeGreaterThan(0);
      else expect(action.description).toMatch(/Not idempotent: every run /);
    }
    expect(findCatalogAction(NO_CATALOG_ACTION)).toBeUndefined();
  });

  test('every command is built from the server config and validated host facts alone', () => {
    const commands = [...REMEDIATION_CATALOG.values()].map((action) => ({
      id: action.id,
      ...(action.facts ? { facts: action.facts.map((reader) => reader.read(server, TEST_FACTS)) } : {}),
      alreadyApplied: action.idempotent ? action.alreadyApplied(server, TEST_FACTS) : 'not idempotent',
      steps: action.steps(server, '20260101T000000Z', TEST_FACTS),
    }));
    expect(commands).toEqual([
      {
        id: 'start-postfix',
        alreadyApplied: [['postfix', '-c', '/etc/postfix', 'status']],
        steps: [
          ['postfix', '-c', '/etc/postfix', 'check'],
          ['postfix', '-c', '/etc/postfix', 'start'],
        ],
      },
      {
        id: 'restart-postfix',
        alreadyApplied: 'not idempotent',
        steps: [
          ['postfix', '-c', '/etc/postfix', 'check'],
          ['postfix', '-c', '/etc/postfix', 'stop'],
          ['postfix', '-c', '/etc/postfix', 'start'],
        ],
      },
      {
        id: 'restore-postfix-config',
        alreadyApplied: [
          ['cmp', '-s', '/var/lib/mailmend/known-good/postfix/main.cf', '/etc/postfix/main.cf'],
          ['cmp', '-s', '/var/lib/mailmend/known-good/postfix/master.cf', '/etc/postfix/master.cf'],
          ['postfix', '-c', '/etc/postfix', 'status'],
        ],
        steps: [
          ['postfix', '-c', '/var/lib/mailmend/known-good/postfix', 'check'],
          ['cp', '-p', '/etc/postfix/main.cf', '/etc/postfix/main.cf.mailmend-20260101T000000Z'],
          ['cp', '-p', '/etc/postfix/master.cf', '/etc/postfix/master.cf.mailmend-20260101T000000Z'],
          ['cp', '-p', '/var/lib/mailmend/known-good/postfix/main.cf', '/etc/postfix/main.cf'],
          ['cp', '-p', '/var/lib/mailmend/known-good/postfix/master.cf', '/etc/postfix/master.cf'],
          ['postfix', '-c', '/etc/postfix', 'check'],
          ['postfix', '-c', '/etc/postfix', 'start'],
        ],
      },
      {
        id: 'start-dovecot',
        alreadyApplied: [['doveadm', '-c', '/etc/dovecot/dovecot.conf', 'process', 'status']],
        steps: [
          ['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n'],
          ['dovecot', '-c', '/etc/dovecot/dovecot.conf'],
        ],
      },
      {
        id: 'reload-dovecot',
        alreadyApplied: 'not idempotent',
        steps: [
          ['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n'],
          ['doveadm', '-c', '/etc/dovecot/dovecot.conf', 'reload'],
        ],
      },
      {
        id: 'flush-postfix-queue',
        alreadyApplied: 'not idempotent',
        steps: [['postqueue', '-c', '/etc/postfix', '-f']],
      },
      {
        id: 'restore-dovecot-config',
        alreadyApplied: [
          ['cmp', '-s', '/var/lib/mailmend/known-good/dovecot/dovecot.conf', '/etc/dovecot/dovecot.conf'],
          ['doveadm', '-c', '/etc/dovecot/dovecot.conf', 'process', 'status'],
        ],
        steps: [
          ['doveconf', '-c', '/var/lib/mailmend/known-good/dovecot/dovecot.conf', '-n'],
          ['cp', '-p', '/etc/dovecot/dovecot.conf', '/etc/dovecot/dovecot.conf.mailmend-20260101T000000Z'],
          ['cp', '-p', '/var/lib/mailmend/known-good/dovecot/dovecot.conf', '/etc/dovecot/dovecot.conf'],
          ['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n'],
          { argv: ['doveadm', '-c', '/etc/dovecot/dovecot.conf', 'process', 'status'], probe: true },
          { argv: ['doveadm', '-c', '/etc/dovecot/dovecot.conf', 'reload'], when: 'probe-passed' },
          { argv: ['dovecot', '-c', '/etc/dovecot/dovecot.conf'], when: 'probe-failed' },
        ],
      },
      {
        id: 'postfix-set-permissions',
        facts: [['postconf', '-c', '/etc/postfix', '-h', 'queue_directory']],
        alreadyApplied: 'not idempotent',
        steps: [
          ['postfix', '-c', '/etc/postfix', 'set-permissions'],
          ['postfix', '-c', '/etc/postfix', 'check'],
          { argv: ['postfix', '-c', '/etc/postfix', 'status'], probe: true },
          { argv: ['postfix', '-c', '/etc/postfix', 'reload'], when: 'probe-passed' },
          { argv: ['postfix', '-c', '/etc/postfix', 'start'], when: 'probe-failed' },
        ],
      },
      {
        id: 'fix-mailbox-ownership',
        alreadyApplied: [
          [
            'find',
            '/srv/vmail',
            '(',
            '!',
            '-user',
            'vmail',
            '-o',
            '!',
            '-group',
            'vmail',
            ')',
            '-exec',
            'false',
            '{}',
            '+',
          ],
        ],
        steps: [
          ['chown', '-R', '-h', 'vmail:vmail', '/srv/vmail'],
          ['postqueue', '-c', '/etc/postfix', '-f'],
        ],
      },
      {
        id: 'resume-postfix',
        facts: [
          ['postconf', '-c', '/etc/postfix', '-h', 'queue_directory'],
          ['cat', '/var/spool/postfix/pid/master.pid'],
        ],
        alreadyApplied: [{ argv: ['pgrep', '-r', 'T', '-g', '1234'], passesOnExitCode: 1 }],
        steps: [['/bin/kill', '-CONT', '--', '-1234']],
      },
      {
        id: 'resume-dovecot',
        facts: [
          ['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-h', 'base_dir'],
          ['cat', '/run/dovecot/master.pid'],
        ],
        alreadyApplied: [{ argv: ['pgrep', '-r', 'T', '-g', '2345'], passesOnExitCode: 1 }],
        steps: [['/bin/kill', '-CONT', '--', '-2345']],
      },
    ]);
  });
});

describe('the SSH remediation executor', () => {
  function scriptedHost(exitCodes: Record<string, number>, outputs: Record<string, string> = {}) {
    const ran: string[] = [];
    const session: SshSession = {
      async run(argv) {
        const command = argv.join(' ');
        ran.push(command);
        return { argv: [...argv], exitCode: exitCodes[command] ?? 0, output: outputs[command] ?? '' };
      },
    };
    const mailHost = {
      withSsh: (_server, use) => use(session),
      canaryImap: () => undefined,
      serverSmtp: () => {
        throw new Error('not used');
      },
    } satisfies MailHostAccess;
    return { executor: createSshRemediationExecutor(mailHost, () => new Date('2026-01-01T00:00:00Z')), ran };
  }

  function action(id: CatalogActionId): CatalogAction {
    const found = findCatalogAction(id);
    if (!found) throw new Error(`${id} is missing from the catalog`);
    return found;
  }

  test.each<[string, Record<string, number>, CatalogActionId, { alreadyApplied: boolean; exitCode: number }, string[]]>(
    [
      [
        'an idempotent action whose effect is in place runs only its check',
        {},
        'start-postfix',
        { alreadyApplied: true, exitCode: 0 },
        ['postfix -c /etc/postfix status'],
      ],
      [
        'an idempotent action whose check fails snapshots, then runs its commands',
        { 'postfix -c /etc/postfix status': 1 },
        'start-postfix',
        { alreadyApplied: false, exitCode: 0 },
        [
          'postfix -c /etc/postfix status',
          'postfix -c /etc/postfix status',
          'postfix -c /etc/postfix check',
          'postfix -c /etc/postfix start',
        ],
      ],
      [
        'an action that is not idempotent has no check and runs in full, stopping at the first failure',
        { 'postfix -c /etc/postfix stop': 1 },
        'restart-postfix',
        { alreadyApplied: false, exitCode: 1 },
        ['postfix -c /etc/postfix status', 'postfix -c /etc/postfix check', 'postfix -c /etc/postfix stop'],
      ],
    ],
  )('%s', async (_name, exitCodes, actionId, expected, expectedCommands) => {
    const { executor, ran } = scriptedHost(exitCodes);
    const outcome = await executor.runAction(server, action(actionId), () => undefined);
    expect(outcome).toMatchObject(expected);
    expect(ran).toEqual(expectedCommands);
  });

  const DOVECOT_UP = 'doveadm -c /etc/dovecot/dovecot.conf process status';
  const RESTORE_PREFIX = [
    'doveconf -c /var/lib/mailmend/known-good/dovecot/dovecot.conf -n',
    'cp -p /etc/dovecot/dovecot.conf /etc/dovecot/dovecot.conf.mailmend-20260101T000000Z',
    'cp -p /var/lib/mailmend/known-good/dovecot/dovecot.conf /etc/dovecot/dovecot.conf',
    'doveconf -c /etc/dovecot/dovecot.conf -n',
    DOVECOT_UP,
  ];

  test('a failed probe does not stop the action: it runs the steps for a failed probe and skips the others', async () => {
    const { executor, ran } = scriptedHost({
      [DOVECOT_UP]: 1,
      'cmp -s /var/lib/mailmend/known-good/dovecot/dovecot.conf /etc/dovecot/dovecot.conf': 1,
    });
    const outcome = await executor.runAction(server, action('restore-dovecot-config'), () => undefined);
    expect(outcome).toMatchObject({ alreadyApplied: false, exitCode: 0 });
    expect(outcome.commands?.map((command) => command.command.replace(/'/g, ''))).toEqual([
      ...RESTORE_PREFIX,
      'dovecot -c /etc/dovecot/dovecot.conf',
    ]);
    expect(ran).not.toContain('doveadm -c /etc/dovecot/dovecot.conf reload');
  });

  test('a passed probe runs the steps for a passed probe only', async () => {
    const { executor } = scriptedHost({
      'cmp -s /var/lib/mailmend/known-good/dovecot/dovecot.conf /etc/dovecot/dovecot.conf': 1,
    });
    const outcome = await executor.runAction(server, action('restore-dovecot-config'), () => undefined);
    expect(outcome.commands?.map((command) => command.command.replace(/'/g, ''))).toEqual([
      ...RESTORE_PREFIX,
      'doveadm -c /etc/dovecot/dovecot.conf reload',
    ]);
  });

  test('a failing step after a probe still stops the action with its exit code', async () => {
    const { executor } = scriptedHost({
      'cmp -s /var/lib/mailmend/known-good/dovecot/dovecot.conf /etc/dovecot/dovecot.conf': 1,
      'doveadm -c /etc/dovecot/dovecot.conf reload': 75,
    });
    const outcome = await executor.runAction(server, action('restore-dovecot-config'), () => undefined);
    expect(outcome).toMatchObject({ alreadyApplied: false, exitCode: 75 });
  });

  const QUEUE_DIR = 'postconf -c /etc/postfix -h queue_directory';
  const MASTER_PID = 'cat /var/spool/postfix/pid/master.pid';
  const FROZEN = 'pgrep -r T -g 4321';

  test('resume-postfix reads and validates the master pid, then signals its process group', async () => {
    const { executor, ran } = scriptedHost(
      { [FROZEN]: 0 },
      { [QUEUE_DIR]: '/var/spool/postfix\n', [MASTER_PID]: '      4321\n' },
    );
    const outcome = await executor.runAction(server, action('resume-postfix'), () => undefined);
    expect(outcome).toMatchObject({ alreadyApplied: false, exitCode: 0 });
    expect(ran).toEqual([
      QUEUE_DIR,
      MASTER_PID,
      FROZEN,
      'ps -o pid,pgid,stat,wchan:32,args --sid 4321',
      '/bin/kill -CONT -- -4321',
    ]);
  });

  test('a check may pass on another exit code: no stopped process (pgrep exit 1) means already resumed', async () => {
    const { executor, ran } = scriptedHost(
      { [FROZEN]: 1 },
      { [QUEUE_DIR]: '/var/spool/postfix', [MASTER_PID]: '4321' },
    );
    const outcome = await executor.runAction(server, action('resume-postfix'), () => undefined);
    expect(outcome).toMatchObject({ alreadyApplied: true, exitCode: 0 });
    expect(ran).toEqual([QUEUE_DIR, MASTER_PID, FROZEN]);
  });

  test.each([
    ['a pid of 1, which kill -- -1 would read as every process', { [MASTER_PID]: '1' }],
    ['a pid with text around it', { [MASTER_PID]: '4321; rm -rf /' }],
    ['a negative pid', { [MASTER_PID]: '-4321' }],
    ['a queue directory with a .. step', { [QUEUE_DIR]: '/var/spool/../../etc' }],
    ['a relative queue directory', { [QUEUE_DIR]: 'spool/postfix' }],
  ])('a host fact that fails validation stops the action before it changes anything: %s', async (_name, answers) => {
    const { executor, ran } = scriptedHost({}, { [QUEUE_DIR]: '/var/spool/postfix', [MASTER_PID]: '4321', ...answers });
    const outcome = await executor.runAction(server, action('resume-postfix'), () => undefined);
    expect(outcome.exitCode).not.toBe(0);
    expect(outcome.output).toMatch(/^nothing was changed: (postfixMasterPid|postfixQueueDir): /);
    expect(ran.filter((command) => command.includes('kill') || command.startsWith('pgrep'))).toEqual([]);
  });

  test('a fact whose command fails stops the action too', async () => {
    const { executor, ran } = scriptedHost({ [MASTER_PID]: 1 }, { [QUEUE_DIR]: '/var/spool/postfix' });
    const outcome = await executor.runAction(server, action('resume-postfix'), () => undefined);
    expect(outcome).toMatchObject({ exitCode: 1, output: expect.stringContaining('exited with 1') });
    expect(ran).toEqual([QUEUE_DIR, MASTER_PID]);
  });

  test('fix-mailbox-ownership refuses to build without host.mailOwner, and chowns only the configured roots', () => {
    const withoutOwner = serverSchema.parse({ ...server, host: { ...server.host, mailOwner: undefined } });
    const fix = action('fix-mailbox-ownership');
    expect(() => fix.commands(withoutOwner, '20260101T000000Z')).toThrow(/has no host\.mailOwner/);
    expect(fix.commands(server, '20260101T000000Z')).toEqual([
      ['chown', '-R', '-h', 'vmail:vmail', '/srv/vmail'],
      ['postqueue', '-c', '/etc/postfix', '-f'],
    ]);
  });

  test('an action that needs host facts has no commands to show until it runs', () => {
    expect(() => action('resume-dovecot').commands(server, '20260101T000000Z')).toThrow(
      /dovecotMasterPid was not read/,
    );
  });
});
