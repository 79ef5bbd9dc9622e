import { randomUUID } from 'node:crypto';
import type { EphemeralServerExecutable } from '@temporalio/testing';
import { bundleWorkflowCode, type NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import {
  connectClient,
  connectWorker,
  localTemporalSettings,
  type TemporalClientConnection,
} from '../../platform/temporal/connection';

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

let cachedBundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundling takes seconds, so each test file bundles the workflows once. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  cachedBundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: quietBundlerLogger,
  });
  return cachedBundle;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(message),
};

/** Every test gets its own server id, so workflow ids and task queues never collide. */
export function uniqueServerId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
