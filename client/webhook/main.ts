import { configPathFromEnv, loadConfigFile } from '../../config/load';
import { createLogger } from '../../platform/logger';
import { lazyClient, temporalSettingsFromEnv } from '../../platform/temporal/connection';
import { webhookListenAddress } from './listen-address';
import { buildWebhookServer, startWebhookServer } from './server';

/**
 * The alert webhook on its own, for deployments that run it apart from the worker. It starts even while Temporal is
 * down, and answers 503 until Temporal is back, so senders retry.
 */
async function main(): Promise<void> {
  const logger = createLogger();
  const loaded = loadConfigFile(configPathFromEnv(process.env), process.env);
  const { config } = loaded;
  const listen = webhookListenAddress(config.webhook, process.env);
  const temporal = lazyClient(temporalSettingsFromEnv(process.env, `${config.temporal.host}:${config.temporal.port}`));
  const app = buildWebhookServer({ config, secrets: loaded.secrets, client: temporal.client, logger });
  const url = await startWebhookServer(app, listen.host, listen.port);
  logger.info({ url, temporal: temporal.address }, 'webhook listening');
  const stop = async (): Promise<void> => {
    // The app first: its close waits for signals still in flight, which need the connection.
    await app.close();
    await temporal.close();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stop().catch((error: unknown) => {
        logger.error({ err: error }, 'webhook shutdown failed');
        process.exitCode = 1;
      });
    });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
