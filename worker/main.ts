import type { WorkerDeploymentVersion } from '@temporalio/common';
import { Runtime, type TelemetryOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../activities';
import { configPathFromEnv, loadConfigFile } from '../config/load';
import { createLogger, temporalLoggerFor } from '../platform/logger';
import {
  connectClient,
  connectWorker,
  temporalSettingsFromEnv,
  type TemporalSettings,
} from '../platform/temporal/connection';
import { setCurrentIfNone } from '../platform/temporal/worker-deployment';
import { buildActivityDeps } from './activity-deps';
import { workerDeploymentFromEnv } from './build-id';
import { createMailmendWorker, INCIDENT_WORKFLOWS_PATH } from './worker';

/**
 * The worker alone, against the cluster that TEMPORAL_ADDRESS (or the envconfig profile) names. With
 * `MAILMEND_DEPLOYMENT_NAME` set it runs as a Worker Deployment Version (build id `MAILMEND_BUILD_ID`, or the workflow
 * code's own), and gets new incidents only once that version is made current.
 */
async function main(): Promise<void> {
  const logger = createLogger();
  Runtime.install({ logger: temporalLoggerFor(logger), telemetryOptions: sdkMetricsFromEnv(process.env) });
  const deployment = workerDeploymentFromEnv(process.env, INCIDENT_WORKFLOWS_PATH);
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
    logger,
    deployment,
  });
  logger.info({ address: settings.address, namespace: settings.namespace, deployment }, 'worker started');
  if (deployment) {
    logger.info(
      deployment,
      'new incidents reach this version once it is current: temporal worker deployment set-current-version ' +
        `--deployment-name ${deployment.deploymentName} --build-id ${deployment.buildId} --yes`,
    );
  }
  const running = worker.run();
  if (deployment && /^(1|true|yes)$/i.test(process.env.MAILMEND_CURRENT_IF_NONE?.trim() ?? '')) {
    becomeCurrentIfNone(settings, deployment, logger).catch((error: unknown) =>
      logger.error({ err: error, deployment }, 'could not make this version current; new incidents may wait'),
    );
  }
  try {
    await running;
  } finally {
    close();
    await connection.close();
  }
}

/**
 * `MAILMEND_CURRENT_IF_NONE=true`: on a new installation (compose, a first deploy) the first version to poll becomes
 * current, so incidents do not wait for a person to choose one. Once a version is current, workers never change it.
 */
async function becomeCurrentIfNone(
  settings: TemporalSettings,
  deployment: WorkerDeploymentVersion,
  logger: Logger,
): Promise<void> {
  const temporal = await connectClient(settings);
  try {
    const outcome = await setCurrentIfNone(temporal.client, deployment);
    logger.info({ deployment, outcome }, outcome === 'set' ? 'made this version current' : 'a current version exists');
  } finally {
    await temporal.close();
  }
}

/**
 * `MAILMEND_WORKER_METRICS=0.0.0.0:9464` makes the SDK serve its runtime metrics at `/metrics` on that address; unset,
 * the worker serves none. `npm start` needs no such setting: its webhook's `/metrics` includes them.
 */
function sdkMetricsFromEnv(env: NodeJS.ProcessEnv): TelemetryOptions | undefined {
  const bindAddress = env.MAILMEND_WORKER_METRICS?.trim();
  if (!bindAddress) return undefined;
  if (!/^\S+:\d{1,5}$/.test(bindAddress)) {
    throw new Error(`MAILMEND_WORKER_METRICS must be host:port, e.g. 0.0.0.0:9464, not "${bindAddress}"`);
  }
  return { metrics: { prometheus: { bindAddress } } };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
