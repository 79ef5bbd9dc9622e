import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { runMailmend } from '../../app/mailmend';
import { processDeps, type CliDeps } from '../../client/cli/program';
import { buildWebhookServer, startWebhookServer } from '../../client/webhook/server';
import { readStateThroughWorkerRestarts } from '../../drill/worker-wait';
import { isWorkerGone } from '../../client/worker-gone';
import { lazyClient, localTemporalSettings } from '../../platform/temporal/connection';
import { incidentWorkflowId, type IncidentState } from '../../workflows/messages';
import { createFakeActivities } from '../support/fake-activities';
import { closeOpenIncidents, expectNoIncidentEndedBadly, NO_BAD_INCIDENT_ENDS } from '../support/incident-outcomes';
import { raiseTestIncident, testInput, waitForState } from '../support/incidents';
import { freePort } from '../support/processes';
import { uniqueServerId, useSharedTemporal, withWorker } from '../support/temporal';
import { testConfig } from '../webhook/support';

const temporal = useSharedTemporal();
const taskQueues: string[] = [];
const START_HINT = 'start mailmend first: MAILMEND_CONFIG=mailmend.lab.yaml npm start';

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-drill-'));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

/** Each test's incidents run on a queue of their own; the last test closes whatever they left open on them. */
function newTaskQueue(): string {
  const taskQueue = `drill-test-${randomUUID()}`;
  taskQueues.push(taskQueue);
  return taskQueue;
}

/** Runs `body` while a worker with fake activities polls each of `queues`. */
function withWorkersOn<T>(queues: readonly string[], body: () => Promise<T>): Promise<T> {
  const [first, ...rest] = queues;
  if (first === undefined) return body();
  return withWorker(temporal.workerConnection, first, createFakeActivities().activities, () =>
    withWorkersOn(rest, body),
  );
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sharedDeps(): { deps: CliDeps; output: () => Run } {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    connect: async () => ({ client: temporal.client, address: 'shared-dev-server', close: async () => undefined }),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  };
  return { deps, output: () => ({ code: -1, stdout, stderr }) };
}

async function drill(deps: CliDeps, output: () => Run, ...options: string[]): Promise<Run> {
  const code = await runMailmend(
    ['drill', 'postfix-stopped', '--state-dir', stateDir, '--inbox-port', '0', ...options],
    deps,
  );
  return { ...output(), code };
}

/** A real webhook for one server on its own port: it answers /healthz as `npm start` would. */
async function startWebhook(serverId: string, client = temporal.client) {
  const loaded = testConfig([serverId]);
  const app = buildWebhookServer({
    config: loaded.config,
    secrets: loaded.secrets,
    client,
    logger: pino({ level: 'silent' }),
  });
  const url = await startWebhookServer(app, '127.0.0.1', 0);
  return { url, close: () => app.close() };
}

/** Splits a printed command line as a shell would, for the double-quoted arguments the CLI prints. */
function shellWords(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => match[1] ?? match[2] ?? '');
}

describe('mailmend drill checks mailmend before it breaks anything', () => {
  test('no webhook answering: exits 1 with what to start, and the lab is left alone', async () => {
    const { deps, output } = sharedDeps();
    const webhookUrl = `http://127.0.0.1:${await freePort()}`;

    const run = await drill(deps, output, '--webhook-url', webhookUrl, '--server-id', uniqueServerId('lab'));

    expect(run).toEqual({
      code: 1,
      stdout: '',
      stderr: `mailmend: mailmend's webhook does not answer at ${webhookUrl}/healthz; ${START_HINT}\n`,
    });
    expect(await readdir(stateDir)).toEqual([]);
  });

  test('a webhook that cannot reach Temporal (503): exits 1 with what to start', async () => {
    const deadTemporal = lazyClient(localTemporalSettings(`127.0.0.1:${await freePort()}`));
    const webhook = await startWebhook(uniqueServerId('lab'), deadTemporal.client);
    try {
      const { deps, output } = sharedDeps();

      const run = await drill(deps, output, '--webhook-url', webhook.url, '--server-id', uniqueServerId('lab'));

      expect(run).toEqual({
        code: 1,
        stdout: '',
        stderr: `mailmend: mailmend's webhook at ${webhook.url}/healthz answers 503: it cannot reach Temporal; ${START_HINT}\n`,
      });
      expect(await readdir(stateDir)).toEqual([]);
    } finally {
      await webhook.close();
      await deadTemporal.close();
    }
  });

  test('Temporal unreachable: exits 1 naming the address and what to start', async () => {
    const port = await freePort();
    let stderr = '';
    const deps: CliDeps = {
      ...processDeps({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` }),
      stdout: () => undefined,
      stderr: (text) => (stderr += text),
    };

    const code = await runMailmend(['drill', 'postfix-stopped', '--state-dir', stateDir], deps);

    expect({ code, stderr }).toEqual({
      code: 1,
      stderr: `mailmend: Temporal is unreachable at 127.0.0.1:${port}; ${START_HINT}\n`,
    });
    expect(await readdir(stateDir)).toEqual([]);
  });
});

describe('mailmend drill and an incident left open', () => {
  test('refuses to start, names the incident, and the printed close command ends it', async () => {
    const serverId = uniqueServerId('lab');
    const taskQueue = newTaskQueue();
    const webhook = await startWebhook(serverId);
    try {
      await withWorker(temporal.workerConnection, taskQueue, createFakeActivities().activities, async () => {
        const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(serverId));
        await waitForState(handle, (state) => state.phase === 'awaiting-approval');
        const { deps, output } = sharedDeps();

        const run = await drill(deps, output, '--webhook-url', webhook.url, '--server-id', serverId);

        const closeCommand = `npx mailmend incidents close ${serverId} --by alice --reason "left open by an earlier drill"`;
        expect(run).toEqual({
          code: 1,
          stdout: '',
          stderr:
            `mailmend: an incident for ${serverId} is still open (workflow ${incidentWorkflowId(serverId)}, ` +
            `phase awaiting-approval), so this drill's alert would join it. Close it first: ${closeCommand} ` +
            '(or follow it with --join)\n',
        });
        expect(await readdir(stateDir)).toEqual([]);

        const closed = await runMailmend(shellWords(closeCommand).slice(2), sharedDeps().deps);
        expect(closed).toBe(0);
        const final = (await handle.result()) as IncidentState;
        expect(final.outcomeReason).toBe('closed by alice: left open by an earlier drill');
      });
    } finally {
      await webhook.close();
    }
  });
});

describe('the drill waits out a worker restart', () => {
  test('a query that finds no worker is asked again, with one waiting line, until a new worker answers', async () => {
    const serverId = uniqueServerId('lab');
    const taskQueue = newTaskQueue();
    const activities = createFakeActivities().activities;
    await withWorker(temporal.workerConnection, taskQueue, activities, async () => {
      const handle = await raiseTestIncident(temporal.client, taskQueue, testInput(serverId));
      await waitForState(handle, (state) => state.phase === 'awaiting-approval');
    });
    // The worker is gone, as while `npm start` restarts.
    const lines: string[] = [];
    const wait = { budgetMs: 60_000, queryTimeoutMs: 1_000, firstDelayMs: 200, maxDelayMs: 1_000 };
    const reading = readStateThroughWorkerRestarts(temporal.client, serverId, (line) => lines.push(line), wait);
    const waiting = reading.then(() => undefined);
    for (let tries = 0; tries < 100 && lines.length === 0; tries += 1) {
      await Promise.race([waiting, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    expect(lines).toEqual([expect.stringMatching(/^waiting for the worker… /)]);

    const state = await withWorker(temporal.workerConnection, taskQueue, activities, async () => {
      const read = await reading;
      // Closed while a worker runs it, as a person would, so the last test only has to find how it ended.
      expect(await closeOpenIncidents(temporal.client, { workflowIds: [incidentWorkflowId(serverId)] })).toEqual(
        new Map(),
      );
      return read;
    });

    expect(state.phase).toBe('awaiting-approval');
    expect(lines).toEqual([
      expect.stringMatching(/^waiting for the worker… /),
      expect.stringMatching(/^the worker answers again after \d+s$/),
    ]);
  });

  test('gives up after its budget with the error that kept the incident from answering', async () => {
    const serverId = uniqueServerId('lab');
    const taskQueue = newTaskQueue();
    await raiseTestIncident(temporal.client, taskQueue, testInput(serverId));
    const lines: string[] = [];
    const startedAt = Date.now();

    const failure = await readStateThroughWorkerRestarts(temporal.client, serverId, (line) => lines.push(line), {
      budgetMs: 2_000,
      queryTimeoutMs: 500,
      firstDelayMs: 200,
      maxDelayMs: 400,
    }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(Error);
    expect(isWorkerGone(failure)).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(lines).toHaveLength(1);

    // A worker arrives at last: the incident runs, and is closed as a person would close it.
    await withWorker(temporal.workerConnection, taskQueue, createFakeActivities().activities, async () => {
      expect(await closeOpenIncidents(temporal.client, { workflowIds: [incidentWorkflowId(serverId)] })).toEqual(
        new Map(),
      );
    });
  });
});

// The incidents above were left waiting for people or for a worker; the check closes them as a person would.
test(NO_BAD_INCIDENT_ENDS, async () => {
  await withWorkersOn(taskQueues, () => expectNoIncidentEndedBadly(temporal.client, { taskQueues }));
});
