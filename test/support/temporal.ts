import { randomUUID } from 'node:crypto';
import { TestWorkflowEnvironment, type EphemeralServerExecutable } from '@temporalio/testing';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  Worker,
  type NativeConnection,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { MailmendActivities } from '../../activities';
import { useForAllTests } from './fixture';
import {
  connectClient,
  connectWorker,
  DEFAULT_NAMESPACE,
  localTemporalSettings,
  type TemporalClientConnection,
} from '../../platform/temporal/connection';
import { resolveTestServer } from '../../platform/temporal/test-server/resolve';
import { ensureKeywordSearchAttributes } from '../../platform/temporal/search-attribute-registration';
import { INCIDENT_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

export function sharedServerAddress(): string {
  const address = process.env.MAILMEND_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('the jest global setup did not start a Temporal dev server');
  return address;
}

export function temporalExecutable(): EphemeralServerExecutable {
  const raw = process.env.MAILMEND_TEST_TEMPORAL_EXECUTABLE;
  if (!raw) throw new Error('the jest global setup did not resolve the Temporal CLI');
  return JSON.parse(raw) as EphemeralServerExecutable;
}

export function connectTestClient(address = sharedServerAddress()): Promise<TemporalClientConnection> {
  return connectClient(localTemporalSettings(address));
}

export function connectTestWorker(address = sharedServerAddress()): Promise<NativeConnection> {
  return connectWorker(localTemporalSettings(address));
}

/** Bundles the workflow code at `workflowsPath`, printing only the bundler's errors. */
export function bundleWorkflowsQuietly(workflowsPath: string): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger });
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(message),
};

let cachedBundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundling takes seconds, so each test file bundles the workflows once. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  cachedBundle ??= bundleWorkflowsQuietly(require.resolve('../../workflows'));
  return cachedBundle;
}

export interface SharedTemporal {
  readonly client: Client;
  readonly workerConnection: NativeConnection;
  /** Terminates the workflow, if it still runs, after the current test, so no incident outlives its test. */
  terminateAfterTest(workflowId: string): void;
}

/**
 * Connects a client and a worker connection to the shared dev server before the file's tests and closes both after
 * them. Read the fields inside tests and hooks, once `beforeAll` has run.
 */
export function useSharedTemporal(): SharedTemporal {
  const connections = useForAllTests(
    'the shared Temporal connections',
    async () => ({ client: await connectTestClient(), worker: await connectTestWorker() }),
    async ({ client, worker }) => {
      await client.close();
      await worker.close();
    },
  );
  const toTerminate: string[] = [];
  afterEach(async () => {
    if (toTerminate.length === 0) return;
    const { client } = connections().client;
    await Promise.all(toTerminate.splice(0).map((workflowId) => terminateIfRunning(client, workflowId)));
  });
  return {
    get client() {
      return connections().client.client;
    },
    get workerConnection() {
      return connections().worker;
    },
    terminateAfterTest: (workflowId) => void toTerminate.push(workflowId),
  };
}

/** Tests leave no running incidents behind on the shared server. */
export async function terminateIfRunning(client: Client, workflowId: string): Promise<void> {
  try {
    const handle = client.workflow.getHandle(workflowId);
    const { status } = await handle.describe();
    if (status.name === 'RUNNING') await handle.terminate('test finished');
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
}

/** Runs `body` while a worker with `activities` (usually fakes) polls `taskQueue`, then shuts the worker down. */
export async function withWorker<T>(
  connection: NativeConnection,
  taskQueue: string,
  activities: MailmendActivities,
  body: () => Promise<T>,
): Promise<T> {
  const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities });
  return worker.runUntil(body);
}

/** Every test gets its own server id, so workflow ids and task queues never collide. */
export function uniqueServerId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The Java time-skipping test server, with the incident's search attributes registered. */
export async function createTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  const { executable } = await resolveTestServer({ env: process.env, onProgress: (line) => console.log(line) });
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } });
  try {
    await ensureKeywordSearchAttributes(env.connection.operatorService, DEFAULT_NAMESPACE, INCIDENT_SEARCH_ATTRIBUTES);
  } catch (error) {
    await env.teardown();
    throw error;
  }
  return env;
}
