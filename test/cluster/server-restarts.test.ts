import type { Client } from '@temporalio/client';
import { approve, confirm } from '../../client/incidents';
import {
  clusterProcessPid,
  restartPostgresql,
  restartTemporalServer,
  taskQueuePollers,
  withClusterClient,
} from '../../cluster';
import { labBreak } from '../../lab';
import { isProcessAlive, waitUntil } from '../../lab/processes';
import type { mailOutageIncident } from '../../workflows';
import { incidentWorkflowId, type IncidentState } from '../../workflows/messages';
import {
  clusterWorkers,
  postfixMasterPid,
  waitForHealthyWebhooks,
  waitForIncident,
  workflowTaskTrouble,
  type ClusterWorker,
} from '../support/cluster-failover';
import { expectNoIncidentEndedBadly, NO_BAD_INCIDENT_ENDS } from '../support/incident-outcomes';
import { report, startTestCluster, type TestCluster } from '../support/test-cluster';

const WEBHOOK_A = 0;
const WEBHOOK_B = 1;
const DIAGNOSIS_WAIT_MS = 150_000;
const FIX_WAIT_MS = 180_000;
const RECONNECT_WAIT_MS = 60_000;
const POSTGRESQL_DOWN_MS = 5_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster('server-restarts');
}, 600_000);

afterAll(async () => {
  await cluster?.close();
}, 180_000);

function incidentHandle(client: Client) {
  return client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(cluster.serverId));
}

/** Breaks the lab's Postfix and raises the alert on one webhook; resolves once the incident awaits approval. */
async function openIncident(client: Client, webhook: 0 | 1): Promise<IncidentState> {
  await labBreak(cluster.labStateDir, 'postfix-stopped');
  const posted = await cluster.postAlert(webhook, { alertname: 'MailServerDown' });
  expect(posted.status).toBe(202);
  const awaiting = await waitForIncident(
    client,
    cluster.serverId,
    'awaiting approval',
    (state) => state.phase === 'awaiting-approval',
    DIAGNOSIS_WAIT_MS,
  );
  expect({ phase: awaiting.phase, action: awaiting.pendingApproval?.actionId }).toEqual({
    phase: 'awaiting-approval',
    action: 'start-postfix',
  });
  return awaiting;
}

/** Waits for the checks to pass after the fix, confirms as a user would, and waits for the incident to close. */
async function confirmAndClose(client: Client): Promise<IncidentState> {
  const verified = await waitForIncident(
    client,
    cluster.serverId,
    'verified after the fix',
    (state) => state.phase === 'verification' && state.roundTrip !== undefined,
    FIX_WAIT_MS,
  );
  expect({ phase: verified.phase, roundTrip: verified.roundTrip?.ok }).toEqual({
    phase: 'verification',
    roundTrip: true,
  });
  await confirm(client, cluster.serverId, { by: 'carol' });
  const closed = await waitForIncident(client, cluster.serverId, 'closed', () => false, FIX_WAIT_MS);
  expect({ outcome: closed.outcome, remediations: closed.remediations.map((ran) => ran.actionId) }).toEqual({
    outcome: 'closed',
    remediations: ['start-postfix'],
  });
  expect(await postfixMasterPid(cluster.lab)).toBeDefined();
  return closed;
}

/** Waits until both workers poll the mailmend task queue for workflow and activity tasks again; returns how long. */
async function waitForWorkersPolling(client: Client, workers: ClusterWorker[]): Promise<number> {
  const started = Date.now();
  let seen = '';
  await waitUntil(
    'both cluster workers to poll the task queue again',
    async () => {
      const pollers = await taskQueuePollers(client).catch(() => ({
        workflow: [] as string[],
        activity: [] as string[],
      }));
      seen = JSON.stringify(pollers);
      return workers.every(
        ({ identity }) => pollers.workflow.includes(identity) && pollers.activity.includes(identity),
      );
    },
    { timeoutMs: RECONNECT_WAIT_MS, intervalMs: 250, detail: async () => `pollers: ${seen}` },
  );
  return Date.now() - started;
}

async function temporalServerPid(): Promise<number> {
  const pid = await clusterProcessPid(cluster.stateDir, 'temporal');
  if (pid === undefined) throw new Error("the cluster's Temporal server is not running");
  return pid;
}

describe('the cluster survives restarts of its servers mid-incident', () => {
  test('the Temporal server restarted while the incident awaits approval: everyone reconnects, the incident closes', async () => {
    const workers = await clusterWorkers(cluster.stateDir);
    await cluster.withClient(async (client) => {
      await openIncident(client, WEBHOOK_A);
      const oldPid = await temporalServerPid();
      const restartedAt = Date.now();
      const newPid = await restartTemporalServer(cluster.stateDir);
      const restartMs = Date.now() - restartedAt;
      expect(newPid).not.toBe(oldPid);

      const webhooksMs = await waitForHealthyWebhooks(cluster.info.webhookUrls, RECONNECT_WAIT_MS);
      const workersMs = await waitForWorkersPolling(client, workers);
      // The incident's durable state came through the restart: it still waits for the same approval.
      const stillWaiting = await waitForIncident(
        client,
        cluster.serverId,
        'answering after the restart',
        (state) => state.phase === 'awaiting-approval',
        RECONNECT_WAIT_MS,
      );
      expect(stillWaiting.pendingApproval?.actionId).toBe('start-postfix');
      // Each webhook does its work over its reconnected client: B answers the incident's state, A takes an alert.
      const viaB = await cluster.incidentViaWebhook(WEBHOOK_B);
      expect({ status: viaB.status, phase: viaB.state?.phase }).toEqual({ status: 200, phase: 'awaiting-approval' });
      expect((await cluster.postAlert(WEBHOOK_A, { alertname: 'MailServerDown' })).status).toBe(202);

      // An operator's new connection after the restart, as the CLI makes one.
      await withClusterClient(cluster.info.frontendAddress, (fresh) =>
        approve(fresh, cluster.serverId, { by: 'alice' }),
      );
      const closed = await confirmAndClose(client);
      expect(closed.approvedBy).toBe('alice');
      const trouble = await workflowTaskTrouble(incidentHandle(client));
      expect(trouble.failed).toEqual([]);
      report(
        `server-restarts: Temporal server restarted (pid ${oldPid} -> ${newPid}) in ${restartMs} ms; then webhooks ` +
          `healthy in ${webhooksMs} ms, both workers polling in ${workersMs} ms; ` +
          `workflow task timeouts in the run: ${trouble.timedOut}`,
      );
      // Both workers are the ones that ran before the restart: they reconnected, nobody restarted them.
      expect((await clusterWorkers(cluster.stateDir)).map((worker) => worker.pid)).toEqual(
        workers.map((worker) => worker.pid),
      );
    });
  }, 600_000);

  test('PostgreSQL restarted, down for a few seconds, while the fix is verified: the incident closes', async () => {
    const workers = await clusterWorkers(cluster.stateDir);
    await cluster.withClient(async (client) => {
      await openIncident(client, WEBHOOK_B);
      await approve(client, cluster.serverId, { by: 'alice' });
      const verifying = await waitForIncident(
        client,
        cluster.serverId,
        'in verification',
        (state) => state.phase === 'verification',
        FIX_WAIT_MS,
      );
      expect(verifying.phase).toBe('verification');
      const temporalPid = await temporalServerPid();
      const stoppedAt = Date.now();
      await restartPostgresql(cluster.stateDir, POSTGRESQL_DOWN_MS);
      const restartMs = Date.now() - stoppedAt;
      // The Temporal server rode out its database's absence: the same process serves after it.
      expect(isProcessAlive(temporalPid)).toBe(true);
      expect(await temporalServerPid()).toBe(temporalPid);

      const webhooksMs = await waitForHealthyWebhooks(cluster.info.webhookUrls, RECONNECT_WAIT_MS);
      const workersMs = await waitForWorkersPolling(client, workers);
      const closed = await confirmAndClose(client);
      const closedMs = Date.now() - stoppedAt;
      const trouble = await workflowTaskTrouble(incidentHandle(client));
      expect(trouble.failed).toEqual([]);
      report(
        `server-restarts: PostgreSQL down ${POSTGRESQL_DOWN_MS} ms (restart ${restartMs} ms) during verification ` +
          `(round trip ${verifying.roundTrip ? 'done' : 'not yet done'}); webhooks healthy ${webhooksMs} ms and ` +
          `workers polling ${workersMs} ms after; closed ${closedMs} ms after the stop; ` +
          `workflow task timeouts in the run: ${trouble.timedOut}; verification attempts ${closed.verificationAttempts}`,
      );
    });
  }, 600_000);

  test(
    NO_BAD_INCIDENT_ENDS,
    async () => {
      const ends = await cluster.withClient((client) => expectNoIncidentEndedBadly(client, cluster.incidents()));
      expect(ends.length).toBe(2);
    },
    120_000,
  );
});
