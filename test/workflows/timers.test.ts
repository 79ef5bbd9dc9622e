import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { incidentInputFor } from '../../config/incident-input';
import { parseConfig } from '../../config/load';
import type { SendNotificationInput } from '../../workflows/activity-contract';
import { approveSignal, confirmSignal, type IncidentInput } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { raiseTestIncident, waitForState } from '../support/incidents';
import { createTimeSkippingEnvironment, uniqueServerId, workflowBundle } from '../support/temporal';

/**
 * The workflow's durable timers, run against the time-skipping test server with the policies a team gets when its
 * config says nothing: approval times out after 15 m, confirmations after 30 m, users hear an update every 30 m.
 */
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTimeSkippingEnvironment();
});

afterAll(async () => {
  await env?.teardown();
});

const MINUTE = 60_000;

/** The workflow input `npm start` would build from a config that sets no policies, plus any the test names. */
function inputWithDefaultPolicies(serverId: string, policies: Record<string, string> = {}): IncidentInput {
  const channel = (name: string) => ({ channels: [{ name, type: 'email', to: [`${name}@example.test`] }] });
  const { config } = parseConfig(
    {
      servers: [{ id: serverId, smtp: { host: '127.0.0.1', port: 25 }, imap: { host: '127.0.0.1', port: 143 } }],
      fallbackRelay: { host: '127.0.0.1', port: 25, from: 'mailmend@example.test' },
      audiences: { itTeam: channel('ops'), management: channel('mgmt'), users: channel('users') },
      approvers: ['alice', 'bob'],
      policies,
    },
    'timers.test',
    {},
    process.cwd(),
  );
  return incidentInputFor(config, serverId);
}

async function withTimeSkippingWorker(
  body: (run: { taskQueue: string; notifications: SendNotificationInput[] }) => Promise<void>,
): Promise<void> {
  const taskQueue = `timers-${randomUUID()}`;
  const fakes = createFakeActivities();
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fakes.activities,
  });
  await worker.runUntil(body({ taskQueue, notifications: fakes.notifications }));
}

function sent(notifications: SendNotificationInput[], audience: string, kind: string): SendNotificationInput[] {
  return notifications.filter((entry) => entry.audience === audience && entry.message.kind === kind);
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('durable timers with the default policies (time-skipping)', () => {
  test('the default policies are the documented 15 m, 30 m and 30 m', () => {
    const { policies } = inputWithDefaultPolicies('mx-defaults');
    expect(policies).toMatchObject({
      approvalTimeoutMs: 15 * MINUTE,
      confirmationTimeoutMs: 30 * MINUTE,
      updateIntervalMs: 30 * MINUTE,
    });
    expect(policies.initialEtaMs).toBeUndefined();
  });

  test('approval: management hears at 15 m, the IT team is reminded at 30 m, and a late approval still runs the fix', async () => {
    await withTimeSkippingWorker(async ({ taskQueue, notifications }) => {
      const handle = await raiseTestIncident(env.client, taskQueue, inputWithDefaultPolicies(uniqueServerId('mx')));
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');

      await env.sleep('14m');
      expect((await waitForState(handle, () => true)).pendingApproval?.escalatedAt).toBeUndefined();
      expect(sent(notifications, 'management', 'escalation')).toHaveLength(0);

      await env.sleep('1m');
      const escalated = await waitForState(handle, (state) => state.pendingApproval?.escalatedAt !== undefined);
      expect(escalated.phase).toBe('awaiting-approval');
      await until(() => sent(notifications, 'management', 'escalation').length === 1, 'the escalation to management');
      expect(sent(notifications, 'itTeam', 'reminder')).toHaveLength(0);

      await env.sleep('15m');
      await until(() => sent(notifications, 'itTeam', 'reminder').length === 1, 'the second-timeout reminder');
      expect(sent(notifications, 'itTeam', 'reminder')[0]?.message.reason).toBe('the fix still awaits approval');
      expect(sent(notifications, 'management', 'escalation')).toHaveLength(1);

      await handle.signal(approveSignal, { by: 'alice' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.verification !== undefined);
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'bob' });
      expect((await handle.result()).outcome).toBe('closed');
    });
  });

  test('users hear an update every 30 m while the incident is open, and none after it closes', async () => {
    await withTimeSkippingWorker(async ({ taskQueue, notifications }) => {
      const handle = await raiseTestIncident(env.client, taskQueue, inputWithDefaultPolicies(uniqueServerId('mx')));
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      expect(sent(notifications, 'users', 'update')).toHaveLength(0);

      await env.sleep('30m');
      await until(() => sent(notifications, 'users', 'update').length === 1, 'the first user update');
      await env.sleep('30m');
      await until(() => sent(notifications, 'users', 'update').length === 2, 'the second user update');

      await handle.signal(approveSignal, { by: 'bob' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.verification !== undefined);
      await handle.signal(confirmSignal, { by: 'alice' });
      await handle.signal(confirmSignal, { by: 'bob' });
      await handle.result();
      const updatesAtClose = sent(notifications, 'users', 'update').length;
      await env.sleep('2h');
      expect(sent(notifications, 'users', 'update')).toHaveLength(updatesAtClose);
    });
  });

  test('confirmation: the IT team is reminded every 30 m until enough people confirm', async () => {
    await withTimeSkippingWorker(async ({ taskQueue, notifications }) => {
      const handle = await raiseTestIncident(env.client, taskQueue, inputWithDefaultPolicies(uniqueServerId('mx')));
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
      await handle.signal(approveSignal, { by: 'alice' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.verification !== undefined);
      await handle.signal(confirmSignal, { by: 'alice' });

      await env.sleep('29m');
      expect(sent(notifications, 'itTeam', 'reminder')).toHaveLength(0);
      await env.sleep('1m');
      await until(() => sent(notifications, 'itTeam', 'reminder').length === 1, 'the confirmation reminder');
      expect(sent(notifications, 'itTeam', 'reminder')[0]?.message.reason).toBe(
        'the fix awaits confirmation by the team',
      );
      await env.sleep('30m');
      await until(() => sent(notifications, 'itTeam', 'reminder').length === 2, 'the second confirmation reminder');
      const reminded = await waitForState(handle, () => true);
      expect(reminded.phase).toBe('verification');
      expect(reminded.confirmations.map((confirmation) => confirmation.by)).toEqual(['alice']);

      await handle.signal(confirmSignal, { by: 'bob' });
      expect((await handle.result()).outcome).toBe('closed');
    });
  });

  test('initialEta: the first notice to users carries an ETA that far after the incident opened', async () => {
    await withTimeSkippingWorker(async ({ taskQueue, notifications }) => {
      const input = inputWithDefaultPolicies(uniqueServerId('mx'), { initialEta: '2h' });
      expect(input.policies.initialEtaMs).toBe(120 * MINUTE);
      const handle = await raiseTestIncident(env.client, taskQueue, input);
      const notified = await waitForState(handle, (state) => state.phase === 'awaiting-approval');

      const eta = Date.parse(notified.eta ?? '');
      const opened = Date.parse(notified.openedAt);
      expect(eta - opened).toBeGreaterThanOrEqual(120 * MINUTE);
      expect(eta - opened).toBeLessThan(121 * MINUTE);
      const outageNotice = sent(notifications, 'users', 'outage')[0];
      expect(outageNotice?.message.eta).toBe(notified.eta);
      expect(notified.timeline.some((entry) => entry.event === 'set the initial ETA from policy')).toBe(true);

      await handle.terminate('timer test done');
    });
  });
});
