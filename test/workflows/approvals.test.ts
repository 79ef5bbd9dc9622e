import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import {
  approveSignal,
  approveUpdate,
  confirmUpdate,
  type Hypothesis,
  type IncidentPolicies,
} from '../../workflows/messages';
import { createFakeActivities, type FakeActivityOptions } from '../support/fake-activities';
import { raiseTestIncident, refusalOf, testInput, waitForState } from '../support/incidents';
import { createTimeSkippingEnvironment, uniqueServerId, workflowBundle } from '../support/temporal';

/** M-of-N approvals on the time-skipping test server: the approval wait's timers run at their real durations. */
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTimeSkippingEnvironment();
});

afterAll(async () => {
  await env?.teardown();
});

const TWO_FOR_HIGH_RISK: Partial<IncidentPolicies> = {
  approvalTimeoutMs: 15 * 60_000,
  approvalsRequired: { low: 1, medium: 1, high: 2 },
};

async function runIncident(
  fakeOptions: FakeActivityOptions,
  policies: Partial<IncidentPolicies>,
  body: (
    handle: Awaited<ReturnType<typeof raiseTestIncident>>,
    fakes: ReturnType<typeof createFakeActivities>,
  ) => Promise<void>,
): Promise<void> {
  const taskQueue = `approvals-${randomUUID()}`;
  const fakes = createFakeActivities(fakeOptions);
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fakes.activities,
  });
  await worker.runUntil(async () => {
    const handle = await raiseTestIncident(env.client, taskQueue, testInput(uniqueServerId('mx'), policies));
    try {
      await body(handle, fakes);
    } finally {
      await handle.terminate('test finished').catch(() => undefined);
    }
  });
}

const approveAs = (handle: Awaited<ReturnType<typeof raiseTestIncident>>, by: string, actionId?: string) =>
  handle.executeUpdate(approveUpdate, { args: [{ by, ...(actionId !== undefined ? { actionId } : {}) }] });

describe('M-of-N approvals (time-skipping)', () => {
  test('a high-risk fix with two approvers required waits for a second, distinct approver', async () => {
    const fakeOptions = { recommendedAction: 'restart-postfix', recommendedRisk: 'high' as const };
    await runIncident(fakeOptions, TWO_FOR_HIGH_RISK, async (handle, fakes) => {
      const awaiting = await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      expect(awaiting.pendingApproval).toMatchObject({ actionId: 'restart-postfix', required: 2, approvedBy: [] });

      const first = await approveAs(handle, 'alice');
      expect(first).toEqual({
        decision: 'approval-recorded',
        by: 'alice',
        actionId: 'restart-postfix',
        approvals: ['alice'],
        required: 2,
      });
      await env.sleep('5m');
      const afterOne = await waitForState(handle, () => true);
      expect(afterOne.phase).toBe('awaiting-approval');
      expect(afterOne.pendingApproval).toMatchObject({ required: 2, approvedBy: ['alice'] });
      expect(fakes.remediations).toEqual([]);

      expect(await refusalOf(approveAs(handle, 'alice'))).toBe(
        'alice has already approved restart-postfix: it needs 2 distinct approvers (1 so far)',
      );
      // The signal path, as the Temporal UI sends it, records the repeat and ignores it.
      await handle.signal(approveSignal, { by: 'alice' });
      const ignored = await waitForState(handle, (state) =>
        state.timeline.some((entry) => entry.event === 'approve ignored' && entry.actor === 'alice'),
      );
      expect(ignored.pendingApproval?.approvedBy).toEqual(['alice']);

      // The approval-timeout escalation still asks the IT team for the missing approval.
      await env.sleep('10m');
      await waitForState(handle, (state) => state.pendingApproval?.escalatedAt !== undefined);
      const escalation = fakes.notifications.find(
        (sent) => sent.audience === 'itTeam' && sent.message.kind === 'escalation',
      );
      expect(escalation?.message.actionNeeded).toEqual({
        kind: 'approve',
        actionId: 'restart-postfix',
        description: 'Start Postfix',
        risk: 'high',
        required: 2,
        approvedBy: ['alice'],
      });

      const second = await approveAs(handle, 'bob');
      expect(second).toEqual({ decision: 'approved', by: 'bob', actionId: 'restart-postfix' });
      const verifying = await waitForState(handle, (state) => state.phase === 'verification' && !!state.roundTrip);
      expect(verifying.approvedBy).toBe('bob');
      expect(fakes.remediations).toEqual(['restart-postfix']);
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'alice' }] });
      await handle.executeUpdate(confirmUpdate, { args: [{ by: 'bob' }] });
      expect((await handle.result()).outcome).toBe('closed');
    });
  });

  test('a low-risk fix still runs on one approval', async () => {
    await runIncident({}, TWO_FOR_HIGH_RISK, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      expect(await approveAs(handle, 'alice')).toEqual({
        decision: 'approved',
        by: 'alice',
        actionId: 'start-postfix',
      });
      await waitForState(handle, (state) => state.phase === 'verification');
      expect(fakes.remediations).toEqual(['start-postfix']);
    });
  });

  test('whoever asks for another offered action cannot approve it too: it needs approvals from others', async () => {
    const alternative: Hypothesis = {
      cause: 'The queue directory is not writable by Postfix',
      failureClass: 'permissions',
      source: 'test',
      evidenceFor: ['queue file write error'],
      evidenceAgainst: [],
      confidence: 0.4,
      actionId: 'postfix-set-permissions',
    };
    const recommended: Hypothesis = { ...alternative, cause: 'Postfix is not running', actionId: 'start-postfix' };
    await runIncident({ hypotheses: [recommended, alternative] }, {}, async (handle, fakes) => {
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');

      const request = await approveAs(handle, 'alice', 'postfix-set-permissions');
      expect(request).toEqual({
        decision: 'approval-recorded',
        by: 'alice',
        actionId: 'postfix-set-permissions',
        approvals: [],
        required: 1,
      });
      expect(await refusalOf(approveAs(handle, 'alice', 'postfix-set-permissions'))).toBe(
        'alice asked for postfix-set-permissions instead of the recommended start-postfix, so their own approval ' +
          'does not count: it needs 1 approval(s) from other approvers (0 so far)',
      );
      const pending = await waitForState(handle, () => true);
      expect(pending.pendingApproval?.requests).toEqual([
        { actionId: 'postfix-set-permissions', requestedBy: 'alice', approvedBy: [] },
      ]);
      expect(fakes.remediations).toEqual([]);

      const approved = await approveAs(handle, 'bob', 'postfix-set-permissions');
      expect(approved).toEqual({ decision: 'approved', by: 'bob', actionId: 'postfix-set-permissions' });
      await waitForState(handle, (state) => state.phase === 'verification');
      expect(fakes.remediations).toEqual(['postfix-set-permissions']);
    });
  });
});
