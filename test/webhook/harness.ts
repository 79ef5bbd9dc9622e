import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { buildWebhookServer, startWebhookServer, type WebhookDeps } from '../../client/webhook/server';
import type { MailmendMetrics } from '../../platform/metrics';
import { incidentWorkflowId } from '../../workflows/messages';
import { uniqueServerId, type SharedTemporal } from '../support/temporal';
import { captureLogs, testConfig } from './support';

export const openApps: FastifyInstance[] = [];

/** Apps close before their Temporal connection: closing waits for calls still backing off after a 503. */
export async function closeOpenApps(): Promise<void> {
  await Promise.all(openApps.splice(0).map((app) => app.close()));
}

afterEach(closeOpenApps);

export interface Harness {
  app: FastifyInstance;
  url: string;
  serverIds: string[];
  taskQueue: string;
  logs: ReturnType<typeof captureLogs>;
  deps: WebhookDeps;
}

/**
 * A listening webhook for fresh servers, on its own task queue so no other test's worker runs its incidents.
 * It listens for real because `app.inject` needs an ES module (cookie 2) that jest cannot load on Node 20.
 */
export async function harness(
  temporal: SharedTemporal,
  options: {
    servers?: number;
    bearerToken?: boolean;
    client?: Client;
    signalTimeoutMs?: number;
    taskQueue?: string;
    metrics?: MailmendMetrics;
  } = {},
): Promise<Harness> {
  const serverIds = Array.from({ length: options.servers ?? 1 }, () => uniqueServerId('mx'));
  serverIds.forEach((serverId) => temporal.terminateAfterTest(incidentWorkflowId(serverId)));
  const loaded = testConfig(serverIds, { bearerToken: options.bearerToken ?? false });
  const logs = captureLogs();
  const taskQueue = options.taskQueue ?? `webhook-test-${randomUUID()}`;
  const deps: WebhookDeps = {
    config: loaded.config,
    secrets: loaded.secrets,
    client: options.client ?? temporal.client,
    logger: logs.logger,
    taskQueue,
    ...(options.signalTimeoutMs !== undefined ? { signalTimeoutMs: options.signalTimeoutMs } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };
  const app = buildWebhookServer(deps);
  openApps.push(app);
  const url = await startWebhookServer(app, '127.0.0.1', 0);
  return { app, url, serverIds, taskQueue, logs, deps };
}

export interface Answer {
  statusCode: number;
  headers: Headers;
  json<T = unknown>(): T;
}

export async function send(h: Harness, method: 'GET' | 'POST', path: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(`${h.url}${path}`, { ...init, method });
  const text = await response.text();
  return { statusCode: response.status, headers: response.headers, json: <T>() => JSON.parse(text) as T };
}

export function postJson(
  h: Harness,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return send(h, 'POST', path, {
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function get(h: Harness, path: string): Promise<Answer> {
  return send(h, 'GET', path);
}

export function serverOf(h: Harness, index = 0): string {
  const serverId = h.serverIds[index];
  if (!serverId) throw new Error(`the harness has no server ${index}`);
  return serverId;
}
