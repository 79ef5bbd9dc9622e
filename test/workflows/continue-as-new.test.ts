import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { approve, confirm } from '../../client/incidents';
import { incidentInputFor } from '../../config/incident-input';
import { parseConfig } from '../../config/load';
import type { SendNotificationInput } from '../../workflows/activity-contract';
import {
  alertsSignal,
  incidentWorkflowId,
  noteSignal,
  setEtaSignal,
  type AlertPayload,
  type IncidentInput,
  type IncidentState,
} from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { raiseTestIncident, waitForState } from '../support/incidents';
import { createTimeSkippingEnvironment, uniqueServerId, workflowBundle } from '../support/temporal';

/**
 * A days-long incident with hourly resends, notes and ETA updates, on the time-skipping test server: each run
 * continues as new before its history nears Temporal's limits, and the next run carries the state, the pending
 * approval, the confirmations and the clocks, so the incident stays approvable.
 */
let env: TestWorkflowEnvironment;

beforeAll(async () => {
  env = await createTimeSkippingEnvironment();
});

afterAll(async () => {
  await env?.teardown();
});

/** The input `npm start` builds from a config that sets no policies: 15 m approval, 30 m confirmations and updates. */
function defaultInput(serverId: string): IncidentInput {
  const channel = (name: string) => ({ channels: [{ name, type: 'email', to: [`${name}@example.test`] }] });
  const { config } = parseConfig(
    {
      servers: [{ id: serverId, smtp: { host: '127.0.0.1', port: 25 }, imap: { host: '127.0.0.1', port: 143 } }],
      fallbackRelay: { host: '127.0.0.1', port: 25, from: 'mailmend@example.test' },
      audiences: { itTeam: channel('ops'), management: channel('mgmt'), users: channel('users') },
      approvers: ['alice', 'bob'],
    },
    'continue-as-new.test',
    {},
    process.cwd(),
  );
  return incidentInputFor(config, serverId);
}

/**
 * Runs the body with a worker on its own queue. An incident a failed test leaves open is terminated: with no worker
 * left to take its tasks, it would stop the test server from skipping time for the next test.
 */
async function withTimeSkippingWorker(
  body: (run: { taskQueue: string; notifications: SendNotificationInput[]; opened: string[] }) => Promise<void>,
): Promise<void> {
  const taskQueue = `continue-as-new-${randomUUID()}`;
  const fakes = createFakeActivities();
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fakes.activities,
  });
  const opened: string[] = [];
  try {
    await worker.runUntil(body({ taskQueue, notifications: fakes.notifications, opened }));
  } finally {
    for (const workflowId of opened) {
      await env.client.workflow
        .getHandle(workflowId)
        .terminate('test finished')
        .catch(() => undefined);
    }
  }
}

function resend(hour: number): AlertPayload {
  return {
    source: 'alertmanager',
    status: 'firing',
    alertName: 'MailServerDown',
    fingerprint: 'f00d',
    labels: { alertname: 'MailServerDown' },
    receivedAt: `resend ${hour}`,
  };
}

/** Every run of the workflow, first to latest, with the length of its history. */
async function runsOf(client: Client, workflowId: string, firstRunId: string): Promise<number[]> {
  const lengths: number[] = [];
  let runId: string | undefined = firstRunId;
  while (runId) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    lengths.push(events.length);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return lengths;
}

const sent = (notifications: SendNotificationInput[], audience: string, kind: string) =>
  notifications.filter((entry) => entry.audience === audience && entry.message.kind === kind);

describe('a days-long incident (time-skipping)', () => {
  test('three days of hourly resends, notes and ETAs: runs continue as new, and the approval still works', async () => {
    await withTimeSkippingWorker(async ({ taskQueue, notifications, opened }) => {
      const serverId = uniqueServerId('mx');
      const workflowId = incidentWorkflowId(serverId);
      opened.push(workflowId);
      const first = await raiseTestIncident(env.client, taskQueue, defaultInput(serverId));
      await waitForState(first, (state) => state.phase === 'awaiting-approval');
      const handle = env.client.workflow.getHandle(workflowId);

      for (let hour = 1; hour <= 72; hour++) {
        await env.sleep('1h');
        await handle.signal(alertsSignal, { alerts: [resend(hour)] });
        await handle.signal(noteSignal, { by: 'bob', text: `hour ${hour}: vendor still investigating` });
        if (hour % 12 === 0) {
          // Off the quarter-hour, and as a signal, as the UI sends it: an ETA wakes the user-update timer, and the
          // Java test server fails a task that cancels a timer it fired in the same instant; the real server does not.
          await env.sleep(`${hour / 12}m`);
          await handle.signal(setEtaSignal, {
            by: 'alice',
            eta: new Date(Date.now() + 365 * 86_400_000).toISOString(),
          });
        }
      }
      const lastNote = 'hour 72: vendor still investigating';
      const waiting = await waitForState(handle, (state) =>
        state.timeline.some((entry) => entry.event === 'note' && entry.outcome === lastNote),
      );

      const runs = await runsOf(env.client, workflowId, first.signaledRunId);
      expect(runs.length).toBeGreaterThanOrEqual(2);
      expect(Math.max(...runs)).toBeLessThan(2_200);
      expect(waiting.runs).toBe(runs.length);
      expect(waiting.phase).toBe('awaiting-approval');
      expect(waiting.pendingApproval?.actionId).toBe('start-postfix');
      expect(waiting.timeline.slice(0, 2).map((entry) => entry.event)).toEqual([
        'alert firing: MailServerDown',
        'entered assessment',
      ]);
      expect(waiting.timeline.filter((entry) => entry.event === 'continued as new')).toHaveLength(runs.length - 1);
      expect(waiting.alerts).toEqual([
        expect.objectContaining({ alertName: 'MailServerDown', count: 1 }),
        expect.objectContaining({ alertName: 'MailServerDown', fingerprint: 'f00d', count: 72 }),
      ]);
      expect(waiting.alertsReceived).toBe(73);
      // The approval clock carried over: management heard once, the IT team was reminded every 15 minutes since.
      expect(sent(notifications, 'management', 'escalation')).toHaveLength(1);
      const reminders = sent(notifications, 'itTeam', 'reminder').length;
      expect(reminders).toBeGreaterThanOrEqual(72 * 4 - 2);
      expect(reminders).toBeLessThanOrEqual(72 * 4 + 2);
      // Users heard every 30 minutes and after each ETA change, across runs.
      const userUpdates = sent(notifications, 'users', 'update').length;
      expect(userUpdates).toBeGreaterThanOrEqual(144);
      expect(userUpdates).toBeLessThanOrEqual(144 + 6 + 2);

      const receipt = await approve(env.client, serverId, { by: 'alice', comment: 'after three days' });
      expect(receipt).toEqual({ decision: 'approved', by: 'alice', actionId: 'start-postfix' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      await confirm(env.client, serverId, { by: 'alice' });
      await confirm(env.client, serverId, { by: 'bob' });
      const final = await handle.result();
      expect(final.outcome).toBe('closed');
      expect(final.approvedBy).toBe('alice');
    });
  });

  test('a run that continues as new while awaiting confirmations keeps those already given', async () => {
    await withTimeSkippingWorker(async ({ taskQueue, notifications, opened }) => {
      const serverId = uniqueServerId('mx');
      opened.push(incidentWorkflowId(serverId));
      const input = { ...defaultInput(serverId) };
      input.policies = { ...input.policies, historyEventLimit: 150 };
      const first = await raiseTestIncident(env.client, taskQueue, input);
      const handle = env.client.workflow.getHandle(incidentWorkflowId(serverId));
      await waitForState(first, (state) => state.phase === 'awaiting-approval');
      await approve(env.client, serverId, { by: 'bob' });
      await waitForState(handle, (state) => state.phase === 'verification' && state.roundTrip !== undefined);
      await confirm(env.client, serverId, { by: 'alice' });

      await env.sleep('1d');
      const continued = await waitForState(handle, (state) => (state.runs ?? 1) >= 2);
      expect(continued.confirmations.map((confirmation) => confirmation.by)).toEqual(['alice']);
      const reminders = sent(notifications, 'itTeam', 'reminder').length;
      expect(reminders).toBeGreaterThanOrEqual(47);
      expect(reminders).toBeLessThanOrEqual(49);

      await expect(confirm(env.client, serverId, { by: 'alice' })).rejects.toThrow('already confirmed by this person');
      const receipt = await confirm(env.client, serverId, { by: 'bob' });
      expect(receipt).toEqual({ decision: 'confirmed', by: 'bob', confirmations: 2, required: 2 });
      const final: IncidentState = await handle.result();
      expect(final.outcome).toBe('closed');
      expect(final.confirmations.map((confirmation) => confirmation.by)).toEqual(['alice', 'bob']);
    });
  });
});
