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
        steps: [['chown', '-R', '-h', 'vmail:vmail', '/srv/vmail']],
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
  function scriptedHost(exitCodes: Record<string, number>) {
    const ran: string[] = [];
    const session: SshSession = {
      async run(argv) {
        const command = argv.join(' ');
        ran.push(command);
        return { argv: [...argv], exitCode: exitCodes[command] ?? 0, output: '' };
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
});
