import { randomUUID } from 'node:crypto';
import type { IncidentPolicies } from '../../workflows/messages';
import { createFakeActivities, type FakeActivityOptions } from './fake-activities';
import { raiseTestIncident, testInput } from './incidents';
import { uniqueServerId, withWorker, type SharedTemporal } from './temporal';

export type IncidentHandle = Awaited<ReturnType<typeof raiseTestIncident>>;
type Fakes = ReturnType<typeof createFakeActivities>;

/**
 * Raises one incident on the shared dev server, with a worker running fake activities on a queue of its own, runs
 * `body` against it, and terminates the incident after the test if it is still open.
 */
export async function runTestIncident(
  temporal: SharedTemporal,
  setup: { fakes?: FakeActivityOptions; policies?: Partial<IncidentPolicies> },
  body: (handle: IncidentHandle, fakes: Fakes) => Promise<void>,
): Promise<void> {
  const serverId = uniqueServerId('mx');
  const taskQueue = `incident-${randomUUID()}`;
  const fakes = createFakeActivities(setup.fakes);
  temporal.terminateAfterTest(`incident-${serverId}`);
  await withWorker(temporal.workerConnection, taskQueue, fakes.activities, async () => {
    const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(serverId, setup.policies));
    await body(handle, fakes);
  });
}
