import { Context } from '@temporalio/activity';
import pino from 'pino';
import type { MailmendActivities } from '../../activities';
import { createRemediationActivities, type RemediationExecutor } from '../../activities/remediation';
import { serverSchema } from '../../config/schema';
import { FailureType } from '../../workflows/failure-types';
import { approveUpdate, confirmUpdate } from '../../workflows/messages';
import { activityRuns } from '../support/activity-history';
import type { createFakeActivities } from '../support/fake-activities';
import { runTestIncident } from '../support/incident-runs';
import { waitForState } from '../support/incidents';
import { useSharedTemporal } from '../support/temporal';

const temporal = useSharedTemporal();

/** The remediation group's heartbeat timeout: how long a lost worker's silence lasts before another attempt. */
const HEARTBEAT_TIMEOUT_MS = 20_000;
const TAKEOVER_WAIT_MS = HEARTBEAT_TIMEOUT_MS + 30_000;

type Fakes = ReturnType<typeof createFakeActivities>;

interface FixOnHost {
  actionId: string;
  attempt: number;
  /** The attempt found the effect in place and ran nothing. */
  alreadyApplied: boolean;
}

/**
 * The real runRemediation over a fake host: its first attempt applies the fix, then its worker is lost (it never
 * heartbeats or answers again; only the test worker's shutdown ends it). Like the SSH executor, an idempotent action
 * runs nothing when its effect is already in place.
 */
function fixWhoseFirstWorkerIsLost(fakes: Fakes, ranOnHost: FixOnHost[]): Partial<MailmendActivities> {
  const executor: RemediationExecutor = {
    async runAction(_server, action, onProgress) {
      onProgress();
      const { attempt } = Context.current().info;
      if (action.idempotent && fakes.host.smtpUp) {
        ranOnHost.push({ actionId: action.id, attempt, alreadyApplied: true });
        return { exitCode: 0, output: 'already in effect; nothing was run', alreadyApplied: true };
      }
      ranOnHost.push({ actionId: action.id, attempt, alreadyApplied: false });
      Object.assign(fakes.host, { smtpUp: true, imapUp: true });
      if (attempt === 1) await Context.current().cancelled;
      return { exitCode: 0, output: 'postfix/postfix-script: starting the Postfix mail system', alreadyApplied: false };
    },
  };
  return {
    runRemediation: (input) =>
      createRemediationActivities({
        servers: new Map([[input.context.serverId, serverSchema.parse(testServer(input.context.serverId))]]),
        remediationExecutor: executor,
        logger: pino({ level: 'silent' }),
      }).runRemediation(input),
  };
}

function testServer(id: string) {
  return {
    id,
    smtp: { host: `${id}.example.org`, port: 25 },
    imap: { host: `${id}.example.org`, port: 143 },
    host: {
      postfixConfigDir: '/etc/postfix',
      knownGoodDir: '/var/lib/mailmend/known-good',
      mailDirs: ['/srv/vmail'],
      mailOwner: 'vmail:vmail',
    },
  };
}

describe('a fix whose worker is lost', () => {
  test('an idempotent fix times out on its heartbeat, the next attempt finds it in effect, and the incident closes', async () => {
    const ranOnHost: FixOnHost[] = [];
    await runTestIncident(
      temporal,
      {
        fakes: { recommendedAction: 'start-postfix' },
        activities: (fakes) => fixWhoseFirstWorkerIsLost(fakes, ranOnHost),
      },
      async (handle) => {
        await waitForState(handle, (state) => state.phase === 'awaiting-approval');
        const approvedAt = Date.now();
        await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
        const verifying = await waitForState(
          handle,
          (state) => state.phase === 'verification' && state.roundTrip !== undefined,
          TAKEOVER_WAIT_MS,
        );
        const fixedInMs = Date.now() - approvedAt;
        await handle.executeUpdate(confirmUpdate, { args: [{ by: 'alice' }] });
        await handle.executeUpdate(confirmUpdate, { args: [{ by: 'bob' }] });
        const final = await handle.result();

        expect(final).toMatchObject({ outcome: 'closed', phase: 'closed' });
        expect(verifying.remediations).toEqual([
          expect.objectContaining({ actionId: 'start-postfix', alreadyApplied: true }),
        ]);
        expect(final.timeline.map((entry) => `${entry.event}: ${entry.outcome}`)).toEqual(
          expect.arrayContaining(['ran start-postfix: already in effect, not repeated']),
        );
        expect(ranOnHost).toEqual([
          { actionId: 'start-postfix', attempt: 1, alreadyApplied: false },
          { actionId: 'start-postfix', attempt: 2, alreadyApplied: true },
        ]);
        const [fix, ...others] = await activityRuns(handle, 'runRemediation');
        expect(others).toEqual([]);
        expect(fix?.started).toMatchObject({
          attempt: 2,
          previousAttemptFailure: expect.stringMatching(/^timeout HEARTBEAT/),
        });
        expect(fix?.closed?.kind).toBe('completed');
        // The lost attempt is given up after the heartbeat timeout, not the old minute.
        expect(fixedInMs).toBeGreaterThanOrEqual(HEARTBEAT_TIMEOUT_MS);
        expect(fixedInMs).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 20_000);
      },
    );
  }, 120_000);

  test('a fix that is not idempotent is not run again: the retry is refused and the incident escalates to people', async () => {
    const ranOnHost: FixOnHost[] = [];
    await runTestIncident(
      temporal,
      {
        fakes: { recommendedAction: 'restart-postfix' },
        activities: (fakes) => fixWhoseFirstWorkerIsLost(fakes, ranOnHost),
      },
      async (handle, fakes) => {
        await waitForState(handle, (state) => state.phase === 'awaiting-approval');
        await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
        const final = await handle.result();

        expect(final).toMatchObject({ outcome: 'escalated', phase: 'escalated', remediations: [] });
        expect(final.outcomeReason).toBe(
          'the first attempt of remediation restart-postfix did not finish: "restart-postfix" is not idempotent and ' +
            'attempt 1 may already have run it; it is not retried; a person must check the host',
        );
        expect(ranOnHost).toEqual([{ actionId: 'restart-postfix', attempt: 1, alreadyApplied: false }]);
        const [fix] = await activityRuns(handle, 'runRemediation');
        expect(fix?.started).toMatchObject({
          attempt: 2,
          previousAttemptFailure: expect.stringMatching(/^timeout HEARTBEAT/),
        });
        expect(fix?.closed).toMatchObject({
          kind: 'failed',
          failure: expect.stringContaining(FailureType.RemediationNotRetried),
        });
        const escalations = fakes.notifications.filter((sent) => sent.message.kind === 'escalation');
        expect(escalations.map((sent) => `${sent.audience}/${sent.channel}`).sort()).toEqual([
          'itTeam/ops-chat',
          'itTeam/ops-mail',
          'management/mgmt-mail',
        ]);
        expect(escalations.map((sent) => sent.message.escalation)).toEqual(Array(3).fill('remediation-interrupted'));
        // Escalated at once: the host was not probed again after the assessment.
        expect(fakes.probes).toHaveLength(1);
      },
    );
  }, 120_000);
});
