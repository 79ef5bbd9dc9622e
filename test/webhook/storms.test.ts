import { runCli, type CliDeps } from '../../client/cli/program';
import type { AcceptedAlert } from '../../client/webhook/server';
import { createMailmendMetrics } from '../../platform/metrics';
import { incidentWorkflowId, type IncidentState } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { waitForState } from '../support/incidents';
import { useSharedTemporal, withWorker } from '../support/temporal';
import { closeOpenApps, harness, postJson, serverOf, type Answer } from './harness';
import { alertBatchesOf, alertmanagerBody, signalsOf } from './support';

const temporal = useSharedTemporal();
afterEach(closeOpenApps);

/** Runs the calls with at most `concurrency` in flight, as a sender with that many connections would. */
async function inParallel<T>(count: number, concurrency: number, call: (index: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await call(index);
      }
    }),
  );
  return results;
}

async function mailmendCli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    connect: async () => ({ client: temporal.client, address: 'shared-dev-server', close: async () => undefined }),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  };
  const code = await runCli(argv, deps);
  return { code, stdout, stderr };
}

describe('alert storms and large batches', () => {
  test('10,000 alerts for one server (20 alerts resent and flapping) cost a few signals; the incident stays approvable', async () => {
    const metrics = createMailmendMetrics();
    const h = await harness(temporal, { metrics });
    const serverId = serverOf(h);
    const distinctAlerts = 20;
    const posts = 500;
    await withWorker(temporal.workerConnection, h.taskQueue, createFakeActivities().activities, async () => {
      const answers = await inParallel(posts, 50, (round) =>
        postJson(
          h,
          '/alerts/alertmanager',
          alertmanagerBody(
            Array.from({ length: distinctAlerts }, (_, index) => ({
              status: (round + index) % 7 === 0 && round > 0 ? ('resolved' as const) : ('firing' as const),
              labels: { server: serverId, alertname: `Alert${index}` },
            })),
          ),
        ),
      );

      expect(answers.filter((answer: Answer) => answer.statusCode !== 202)).toEqual([]);
      const workflowId = incidentWorkflowId(serverId);
      const signals = await signalsOf(temporal.client, workflowId);
      // One signal per distinct alert and status at most, however many copies arrived.
      expect(signals.length).toBeLessThanOrEqual(distinctAlerts * 2);
      const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
      expect(history.events?.length).toBeLessThan(500);
      const received = await metrics.alertsReceived.get();
      const collapsed = await metrics.alertsCollapsed.get();
      expect(received.values[0]?.value).toBe(posts * distinctAlerts);
      // Every alert counted as signalled is in the history. The history may hold more: a flip collapsed during the
      // storm is signalled once the lane settles (5 s), which a storm slowed by a busy machine outlasts.
      const signalled = posts * distinctAlerts - (collapsed.values[0]?.value ?? 0);
      const inHistory = (await alertBatchesOf(temporal.client, workflowId)).flat().length;
      expect(signalled).toBeGreaterThan(0);
      expect(inHistory - signalled).toBeGreaterThanOrEqual(0);
      expect(inHistory - signalled).toBeLessThanOrEqual(distinctAlerts * 2);

      // Concurrent posts arrive in any order, so one last post says how things stand. Flips collapsed during the
      // storm are settled a few seconds later: each alert's record then shows the status it last arrived with.
      const lastStatus = (index: number) => (index % 3 === 0 ? ('resolved' as const) : ('firing' as const));
      const last = await postJson(
        h,
        '/alerts/alertmanager',
        alertmanagerBody(
          Array.from({ length: distinctAlerts }, (_, index) => ({
            status: lastStatus(index),
            labels: { server: serverId, alertname: `Alert${index}` },
          })),
        ),
      );
      expect(last.statusCode).toBe(202);
      const expected = Array.from({ length: distinctAlerts }, (_, index) => `Alert${index} ${lastStatus(index)}`);
      const handle = temporal.client.workflow.getHandle(workflowId);
      const describe = (state: IncidentState) =>
        state.alerts.map((record) => `${record.alertName} ${record.status}`).sort();
      const waiting = await waitForState(
        handle,
        (state) => state.phase === 'awaiting-approval' && describe(state).join() === [...expected].sort().join(),
        20_000,
      );
      expect(waiting.alerts).toHaveLength(distinctAlerts);
      const approved = await mailmendCli('incidents', 'approve', serverId, '--by', 'alice');
      expect(approved).toEqual({
        code: 0,
        stdout: `alice approved start-postfix on the incident on ${serverId}; the fix runs now\n`,
        stderr: '',
      });
    });
  });

  test('one Alertmanager batch of 1,000 alerts for one server is answered 202 within its deadline, in order', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);
    const body = alertmanagerBody(Array.from({ length: 1_000 }, () => ({ labels: { server: serverId } })));

    const answer = await postJson(h, '/alerts/alertmanager', body);

    // Past the webhook's deadline (5 s) the answer would be 503.
    expect(answer.statusCode).toBe(202);
    expect(answer.json<{ accepted: AcceptedAlert[] }>().accepted).toHaveLength(1_000);
    const batches = await alertBatchesOf(temporal.client, incidentWorkflowId(serverId));
    expect(batches.length).toBeLessThanOrEqual(10);
    expect(batches.flat().map((alert) => alert.fingerprint)).toEqual(body.alerts.map((alert) => alert.fingerprint));
  });

  test('a retried batch signals only the alerts it had not delivered', async () => {
    const h = await harness(temporal);
    const serverId = serverOf(h);
    const three = alertmanagerBody([1, 2, 3].map(() => ({ labels: { server: serverId } })));
    const four = alertmanagerBody([1, 2, 3, 4].map(() => ({ labels: { server: serverId } })));

    const first = await postJson(h, '/alerts/alertmanager', three);
    const retried = await postJson(h, '/alerts/alertmanager', four);

    expect([first.statusCode, retried.statusCode]).toEqual([202, 202]);
    expect(retried.json<{ accepted: AcceptedAlert[] }>().accepted.map((item) => item.collapsed ?? false)).toEqual([
      true,
      true,
      true,
      false,
    ]);
    const batches = await alertBatchesOf(temporal.client, incidentWorkflowId(serverId));
    expect(batches.map((alerts) => alerts.map((alert) => alert.fingerprint))).toEqual([['fp0', 'fp1', 'fp2'], ['fp3']]);
  });

  test('one alert for each of 200 servers, 20 at a time: every answer is 202 and every server has its incident', async () => {
    const h = await harness(temporal, { servers: 200 });

    const answers = await inParallel(200, 20, (index) =>
      postJson(h, '/alerts/alertmanager', alertmanagerBody([{ labels: { server: serverOf(h, index) } }])),
    );

    expect(answers.map((answer) => answer.statusCode).filter((status) => status !== 202)).toEqual([]);
    const opened = answers.map((answer) => answer.json<{ accepted: AcceptedAlert[] }>().accepted[0]?.workflowId);
    expect(opened).toEqual(h.serverIds.map((serverId) => incidentWorkflowId(serverId)));
  });
});
