import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { MailmendActivities } from '../../activities';
import { SshHandshakeTimeoutError } from '../../activities/ssh';
import type { SendNotificationInput } from '../../workflows/activity-contract';
import { approveUpdate, type Diagnosis, type IncidentState, type ProbeReport } from '../../workflows/messages';
import { runTestIncident } from '../support/incident-runs';
import { phasesVisited, waitForState } from '../support/incidents';
import { useSharedTemporal } from '../support/temporal';

const temporal = useSharedTemporal();

const healthy = (serverId: string): ProbeReport => ({
  serverId,
  checkedAt: new Date().toISOString(),
  tcpSmtp: { ok: true, latencyMs: 2, detail: 'connected' },
  smtp: { ok: true, latencyMs: 2, detail: '220 mail.test ESMTP' },
  imap: { ok: true, latencyMs: 2, detail: '* OK IMAP ready' },
});

const sentTo = (notifications: SendNotificationInput[], kind: string) =>
  notifications
    .filter((sent) => sent.message.kind === kind)
    .map((sent) => `${sent.audience}/${sent.channel}`)
    .sort();

const timelineEvents = (state: IncidentState) => state.timeline.map((entry) => `${entry.event}: ${entry.outcome}`);

/** Every incident below must end as one of the three ends people are told about, never as a failed workflow. */
describe('no failure ends an incident silently', () => {
  test('probes that hang past the assessment deadline: an outage of unknown scope, everyone told, then a hand-over', async () => {
    const deadlineMs = 3_000;
    const hangingProbes: Partial<MailmendActivities> = {
      probeServer: async () => {
        await Context.current().sleep(120_000);
        throw new Error('unreachable: the deadline ends the attempt first');
      },
    };
    await runTestIncident(
      temporal,
      { policies: { assessmentDeadlineMs: deadlineMs }, activities: hangingProbes },
      async (handle, fakes) => {
        const started = Date.now();
        const final = await handle.result();
        // The deadline, then notices and the review: well under the probe activity's former minute and retries.
        expect(Date.now() - started).toBeLessThan(20_000);
        expect(final).toMatchObject({ outcome: 'escalated', phase: 'escalated', severity: 'major', scope: 'unknown' });
        expect(final.outcomeReason).toMatch(/gave no report within the 3 s deadline/);
        expect(timelineEvents(final)).toEqual(
          expect.arrayContaining([
            expect.stringMatching(/^probed the server: the checks gave no report within the 3 s deadline/),
          ]),
        );
        expect(sentTo(fakes.notifications, 'outage')).toEqual([
          'itTeam/ops-chat',
          'itTeam/ops-mail',
          'management/mgmt-mail',
          'users/users-mail',
        ]);
        const escalations = fakes.notifications.filter((sent) => sent.message.kind === 'escalation');
        expect(escalations.map((sent) => sent.message.escalation)).toEqual(
          expect.arrayContaining(['assessment-incomplete']),
        );
        expect(fakes.reports).toHaveLength(1);
      },
    );
  });

  test('probes that fail outright are no reason to stop: the same unknown-scope outage and hand-over', async () => {
    const failingProbes: Partial<MailmendActivities> = {
      probeServer: async () => {
        throw ApplicationFailure.create({ type: 'ProbeCrashed', message: 'probe worker lost', nonRetryable: true });
      },
    };
    await runTestIncident(temporal, { activities: failingProbes }, async (handle, fakes) => {
      const final = await handle.result();
      expect(final).toMatchObject({ outcome: 'escalated', scope: 'unknown' });
      expect(final.outcomeReason).toMatch(/failed before they could report \(ProbeCrashed: probe worker lost\)/);
      expect(sentTo(fakes.notifications, 'escalation')).toEqual([
        'itTeam/ops-chat',
        'itTeam/ops-mail',
        'management/mgmt-mail',
      ]);
    });
  });

  test('mail answers but the queue could not be checked: no false alarm, people look at the host, users hear nothing', async () => {
    const reason = 'SSH to 10.0.0.5:22 accepted the connection but did not finish its handshake within 10 s';
    const partialProbes: Partial<MailmendActivities> = {
      probeServer: async ({ context }) => ({
        ...healthy(context.serverId),
        unchecked: [{ check: 'deferred-queue', reason }],
      }),
    };
    await runTestIncident(temporal, { activities: partialProbes }, async (handle, fakes) => {
      const final = await handle.result();
      expect(final).toMatchObject({ outcome: 'escalated', severity: 'minor', scope: 'unknown' });
      expect(final.outcomeReason).toContain(`deferred-queue (${reason})`);
      expect(timelineEvents(final)).toEqual(
        expect.arrayContaining([expect.stringContaining(`deferred-queue NOT CHECKED (${reason})`)]),
      );
      expect(fakes.notifications.filter((sent) => sent.audience === 'users')).toEqual([]);
      const toIt = fakes.notifications.find((sent) => sent.audience === 'itTeam' && sent.message.kind === 'escalation');
      expect(toIt?.message).toMatchObject({
        escalation: 'assessment-incomplete',
        reason: expect.stringContaining(reason),
      });
      expect(fakes.diagnoses).toEqual([]);
    });
  });

  test('a diagnosis the workflow cannot use (a bug) becomes a hand-over, not a failed workflow', async () => {
    const malformed: Partial<MailmendActivities> = {
      diagnoseOutage: async () => ({ rootCause: 'half a diagnosis' }) as unknown as Diagnosis,
    };
    await runTestIncident(temporal, { activities: malformed }, async (handle, fakes) => {
      const final = await handle.result();
      expect(final).toMatchObject({ outcome: 'escalated', phase: 'escalated' });
      // The bug surfaces where the half diagnosis is first read, and again wherever the ending reads it.
      expect(final.outcomeReason).toMatch(/Cannot read properties of undefined/);
      const toIt = fakes.notifications.find((sent) => sent.audience === 'itTeam' && sent.message.kind === 'escalation');
      expect(toIt?.message.escalation).toBe('unexpected-failure');
      // The review reads the same half diagnosis, so the timeline says why there is none.
      expect(fakes.reports).toEqual([]);
      expect(timelineEvents(final)).toEqual(
        expect.arrayContaining([expect.stringMatching(/^could not build the review: Cannot read properties/)]),
      );
    });
  });

  test('a report that cannot be written: the incident still ends, the review is kept, people are told', async () => {
    const noReports: Partial<MailmendActivities> = {
      probeServer: async ({ context }) => healthy(context.serverId),
      writeIncidentReport: async () => {
        throw ApplicationFailure.create({
          type: 'ReportUnwritable',
          message: 'EROFS: read-only file system',
          nonRetryable: true,
        });
      },
    };
    await runTestIncident(temporal, { activities: noReports }, async (handle, fakes) => {
      const final = await handle.result();
      expect(final).toMatchObject({ outcome: 'false-alarm', phase: 'false-alarm' });
      expect(final.report).toBeUndefined();
      expect(final.unwrittenReview?.review.rootCause).toMatch(/false alarm/);
      expect(timelineEvents(final)).toEqual(
        expect.arrayContaining([expect.stringMatching(/^could not write the post-incident report: ReportUnwritable/)]),
      );
      expect(sentTo(fakes.notifications, 'escalation')).toEqual([
        'itTeam/ops-chat',
        'itTeam/ops-mail',
        'management/mgmt-mail',
      ]);
    });
  });

  test('a channel that is down: the IT team and management hear it once on theirs, and the procedure goes on', async () => {
    const usersMailDown = (fakes: { activities: MailmendActivities }): Partial<MailmendActivities> => ({
      sendNotification: async (input) => {
        if (input.channel !== 'users-mail') return fakes.activities.sendNotification(input);
        throw ApplicationFailure.create({
          type: 'NotificationRejected',
          message: '554 relay down',
          nonRetryable: true,
        });
      },
    });
    await runTestIncident(temporal, { activities: usersMailDown }, async (handle, fakes) => {
      const state = await waitForState(handle, (current) =>
        current.notifications.some((sent) => sent.kind === 'escalation'),
      );
      await waitForState(handle, (current) => current.phase === 'awaiting-approval');
      const notFailed = fakes.notifications.filter((sent) => sent.channel !== 'users-mail');
      expect(sentTo(notFailed, 'escalation')).toEqual(['itTeam/ops-chat', 'itTeam/ops-mail', 'management/mgmt-mail']);
      const escalation = notFailed.find((sent) => sent.message.kind === 'escalation');
      expect(escalation?.message).toMatchObject({
        escalation: 'notification-failed',
        reason: expect.stringContaining('the outage notice to users via users-mail failed'),
      });
      expect(state.notifications.filter((sent) => !sent.ok).map((sent) => sent.channel)).toEqual(['users-mail']);
    });
  });

  test('a fix whose SSH handshake never finishes hands over at once instead of verifying a host that hangs', async () => {
    const hungSshd: Partial<MailmendActivities> = {
      runRemediation: async () => {
        throw new SshHandshakeTimeoutError('mx:22', 10_000, true, {
          cause: new Error('Timed out while waiting for handshake'),
        });
      },
    };
    await runTestIncident(temporal, { activities: hungSshd }, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
      const final = await handle.result();
      expect(final).toMatchObject({ outcome: 'escalated' });
      expect(final.outcomeReason).toMatch(/did not finish its handshake within 10 s/);
      expect(final.verificationAttempts).toBe(0);
      const toIt = fakes.notifications.find((sent) => sent.audience === 'itTeam' && sent.message.kind === 'escalation');
      expect(toIt?.message.escalation).toBe('host-unreachable');
    });
  });

  test('an incident cancelled in Temporal closes as a person would close it', async () => {
    await runTestIncident(temporal, {}, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.cancel();
      const final = await handle.result();
      expect(final).toMatchObject({ outcome: 'closed', phase: 'closed' });
      expect(final.outcomeReason).toMatch(/cancelled in Temporal/);
      expect(phasesVisited(final).slice(-2)).toEqual(['review', 'closed']);
      expect(sentTo(fakes.notifications, 'closed')).toHaveLength(4);
    });
  });

  test('a cancel while step 1 is still probing closes the incident too, and says so', async () => {
    const slowProbes: Partial<MailmendActivities> = {
      probeServer: async () => {
        await Context.current().sleep(120_000);
        throw new Error('unreachable: the cancel ends the attempt first');
      },
    };
    await runTestIncident(
      temporal,
      { policies: { assessmentDeadlineMs: 60_000 }, activities: slowProbes },
      async (handle, fakes) => {
        await waitForState(handle, (state) => state.phase === 'assessment');
        await handle.cancel();
        const final = await handle.result();
        expect(final).toMatchObject({ outcome: 'closed', phase: 'closed' });
        expect(final.outcomeReason).toMatch(/cancelled in Temporal/);
        expect(timelineEvents(final).join('\n')).not.toMatch(/the checks (gave no report|failed before)/);
        expect(final.notifications.every((sent) => sent.ok)).toBe(true);
        // Nobody was told of an outage yet, so users hear nothing of its end either.
        expect(sentTo(fakes.notifications, 'closed')).toEqual([
          'itTeam/ops-chat',
          'itTeam/ops-mail',
          'management/mgmt-mail',
        ]);
        expect(fakes.reports).toHaveLength(1);
      },
    );
  });
});
