import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import { createActivities } from '../../activities';
import { alertmanagerPayload, type OutgoingAlert } from '../../client/webhook/alertmanager';
import { buildWebhookServer, startWebhookServer } from '../../client/webhook/server';
import { parseConfig, type LoadedConfig } from '../../config/load';
import { buildActivityDeps } from '../../worker/activity-deps';
import { startSmtpSink, startWebhookSink, type SmtpSink, type WebhookSink } from './sinks';
import { workflowBundle } from './temporal';

interface TemporalConnections {
  client: Client;
  workerConnection: NativeConnection;
}

interface MailmendStackOptions extends TemporalConnections {
  /** Server entries for the config, as documents (ids, endpoints, ssh, canary, host layout). */
  servers: unknown[];
  policies?: Record<string, unknown>;
  /** Other top-level config keys, e.g. `locale` and `timeZone`. */
  settings?: Record<string, unknown>;
}

/** A worker and a webhook for one config, logging into `logLines`, until `stop`. */
interface RunningMailmend {
  taskQueue: string;
  webhookUrl: string;
  logLines: string[];
  stop(): Promise<void>;
}

/**
 * The production pieces in one process, as `npm start` wires them: real activities with their clients, the worker on
 * its own task queue, and the webhook on a real port. Notifications land in a real SMTP sink and a webhook sink.
 */
export async function startMailmendStack(options: MailmendStackOptions) {
  const mailSink = await startSmtpSink();
  const chatSink = await startWebhookSink();
  const loaded = stackConfig(options, mailSink, chatSink);
  const running = await startWorkerAndWebhook(loaded, options);
  return {
    loaded,
    mailSink,
    chatSink,
    logLines: running.logLines,
    webhookUrl: running.webhookUrl,
    /** POSTs one Alertmanager alert, as Alertmanager would, and returns the response. */
    postAlert: (labels: Record<string, string>, annotations: Record<string, string> = {}) =>
      postAlertmanagerAlert(running.webhookUrl, { labels, annotations }),
    async stop(): Promise<void> {
      await running.stop();
      await Promise.all([mailSink.close(), chatSink.close()]);
    },
  };
}

export type MailmendStack = Awaited<ReturnType<typeof startMailmendStack>>;

/** Email to the IT team and management through the SMTP sink; the users' status page is the webhook sink. */
function stackConfig(options: MailmendStackOptions, mailSink: SmtpSink, chatSink: WebhookSink): LoadedConfig {
  const document = {
    servers: options.servers,
    fallbackRelay: { host: mailSink.host, port: mailSink.port, from: 'mailmend@example.org' },
    audiences: {
      itTeam: { channels: [{ name: 'ops-mail', type: 'email', to: ['ops@example.org'] }] },
      management: { channels: [{ name: 'mgmt-mail', type: 'email', to: ['boss@example.org'] }] },
      users: { channels: [{ name: 'status-page', type: 'webhook', url: { env: 'STATUS_URL' } }] },
    },
    approvers: ['alice', 'bob'],
    reportsDir: mkdtempSync(path.join(os.tmpdir(), 'mailmend-reports-')),
    policies: { probeTimeout: '3s', roundTripTimeout: '30s', verificationSettle: '15s', ...options.policies },
    ...options.settings,
  };
  return parseConfig(document, 'test stack', { STATUS_URL: chatSink.urlFor('/status') }, process.cwd());
}

/**
 * Starts a worker with the real activities and the alert webhook for `loaded`, on a task queue of their own, with
 * every log line captured. `stop` closes the webhook before the worker, so no accepted alert is left half-handled.
 */
export async function startWorkerAndWebhook(
  loaded: LoadedConfig,
  temporal: TemporalConnections,
): Promise<RunningMailmend> {
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(line) });
  const taskQueue = `stack-${randomUUID()}`;
  const stopWorker = await startWorker(loaded, logger, temporal.workerConnection, taskQueue);
  const { config, secrets } = loaded;
  const webhook = buildWebhookServer({ config, secrets, client: temporal.client, logger, taskQueue });
  const webhookUrl = await startWebhookServer(webhook, '127.0.0.1', 0).catch(async (error: unknown) => {
    await stopWorker();
    throw error;
  });
  return {
    taskQueue,
    webhookUrl,
    logLines,
    stop: async () => {
      await webhook.close();
      await stopWorker();
    },
  };
}

/** Runs the real activities on `taskQueue`; the returned function drains the worker, then closes the clients. */
async function startWorker(
  loaded: LoadedConfig,
  logger: Logger,
  connection: NativeConnection,
  taskQueue: string,
): Promise<() => Promise<void>> {
  const { deps, close: closeClients } = buildActivityDeps(loaded, logger);
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(deps),
  });
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running;
    closeClients();
  };
}

/** POSTs one alert to the webhook as Alertmanager would, with any extra headers (such as the bearer token). */
export function postAlertmanagerAlert(
  webhookUrl: string,
  alert: OutgoingAlert,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${webhookUrl}/alerts/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(alertmanagerPayload(alert)),
  });
}
