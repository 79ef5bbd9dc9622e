import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { INCIDENT_KEYWORD_ATTRIBUTES, searchAttributeArgs } from '../../platform/temporal/dev-server';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { createFakeActivities } from '../support/fake-activities';
import { raiseTestIncident, testInput, waitForState } from '../support/incidents';
import {
  sharedServerAddress,
  temporalExecutable,
  uniqueServerId,
  useSharedTemporal,
  withWorker,
} from '../support/temporal';

const temporal = useSharedTemporal();
const run = promisify(execFile);

/** The `temporal` binary the shared dev server runs from: the CLI an operator would type the query into. */
function temporalCliPath(): string {
  const executable = temporalExecutable();
  if (executable.type !== 'existing-path') throw new Error('the tests need a resolved Temporal CLI, not a download');
  return executable.path;
}

/** Visibility lags behind the workflow by a moment, so the query is repeated until the workflow shows or time is up. */
async function listUntilFound(query: string, workflowId: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  let output = '';
  while (Date.now() < deadline) {
    const { stdout } = await run(temporalCliPath(), [
      'workflow',
      'list',
      '--address',
      sharedServerAddress(),
      '--query',
      query,
    ]);
    output = stdout;
    if (output.includes(workflowId)) return output;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return output;
}

describe('incident search attributes', () => {
  test('the embedded dev server registers every incident search attribute as a Keyword', () => {
    expect([...INCIDENT_KEYWORD_ATTRIBUTES]).toEqual([...INCIDENT_SEARCH_ATTRIBUTES]);
    expect(searchAttributeArgs()).toEqual(
      INCIDENT_SEARCH_ATTRIBUTES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    );
  });

  test('`temporal workflow list --query "IncidentPhase=\'awaiting-approval\'"` lists an incident awaiting approval', async () => {
    const serverId = uniqueServerId('mx');
    const taskQueue = `search-attributes-${randomUUID()}`;
    const fakes = createFakeActivities();
    await withWorker(temporal.workerConnection, taskQueue, fakes.activities, async () => {
      const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(serverId));
      temporal.terminateAfterTest(handle.workflowId);
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');

      const awaiting = await listUntilFound("IncidentPhase='awaiting-approval'", handle.workflowId);
      expect(awaiting).toContain(handle.workflowId);
      const byServer = await listUntilFound(
        `MailServerId='${serverId}' AND IncidentSeverity='major' AND PendingAction='start-postfix'`,
        handle.workflowId,
      );
      expect(byServer).toContain(handle.workflowId);
      const closedOnes = await run(temporalCliPath(), [
        'workflow',
        'list',
        '--address',
        sharedServerAddress(),
        '--query',
        "IncidentPhase='closed'",
      ]);
      expect(closedOnes.stdout).not.toContain(handle.workflowId);
    });
  });
});
