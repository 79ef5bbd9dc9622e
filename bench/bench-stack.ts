import type { Client } from '@temporalio/client';
import pino from 'pino';
import { createActivities } from '../activities';
import { buildWebhookServer, startWebhookServer } from '../client/webhook/server';
import type { LoadedConfig } from '../config/load';
import { connectClient, connectWorker, localTemporalSettings } from '../platform/temporal/connection';
import { buildActivityDeps } from '../worker/activity-deps';
import { createMailmendWorker } from '../worker/worker';

/** mailmend as `npm start` runs it, minus the dev server: the worker and the webhook in this process. */
export interface BenchStack {
  client: Client;
  /** `http://127.0.0.1:<port>/alerts/alertmanager` */
  alertmanagerUrl: string;
  close(): Promise<void>;
}

/**
 * Starts the worker (production activities, production worker options) and the webhook on `temporalAddress`, on
 * `taskQueue` when given (a cluster's own workers poll mailmend's), mailmend's task queue otherwise.
 */
export async function startBenchStack(
  temporalAddress: string,
  loaded: LoadedConfig,
  taskQueue?: string,
): Promise<BenchStack> {
  // Errors only, on stderr: stdout is for the figures, and every closed-port probe would log a warning.
  const logger = pino({ level: 'error' }, pino.destination(2));
  const settings = localTemporalSettings(temporalAddress);
  const workerConnection = await connectWorker(settings);
  const { client, close: closeClient } = await connectClient(settings);
  const activityDeps = buildActivityDeps(loaded, logger);
  const worker = await createMailmendWorker({
    connection: workerConnection,
    activities: createActivities(activityDeps.deps),
    taskQueue,
    shutdownGraceTime: '5 seconds',
  });
  const workerRun = worker.run();
  const webhook = buildWebhookServer({ config: loaded.config, secrets: loaded.secrets, client, logger, taskQueue });
  const webhookUrl = await startWebhookServer(webhook, '127.0.0.1', 0);
  return {
    client,
    alertmanagerUrl: `${webhookUrl}/alerts/alertmanager`,
    close: async () => {
      await webhook.close();
      worker.shutdown();
      await workerRun;
      activityDeps.close();
      await closeClient();
      await workerConnection.close();
    },
  };
}
