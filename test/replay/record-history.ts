import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { connectClient, connectWorker, localTemporalSettings } from '../../platform/temporal/connection';
import { startEmbeddedServer } from '../../platform/temporal/dev-server';
import { resolveTemporalCli } from '../../platform/temporal/cli/resolve';
import { approveSignal, confirmSignal } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { raiseTestIncident, testInput, waitForState } from '../support/incidents';

/**
 * Records the history of one happy-path incident into test/histories, for the replay test. Run it again only when a
 * workflow change is meant to be incompatible (and then put that change behind `patched()` instead, if incidents
 * may be running).
 *
 *   node --import tsx test/replay/record-history.ts [file name in test/histories]
 */
async function main(): Promise<void> {
  const { executable } = await resolveTemporalCli({ env: process.env, onProgress: console.error });
  const server = await startEmbeddedServer({ executable });
  try {
    await recordHappyPath(server.address);
  } finally {
    await server.stop();
  }
}

async function recordHappyPath(address: string): Promise<void> {
  const taskQueue = `record-${randomUUID()}`;
  const workerConnection = await connectWorker(localTemporalSettings(address));
  const { client, close: closeClient } = await connectClient(localTemporalSettings(address));
  const worker = await Worker.create({
    connection: workerConnection,
    taskQueue,
    workflowsPath: require.resolve('../../workflows'),
    activities: createFakeActivities().activities,
  });
  await worker.runUntil(async () => {
    const handle = await raiseTestIncident(client, taskQueue, testInput('mx-recorded'));
    await waitForState(handle, (state) => state.phase === 'awaiting-approval');
    await handle.signal(approveSignal, { by: 'alice' });
    await waitForState(handle, (state) => state.phase === 'verification' && state.verification !== undefined);
    await handle.signal(confirmSignal, { by: 'alice' });
    await handle.signal(confirmSignal, { by: 'bob' });
    await handle.result();
    const history = await handle.fetchHistory();
    const file = path.join(__dirname, '..', 'histories', process.argv[2] ?? 'happy-path.json');
    writeFileSync(file, historyToJSON(history) + '\n');
    console.log(`${history.events?.length ?? 0} history events written to ${file}`);
  });
  await closeClient();
  await workerConnection.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
