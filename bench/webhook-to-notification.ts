import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildWebhookServer, startWebhookServer } from '../client/webhook/server';
import { parseConfig } from '../config/load';
import { buildActivityDeps } from '../worker/activity-deps';
import { startEmbeddedServer } from '../worker/dev-server';
import { resolveTemporalCli } from '../worker/temporal-cli/resolve';
import { createMailmendWorker } from '../worker/worker';
import { incidentWorkflowId } from '../workflows/messages';
import { freePort } from '../test/support/processes';
import { startSmtpSink } from '../test/support/sinks';
import { alertmanagerPayload } from '../client/webhook/alertmanager';

const INCIDENTS = Number(process.env.BENCH_INCIDENTS ?? 20);

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
  const mailSink = await startSmtpSink();
  const closedPort = await freePort();
  const serverIds = Array.from({ length: INCIDENTS }, (_, index) => `bench-${index}-${randomUUID().slice(0, 6)}`);
  const loaded = parseConfig(
    {
      servers: serverIds.map((id) => ({
        id,
        smtp: { host: '127.0.0.1', port: closedPort },
        imap: { host: '127.0.0.1', port: closedPort },
      })),
      fallbackRelay: { host: mailSink.host, port: mailSink.port, from: 'mailmend@bench.test' },
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
  const workerConnection = await NativeConnection.connect({ address: temporal.address });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const activityDeps = buildActivityDeps(loaded, logger);
  const worker = await createMailmendWorker({
    connection: workerConnection,
    activities: createActivities(activityDeps.deps),
  });
  const webhook = buildWebhookServer({ config: loaded.config, secrets: loaded.secrets, client, logger });
  const url = await startWebhookServer(webhook, '127.0.0.1', await freePort());

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
      const mail = await mailSink.waitForMail((received) => received.headers.get('x-mailmend-incident') === workflowId);
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
  await connection.close();
  await workerConnection.close();
  await mailSink.close();
  await temporal.stop();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
