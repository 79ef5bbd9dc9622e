import { Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { configPathFromEnv, loadConfigFile } from '../config/load';
import { createLogger, temporalLoggerFor } from '../platform/logger';
import { connectWorker, temporalSettingsFromEnv } from '../platform/temporal/connection';
import { buildActivityDeps } from './activity-deps';
import { createMailmendWorker } from './worker';

/** The worker alone, against the cluster that TEMPORAL_ADDRESS (or the envconfig profile) names. */
async function main(): Promise<void> {
  const logger = createLogger();
  Runtime.install({ logger: temporalLoggerFor(logger) });
  const loaded = loadConfigFile(configPathFromEnv(process.env), process.env);
  const { temporal } = loaded.config;
  const settings = temporalSettingsFromEnv(process.env, `${temporal.host}:${temporal.port}`);
  const connection = await connectWorker(settings);
  const { deps, close } = buildActivityDeps(loaded, logger);
  const worker = await createMailmendWorker({
    connection,
    namespace: settings.namespace,
    activities: createActivities(deps),
    shutdownGraceTime: temporal.shutdownGraceTime,
  });
  logger.info({ address: settings.address, namespace: settings.namespace }, 'worker started');
  try {
    await worker.run();
  } finally {
    close();
    await connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
