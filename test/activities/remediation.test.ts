import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createRemediationActivities, type RemediationExecutor } from '../../activities/remediation';
import { REMEDIATION_CATALOG } from '../../activities/remediation-catalog';
import { serverSchema } from '../../config/schema';
import { FailureType } from '../../workflows/failure-types';
import type { IncidentStepContext } from '../../workflows/messages';

const server = serverSchema.parse({
  id: 'mx1',
  smtp: { host: 'mx1.example.org', port: 25 },
  imap: { host: 'mx1.example.org', port: 143 },
  host: { postfixConfigDir: '/etc/postfix', knownGoodDir: '/var/lib/mailmend/known-good' },
});

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

describe('the remediation catalog', () => {
  test('an id outside the catalog is refused, non-retryably, before anything runs', async () => {
    const { executor, ran } = recordingExecutor();
    const { runRemediation } = createRemediationActivities({
      servers: new Map([['mx1', server]]),
      remediationExecutor: executor,
      logger: pino({ level: 'silent' }),
    });
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
    const { executor, ran } = recordingExecutor();
    const { runRemediation } = createRemediationActivities({
      servers: new Map([['mx1', server]]),
      remediationExecutor: executor,
      logger: pino({ level: 'silent' }),
    });
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

  test('every command is built from the server config alone', () => {
    const commands = [...REMEDIATION_CATALOG.values()].map((action) => ({
      id: action.id,
      risk: action.risk,
      alreadyApplied: action.alreadyApplied(server),
      commands: action.commands(server, '20260101T000000Z'),
    }));
    expect(commands).toEqual([
      {
        id: 'start-postfix',
        risk: 'low',
        alreadyApplied: [['postfix', '-c', '/etc/postfix', 'status']],
        commands: [
          ['postfix', '-c', '/etc/postfix', 'check'],
          ['postfix', '-c', '/etc/postfix', 'start'],
        ],
      },
      {
        id: 'restart-postfix',
        risk: 'medium',
        alreadyApplied: [],
        commands: [
          ['postfix', '-c', '/etc/postfix', 'check'],
          ['postfix', '-c', '/etc/postfix', 'stop'],
          ['postfix', '-c', '/etc/postfix', 'start'],
        ],
      },
      {
        id: 'restore-postfix-config',
        risk: 'medium',
        alreadyApplied: [
          ['cmp', '-s', '/var/lib/mailmend/known-good/postfix/main.cf', '/etc/postfix/main.cf'],
          ['cmp', '-s', '/var/lib/mailmend/known-good/postfix/master.cf', '/etc/postfix/master.cf'],
          ['postfix', '-c', '/etc/postfix', 'status'],
        ],
        commands: [
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
        risk: 'low',
        alreadyApplied: [['doveadm', '-c', '/etc/dovecot/dovecot.conf', 'process', 'status']],
        commands: [
          ['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n'],
          ['dovecot', '-c', '/etc/dovecot/dovecot.conf'],
        ],
      },
      {
        id: 'restart-dovecot',
        risk: 'medium',
        alreadyApplied: [],
        commands: [
          ['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n'],
          ['doveadm', '-c', '/etc/dovecot/dovecot.conf', 'reload'],
        ],
      },
      {
        id: 'flush-postfix-queue',
        risk: 'low',
        alreadyApplied: [],
        commands: [['postqueue', '-c', '/etc/postfix', '-f']],
      },
    ]);
  });
});
