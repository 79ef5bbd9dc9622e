import { NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { configPathFromEnv, loadConfigFile } from '../config/load';
import { buildActivityDeps } from './activity-deps';
import { createLogger, temporalLoggerFor } from './logger';
import { externalTarget } from './temporal-target';
import { createMailmendWorker } from './worker';

/** The worker alone, against the cluster that TEMPORAL_ADDRESS (or the envconfig profile) names. */
async function main(): Promise<void> {
  const logger = createLogger();
  Runtime.install({ logger: temporalLoggerFor(logger) });
  const loaded = loadConfigFile(configPathFromEnv(process.env), process.env);
  const target = externalTarget(process.env);
  const connection = await NativeConnection.connect(target.connectionOptions);
  const { deps, close } = buildActivityDeps(loaded, logger);
  const worker = await createMailmendWorker({
    connection,
    namespace: target.namespace,
    activities: createActivities(deps),
    shutdownGraceTime: loaded.config.temporal.shutdownGraceTime,
  });
  logger.info({ address: target.connectionOptions.address, namespace: target.namespace }, 'worker started');
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
