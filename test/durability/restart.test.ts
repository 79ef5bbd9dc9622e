import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { mailOutageIncident } from '../../workflows';
import type { TemporalClientConnection } from '../../platform/temporal/connection';
import { startEmbeddedServer, type EmbeddedServer } from '../../platform/temporal/dev-server';
import { approveSignal, confirmSignal, incidentWorkflowId, stateQuery } from '../../workflows/messages';
import { raiseTestIncident, testInput, waitForState } from '../support/incidents';
import { freePort, killProcess, startTsProcess, type RunningProcess } from '../support/processes';
import { testNoIncidentEndedBadly } from '../support/incident-outcomes';
import { connectTestClient, temporalExecutable, uniqueServerId } from '../support/temporal';

const WORKER_ENTRY = 'test/support/worker-process.ts';
const STICKY_QUEUE_RECOVERY_MS = 90_000;

describe('durability', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'mailmend-restart-'));
  const dbFilename = path.join(dataDir, 'temporal.sqlite');
  const taskQueue = `restart-${randomUUID()}`;
  let server: EmbeddedServer | undefined;
  let worker: RunningProcess | undefined;
  let connection: TemporalClientConnection | undefined;

  afterAll(async () => {
    await connection?.close();
    if (worker) await killProcess(worker);
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('an incident survives a killed worker process and a restarted dev server', async () => {
    const port = await freePort();
    const serverId = uniqueServerId('mx-restart');
    const startServer = () => startEmbeddedServer({ executable: temporalExecutable(), dbFilename, port });
    const startWorker = (address: string) =>
      startTsProcess(WORKER_ENTRY, { TEMPORAL_ADDRESS: address, MAILMEND_TASK_QUEUE: taskQueue }, 'worker ready');

    server = await startServer();
    worker = await startWorker(server.address);
    connection = await connectTestClient(server.address);
    const handle = await raiseTestIncident(connection.client, taskQueue, testInput(serverId));
    await waitForState(handle, (state) => state.phase === 'awaiting-approval');

    await killProcess(worker);
    expect(worker.child.signalCode).toBe('SIGKILL');
    worker = await startWorker(server.address);
    await handle.signal(approveSignal, { by: 'alice' });
    // The killed worker still owns the workflow's sticky queue until the server times it out, so allow for that.
    await waitForState(
      handle,
      (state) => state.phase === 'verification' && state.verification?.smtp.ok === true,
      STICKY_QUEUE_RECOVERY_MS,
    );

    await killProcess(worker, 'SIGTERM');
    await connection.close();
    connection = undefined;
    await server.stop();
    server = await startServer();
    worker = await startWorker(server.address);
    connection = await connectTestClient(server.address);

    const restored = connection.client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
    const stateAfterRestart = await restored.query(stateQuery);
    expect(stateAfterRestart.phase).toBe('verification');
    expect(stateAfterRestart.approvedBy).toBe('alice');
    await restored.signal(confirmSignal, { by: 'alice' });
    await restored.signal(confirmSignal, { by: 'bob' });
    const final = await restored.result();
    expect(final.outcome).toBe('closed');
    expect(final.remediations.map((result) => result.actionId)).toEqual(['start-postfix']);
  });

  // Against the restarted server, whose worker still runs: the incident's runs ended as the procedure ends them.
  testNoIncidentEndedBadly(() => {
    if (!connection) throw new Error('the restart test did not get as far as connecting');
    return { client: connection.client, incidents: { taskQueues: [taskQueue] } };
  });
});
