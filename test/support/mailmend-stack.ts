import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { Worker, type NativeConnection } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../../activities';
import { alertmanagerPayload } from '../../client/webhook/alertmanager';
import { buildWebhookServer, startWebhookServer } from '../../client/webhook/server';
import { parseConfig, type LoadedConfig } from '../../config/load';
import { buildActivityDeps } from '../../worker/activity-deps';
import { startSmtpSink, startWebhookSink } from './sinks';
import { workflowBundle } from './temporal';

export interface MailmendStackOptions {
  client: Client;
  workerConnection: NativeConnection;
  /** Server entries for the config, as documents (ids, endpoints, ssh, canary, host layout). */
  servers: unknown[];
  policies?: Record<string, unknown>;
}

/**
 * The production pieces in one process, as `npm start` wires them: real activities with their clients, the worker on
 * its own task queue, and the webhook on a real port. Notifications land in a real SMTP sink and a webhook sink.
 */
export async function startMailmendStack(options: MailmendStackOptions) {
  const mailSink = await startSmtpSink();
  const chatSink = await startWebhookSink();
  const loaded: LoadedConfig = parseConfig(
    {
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
    },
    'test stack',
    { STATUS_URL: chatSink.urlFor('/status') },
    process.cwd(),
  );
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(line) });
  const taskQueue = `stack-${randomUUID()}`;
  const activityDeps = buildActivityDeps(loaded, logger);
  const worker = await Worker.create({
    connection: options.workerConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: createActivities(activityDeps.deps),
  });
  const running = worker.run();
  const webhook = buildWebhookServer({
    config: loaded.config,
    secrets: loaded.secrets,
    client: options.client,
    logger,
    taskQueue,
  });
  const webhookUrl = await startWebhookServer(webhook, '127.0.0.1', 0);

  return {
    loaded,
    mailSink,
    chatSink,
    logLines,
    webhookUrl,
    /** POSTs one Alertmanager alert, as Alertmanager would, and returns the response. */
    async postAlert(labels: Record<string, string>, annotations: Record<string, string> = {}): Promise<Response> {
      return fetch(`${webhookUrl}/alerts/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alertmanagerPayload({ labels, annotations })),
      });
    },
    async stop(): Promise<void> {
      await webhook.close();
      worker.shutdown();
      await running;
      activityDeps.close();
      await mailSink.close();
      await chatSink.close();
    },
  };
}

export type MailmendStack = Awaited<ReturnType<typeof startMailmendStack>>;
