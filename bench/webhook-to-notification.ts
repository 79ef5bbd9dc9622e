import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildWebhookServer, startWebhookServer } from '../client/webhook/server';
import { parseConfig, type LoadedConfig } from '../config/load';
import { buildActivityDeps } from '../worker/activity-deps';
import { startEmbeddedServer } from '../platform/temporal/dev-server';
import { resolveTemporalCli } from '../platform/temporal/cli/resolve';
import { createMailmendWorker } from '../worker/worker';
import { incidentWorkflowId } from '../workflows/messages';
import { openNotificationInbox, type InboxMessage } from '../drill/notification-inbox';
import { freeLoopbackPort } from '../platform/loopback';
import { connectClient, connectWorker, localTemporalSettings } from '../platform/temporal/connection';
import { alertmanagerPayload } from '../client/webhook/alertmanager';

const INCIDENTS = Number(process.env.BENCH_INCIDENTS ?? 20);
const MAIL_TIMEOUT_MS = 30_000;

/**
 * Time from an Alertmanager POST to the first notification that a real SMTP sink receives, over the real stack:
 * dev server, worker with the production activities, webhook. Each incident is its own server, so each POST starts
 * a new workflow. Run with `npm run bench:latency`.
 */
async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { executable } = await resolveTemporalCli({ env: process.env, onProgress: console.error });
  const temporal = await startEmbeddedServer({ executable });
  const inbox = await watchFirstMails();
  const closedPort = await freeLoopbackPort();
  const serverIds = Array.from({ length: INCIDENTS }, (_, index) => `bench-${index}-${randomUUID().slice(0, 6)}`);
  const loaded = benchConfig(serverIds, closedPort, inbox.port);
  const stack = await startMailmend(temporal.address, loaded);
  const latencies = await stack.worker.runUntil(() => measureLatencies(stack, serverIds, inbox));
  printLatencies(latencies);
  await stack.close();
  await inbox.close();
  await temporal.stop();
}

/** An inbox that keeps the first notification of each incident, for a POST to wait on. */
interface FirstMailWatch {
  port: number;
  firstMail(incidentId: string): Promise<InboxMessage>;
  close(): Promise<void>;
}

async function watchFirstMails(): Promise<FirstMailWatch> {
  const firstMailByIncident = new Map<string, InboxMessage>();
  const mailArrived = new EventEmitter();
  const inbox = await openNotificationInbox(0, (message) => {
    if (message.incidentId && !firstMailByIncident.has(message.incidentId)) {
      firstMailByIncident.set(message.incidentId, message);
      mailArrived.emit(message.incidentId, message);
    }
  });
  return {
    port: inbox.port,
    firstMail: async (incidentId) =>
      firstMailByIncident.get(incidentId) ??
      ((await once(mailArrived, incidentId, { signal: AbortSignal.timeout(MAIL_TIMEOUT_MS) })) as [InboxMessage])[0],
    close: () => inbox.close(),
  };
}

/** One server per incident, on a closed port so every probe fails at once; every audience is mailed to the inbox. */
function benchConfig(serverIds: string[], closedPort: number, relayPort: number): LoadedConfig {
  return parseConfig(
    {
      servers: serverIds.map((id) => ({
        id,
        smtp: { host: '127.0.0.1', port: closedPort },
        imap: { host: '127.0.0.1', port: closedPort },
      })),
      fallbackRelay: { host: '127.0.0.1', port: relayPort, from: 'mailmend@bench.test' },
      audiences: {
        itTeam: { channels: [{ name: 'ops', type: 'email', to: ['ops@bench.test'] }] },
        management: { channels: [{ name: 'mgmt', type: 'email', to: ['mgmt@bench.test'] }] },
        users: { channels: [{ name: 'users', type: 'email', to: ['users@bench.test'] }] },
      },
      approvers: ['alice'],
      policies: { probeTimeout: '2s' },
    },
    'bench',
    {},
    process.cwd(),
  );
}

interface MailmendUnderTest {
  worker: Worker;
  client: Client;
  webhookUrl: string;
  close(): Promise<void>;
}

/** The worker with the production activities and the webhook, both on the dev server at `temporalAddress`. */
async function startMailmend(temporalAddress: string, loaded: LoadedConfig): Promise<MailmendUnderTest> {
  const logger = pino({ level: 'warn' });
  const settings = localTemporalSettings(temporalAddress);
  const workerConnection = await connectWorker(settings);
  const { client, close: closeClient } = await connectClient(settings);
  const activityDeps = buildActivityDeps(loaded, logger);
  const worker = await createMailmendWorker({
    connection: workerConnection,
    activities: createActivities(activityDeps.deps),
  });
  const webhook = buildWebhookServer({ config: loaded.config, secrets: loaded.secrets, client, logger });
  const webhookUrl = await startWebhookServer(webhook, '127.0.0.1', 0);
  const close = async (): Promise<void> => {
    await webhook.close();
    activityDeps.close();
    await closeClient();
    await workerConnection.close();
  };
  return { worker, client, webhookUrl, close };
}

/** One incident at a time, so each latency is the pipeline's own and not a queue behind the others. */
async function measureLatencies(
  { client, webhookUrl }: MailmendUnderTest,
  serverIds: string[],
  inbox: FirstMailWatch,
): Promise<number[]> {
  const latencies: number[] = [];
  for (const serverId of serverIds) {
    const postedAt = Date.now();
    const response = await fetch(`${webhookUrl}/alerts/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(alertmanagerPayload({ labels: { alertname: 'MailDown', server: serverId } })),
    });
    if (response.status !== 202) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
    const workflowId = incidentWorkflowId(serverId);
    const mail = await inbox.firstMail(workflowId);
    latencies.push(mail.receivedAt - postedAt);
    await client.workflow.getHandle(workflowId).terminate('benchmark done');
  }
  return latencies;
}

function printLatencies(latencies: number[]): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(`webhook POST -> first notification received, ${sorted.length} incidents:`);
  console.log(
    `  median ${percentile(sorted, 0.5)} ms, p90 ${percentile(sorted, 0.9)} ms, min ${sorted[0]} ms, max ${sorted.at(-1)} ms`,
  );
}

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? NaN;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
