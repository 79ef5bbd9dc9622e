import { randomUUID } from 'node:crypto';
import type { MailmendActivities } from '../../activities';
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
  setup: {
    fakes?: FakeActivityOptions;
    policies?: Partial<IncidentPolicies>;
    /** Activities that replace the fakes' own, e.g. one that fails or hangs; built from the fakes to wrap them. */
    activities?: Partial<MailmendActivities> | ((fakes: Fakes) => Partial<MailmendActivities>);
  },
  body: (handle: IncidentHandle, fakes: Fakes) => Promise<void>,
): Promise<void> {
  const serverId = uniqueServerId('mx');
  const taskQueue = `incident-${randomUUID()}`;
  const fakes = createFakeActivities(setup.fakes);
  temporal.terminateAfterTest(`incident-${serverId}`);
  const replaced = typeof setup.activities === 'function' ? setup.activities(fakes) : setup.activities;
  const activities = { ...fakes.activities, ...replaced };
  await withWorker(temporal.workerConnection, taskQueue, activities, async () => {
    const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(serverId, setup.policies));
    await body(handle, fakes);
  });
}
