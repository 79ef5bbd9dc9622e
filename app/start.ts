import path from 'node:path';
import { Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../activities';
import { buildWebhookServer, startWebhookServer } from '../client/webhook/server';
import { ConfigFileMissingError, configPathFromEnv, loadConfigFile } from '../config/load';
import { createLogger, temporalLoggerFor } from '../platform/logger';
import { freeLoopbackPort, LOOPBACK } from '../platform/loopback';
import { createMailmendMetrics } from '../platform/metrics';
import { connectClient, connectWorker } from '../platform/temporal/connection';
import type { EmbeddedServer } from '../platform/temporal/dev-server';
import { DevServerSupervisor } from '../platform/temporal/dev-server-supervisor';
import { buildActivityDeps } from '../worker/activity-deps';
import { createMailmendWorker } from '../worker/worker';
import { TASK_QUEUE } from '../workflows/messages';
import { resolveTemporalTarget, type TemporalTarget } from './temporal-target';

/** How long mailmend may take to stop once the embedded dev server is lost for good. */
const GIVE_UP_EXIT_DEADLINE_MS = 10_000;

/**
 * `npm start`: the Temporal dev server (unless TEMPORAL_ADDRESS names a cluster), the worker and the alert webhook.
 * Ctrl-C stops all three; in-flight activities get the configured grace time to finish.
 */
async function main(): Promise<void> {
  const logger = createLogger();
  const loaded = loadConfigFile(configPathFromEnv(process.env), process.env);
  const { config } = loaded;
  // The SDK serves its runtime metrics on loopback only; the webhook's /metrics appends them to mailmend's own. The
  // port is one the dev server, its UI and the webhook are not configured to take.
  const sdkMetricsAddress = `${LOOPBACK}:${await freePortOtherThan([config.temporal.port, config.temporal.uiPort, config.webhook.port])}`;
  const metrics = createMailmendMetrics({ sdkMetricsAddress });
  Runtime.install({
    logger: temporalLoggerFor(logger),
    shutdownSignals: [],
    telemetryOptions: { metrics: { prometheus: { bindAddress: sdkMetricsAddress } } },
  });

  const target = await resolveTemporalTarget(process.env, config, loaded.baseDir, (line) => console.error(line));
  const workerConnection = await connectWorker(target.settings);
  const temporal = await connectClient(target.settings);
  const activityDeps = buildActivityDeps(loaded, logger, metrics);
  const worker = await createMailmendWorker({
    connection: workerConnection,
    namespace: target.settings.namespace,
    activities: createActivities(activityDeps.deps),
    shutdownGraceTime: config.temporal.shutdownGraceTime,
    logger,
  });
  const workerRun = worker.run();
  const webhook = buildWebhookServer({ config, secrets: loaded.secrets, client: temporal.client, logger, metrics });
  const webhookUrl = await startWebhookServer(webhook, config.webhook.host, config.webhook.port);
  console.log(runningBanner(target, webhookUrl));

  let stopping = false;
  const shutdown = async (reason: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    supervisor?.stopWatching();
    logger.info({ reason }, 'shutting down: webhook, then worker (grace time for in-flight activities), then Temporal');
    await webhook.close();
    worker.shutdown();
    await workerRun;
    activityDeps.close();
    await temporal.close();
    await workerConnection.close();
    await supervisor?.stop();
    logger.info('stopped');
  };
  const supervisor = target.embedded && superviseDevServer(target.embedded, logger, shutdown);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      shutdown(signal).catch((error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exitCode = 1;
      });
    });
  }
  await workerRun;
}

/**
 * Restarts the embedded dev server when it dies. When it cannot, mailmend stops and exits 1, so whatever supervises
 * mailmend sees the outage instead of a process that answers 503 forever.
 */
function superviseDevServer(
  server: EmbeddedServer,
  logger: Logger,
  shutdown: (reason: string) => Promise<void>,
): DevServerSupervisor {
  return new DevServerSupervisor(server, {
    logger,
    onGiveUp: (error) => {
      console.error(
        `mailmend is stopping: the embedded Temporal server is down and could not be restarted: ${error.message}`,
      );
      process.exitCode = 1;
      // The worker's shutdown may wait on the server that is gone; the exit must not.
      setTimeout(() => process.exit(1), GIVE_UP_EXIT_DEADLINE_MS).unref();
      shutdown('embedded Temporal server lost').then(
        () => process.exit(1),
        (shutdownError: unknown) => {
          logger.error({ err: shutdownError }, 'shutdown failed');
          process.exit(1);
        },
      );
    },
  });
}

async function freePortOtherThan(taken: readonly (number | undefined)[]): Promise<number> {
  for (;;) {
    const port = await freeLoopbackPort();
    if (!taken.includes(port)) return port;
  }
}

function runningBanner(target: TemporalTarget, webhookUrl: string): string {
  const { address, namespace } = target.settings;
  return [
    'mailmend is running:',
    `  Temporal      ${address} (namespace ${namespace})${target.embedded ? ', embedded dev server' : ''}`,
    ...(target.embedded?.uiUrl ? [`  Temporal UI   ${target.embedded.uiUrl}`] : []),
    `  worker        task queue ${TASK_QUEUE}`,
    `  webhook       ${webhookUrl}/alerts/alertmanager`,
    'Press Ctrl-C to stop.',
  ].join('\n');
}

/** What a first run without a config is told: the two ways forward. */
function firstRunHelp(file: string): string {
  const target = path.resolve(file);
  const pathOption = target === path.resolve('mailmend.yaml') ? '' : ` --path ${file}`;
  return [
    `mailmend has no config: ${target} does not exist.`,
    'Two ways forward:',
    `  - for your own mail servers: npx mailmend init${pathOption} writes a commented config to fill in`,
    `    (npx mailmend init${pathOption} --ssh root@mx1.example.com also pins the host key and finds the Postfix and`,
    '    Dovecot paths), or cp mailmend.example.yaml mailmend.yaml and edit it; then npm start again',
    '    (MAILMEND_CONFIG points at a config file elsewhere);',
    '  - to try mailmend on a local lab first: npx mailmend lab up, then MAILMEND_CONFIG=mailmend.lab.yaml npm start.',
  ].join('\n');
}

main().catch((error: unknown) => {
  if (error instanceof ConfigFileMissingError) {
    console.error(firstRunHelp(error.file));
    process.exit(2);
  }
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
