import { Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { buildWebhookServer, startWebhookServer } from '../client/webhook/server';
import { configPathFromEnv, loadConfigFile } from '../config/load';
import { createLogger, temporalLoggerFor } from '../platform/logger';
import { connectClient, connectWorker } from '../platform/temporal/connection';
import { buildActivityDeps } from '../worker/activity-deps';
import { createMailmendWorker } from '../worker/worker';
import { TASK_QUEUE } from '../workflows/messages';
import { resolveTemporalTarget, type TemporalTarget } from './temporal-target';

/**
 * `npm start`: the Temporal dev server (unless TEMPORAL_ADDRESS names a cluster), the worker and the alert webhook.
 * Ctrl-C stops all three; in-flight activities get the configured grace time to finish.
 */
async function main(): Promise<void> {
  const logger = createLogger();
  Runtime.install({ logger: temporalLoggerFor(logger), shutdownSignals: [] });
  const loaded = loadConfigFile(configPathFromEnv(process.env), process.env);
  const { config } = loaded;

  const target = await resolveTemporalTarget(process.env, config, loaded.baseDir, (line) => console.error(line));
  const workerConnection = await connectWorker(target.settings);
  const temporal = await connectClient(target.settings);
  const activityDeps = buildActivityDeps(loaded, logger);
  const worker = await createMailmendWorker({
    connection: workerConnection,
    namespace: target.settings.namespace,
    activities: createActivities(activityDeps.deps),
    shutdownGraceTime: config.temporal.shutdownGraceTime,
  });
  const workerRun = worker.run();
  const webhook = buildWebhookServer({ config, secrets: loaded.secrets, client: temporal.client, logger });
  const webhookUrl = await startWebhookServer(webhook, config.webhook.host, config.webhook.port);
  console.log(runningBanner(target, webhookUrl));

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: webhook, then worker (grace time for in-flight activities), then Temporal');
    await webhook.close();
    worker.shutdown();
    await workerRun;
    activityDeps.close();
    await temporal.close();
    await workerConnection.close();
    await target.embedded?.stop();
    logger.info('stopped');
  };
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

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
