import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { alertSignal, type IncidentState } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { raiseTestIncident, testAlert, testInput, waitForState } from '../support/incidents';
import { createTimeSkippingEnvironment, uniqueServerId, workflowBundle } from '../support/temporal';

/**
 * A new alert while a fix awaits approval has the server probed again, at most every five minutes, on the
 * time-skipping test server so the rate limit and the approval deadline run at their real durations.
 */
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTimeSkippingEnvironment();
});

afterAll(async () => {
  await env?.teardown();
});

const entries = (state: IncidentState, event: string) => state.timeline.filter((entry) => entry.event === event);

describe('a later alert rechecks the server (time-skipping)', () => {
  test('same failure: the wait goes on to its deadline; changed failure: a new diagnosis replaces the request', async () => {
    const taskQueue = `reprobe-${randomUUID()}`;
    const fakes = createFakeActivities({
      recommendedActionFor: (probes) => (probes.imap.ok ? 'start-postfix' : 'restart-mail-host'),
    });
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: fakes.activities,
    });
    await worker.runUntil(async () => {
      const input = testInput(uniqueServerId('mx'), { approvalTimeoutMs: 15 * 60_000, updateIntervalMs: 60 * 60_000 });
      const handle = await raiseTestIncident(env.client, taskQueue, input);
      try {
        await waitForState(handle, (state) => state.phase === 'awaiting-approval');
        expect(fakes.probes).toHaveLength(1);

        await handle.signal(alertSignal, testAlert({ alertName: 'ImapSlow', fingerprint: 'a1' }));
        const matched = await waitForState(handle, (state) => entries(state, 're-probed: still matches').length === 1);
        expect(fakes.probes).toHaveLength(2);
        expect(fakes.diagnoses).toHaveLength(1);
        expect(matched.pendingApproval?.actionId).toBe('start-postfix');

        // The re-probe left the approval deadline where it was: management hears at 15 minutes.
        await env.sleep('14m');
        expect((await waitForState(handle, () => true)).pendingApproval?.escalatedAt).toBeUndefined();
        await env.sleep('1m');
        const escalated = await waitForState(handle, (state) => state.pendingApproval?.escalatedAt !== undefined);
        const matchedEscalation = escalated.pendingApproval?.escalatedAt;

        fakes.host.imapUp = false;
        for (let alert = 1; alert <= 10; alert++) {
          await handle.signal(alertSignal, testAlert({ alertName: `Storm${alert}`, fingerprint: `s${alert}` }));
        }
        const replaced = await waitForState(
          handle,
          (state) => state.phase === 'awaiting-approval' && state.pendingApproval?.actionId === 'restart-mail-host',
        );
        expect(entries(replaced, 're-probed: the server changed')[0]?.outcome).toBe(
          'failing before: smtp, tcp; now: imap, smtp, tcp',
        );
        expect(replaced.pendingApproval?.approvedBy).toEqual([]);
        // The new request keeps the old one's escalation and deadline, so flapping alerts cannot put them off.
        expect(replaced.pendingApproval?.escalatedAt).toBe(matchedEscalation);
        expect(fakes.diagnoses).toHaveLength(2);
        expect(fakes.probes).toHaveLength(3);
        const toldOfNewAction = () =>
          fakes.notifications.filter(
            (sent) =>
              sent.audience === 'itTeam' &&
              sent.message.actionNeeded?.kind === 'approve' &&
              sent.message.actionNeeded.actionId === 'restart-mail-host',
          );
        await waitForState(handle, () => toldOfNewAction().length === 2);
        expect(toldOfNewAction()[0]?.message).toMatchObject({
          kind: 'update',
          rootCause: 'Neither SMTP nor IMAP answers: the mail host is down',
          actionNeeded: { approvedBy: [] },
        });

        // Another storm within five minutes waits for the rate limit, then costs one probe.
        for (let alert = 11; alert <= 20; alert++) {
          await handle.signal(alertSignal, testAlert({ alertName: `Storm${alert}`, fingerprint: `s${alert}` }));
        }
        await env.sleep('4m');
        expect(fakes.probes).toHaveLength(3);
        await env.sleep('1m');
        const rechecked = await waitForState(
          handle,
          (state) => entries(state, 're-probed: still matches').length === 2,
        );
        expect(fakes.probes).toHaveLength(4);
        expect(rechecked.pendingApproval?.actionId).toBe('restart-mail-host');
      } finally {
        await handle.terminate('test finished').catch(() => undefined);
      }
    });
  });

  test('an alert held back by the rate limit past the approval deadline neither spins nor delays the escalation', async () => {
    const taskQueue = `reprobe-deadline-${randomUUID()}`;
    const fakes = createFakeActivities();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: fakes.activities,
    });
    await worker.runUntil(async () => {
      const input = testInput(uniqueServerId('mx'), { approvalTimeoutMs: 3 * 60_000, updateIntervalMs: 60 * 60_000 });
      const handle = await raiseTestIncident(env.client, taskQueue, input);
      try {
        await waitForState(handle, (state) => state.phase === 'awaiting-approval');
        await handle.signal(alertSignal, testAlert({ alertName: 'First', fingerprint: 'f1' }));
        await waitForState(handle, (state) => entries(state, 're-probed: still matches').length === 1);
        // Held back until five minutes after the first re-probe, which is after the three-minute approval deadline.
        await handle.signal(alertSignal, testAlert({ alertName: 'Second', fingerprint: 'f2' }));

        await env.sleep('3m');
        const escalated = await waitForState(handle, (state) => state.pendingApproval?.escalatedAt !== undefined);
        expect(entries(escalated, 're-probed: still matches')).toHaveLength(1);
        await env.sleep('2m');
        const rechecked = await waitForState(
          handle,
          (state) => entries(state, 're-probed: still matches').length === 2,
        );
        expect(rechecked.phase).toBe('awaiting-approval');
        expect(fakes.probes).toHaveLength(3);
      } finally {
        await handle.terminate('test finished').catch(() => undefined);
      }
    });
  });
});
