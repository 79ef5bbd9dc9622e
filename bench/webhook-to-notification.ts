import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildWebhookServer, startWebhookServer } from '../client/webhook/server';
import { parseConfig } from '../config/load';
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

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? NaN;
}

/**
 * Time from an Alertmanager POST to the first notification that a real SMTP sink receives, over the real stack:
 * dev server, worker with the production activities, webhook. Each incident is its own server, so each POST starts
 * a new workflow. Run with `npm run bench`.
 */
async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const { executable } = await resolveTemporalCli({ env: process.env, onProgress: console.error });
  const temporal = await startEmbeddedServer({ executable });
  const firstMailByIncident = new Map<string, InboxMessage>();
  const mailArrived = new EventEmitter();
  const mailSink = await openNotificationInbox(0, (message) => {
    if (message.incidentId && !firstMailByIncident.has(message.incidentId)) {
      firstMailByIncident.set(message.incidentId, message);
      mailArrived.emit(message.incidentId, message);
    }
  });
  const closedPort = await freeLoopbackPort();
  const serverIds = Array.from({ length: INCIDENTS }, (_, index) => `bench-${index}-${randomUUID().slice(0, 6)}`);
  const loaded = parseConfig(
    {
      servers: serverIds.map((id) => ({
        id,
        smtp: { host: '127.0.0.1', port: closedPort },
        imap: { host: '127.0.0.1', port: closedPort },
      })),
      fallbackRelay: { host: '127.0.0.1', port: mailSink.port, from: 'mailmend@bench.test' },
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
  const logger = pino({ level: 'warn' });
  const settings = localTemporalSettings(temporal.address);
  const workerConnection = await connectWorker(settings);
  const { client, close: closeClient } = await connectClient(settings);
  const activityDeps = buildActivityDeps(loaded, logger);
  const worker = await createMailmendWorker({
    connection: workerConnection,
    activities: createActivities(activityDeps.deps),
  });
  const webhook = buildWebhookServer({ config: loaded.config, secrets: loaded.secrets, client, logger });
  const url = await startWebhookServer(webhook, '127.0.0.1', 0);

  const latencies: number[] = [];
  await worker.runUntil(async () => {
    for (const serverId of serverIds) {
      const postedAt = Date.now();
      const response = await fetch(`${url}/alerts/alertmanager`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alertmanagerPayload({ labels: { alertname: 'MailDown', server: serverId } })),
      });
      if (response.status !== 202) throw new Error(`webhook answered ${response.status}: ${await response.text()}`);
      const workflowId = incidentWorkflowId(serverId);
      const mail =
        firstMailByIncident.get(workflowId) ??
        ((await once(mailArrived, workflowId, { signal: AbortSignal.timeout(MAIL_TIMEOUT_MS) })) as [InboxMessage])[0];
      latencies.push(mail.receivedAt - postedAt);
      await client.workflow.getHandle(workflowId).terminate('benchmark done');
    }
  });
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(`webhook POST -> first notification received, ${sorted.length} incidents:`);
  console.log(
    `  median ${percentile(sorted, 0.5)} ms, p90 ${percentile(sorted, 0.9)} ms, min ${sorted[0]} ms, max ${sorted.at(-1)} ms`,
  );
  await webhook.close();
  activityDeps.close();
  await closeClient();
  await workerConnection.close();
  await mailSink.close();
  await temporal.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
