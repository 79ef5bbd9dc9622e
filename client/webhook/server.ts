import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { MailmendConfig } from '../../config/schema';
import type { SecretResolver } from '../../config/secrets';
import { createMailmendMetrics, type MailmendMetrics } from '../../platform/metrics';
import { incidentInputFor } from '../../config/incident-input';
import { raiseAlerts } from '../incidents';
import { AlertLanes } from './alert-lanes';
import { registerAlertRoutes } from './alert-routes';
import { requireBearerToken } from './bearer-token';
import type { WebhookContext } from './context';
import { replyToRequestErrors } from './error-replies';
import { registerHealthRoute } from './health-route';
import { registerIncidentRoutes } from './incident-routes';
import { readEveryBodyAsJson } from './json-body';
import { registerMetricsRoute } from './metrics-route';
import { temporalDeadline } from './temporal-deadline';

export type { AcceptedAlert } from './alert-routes';

export interface WebhookDeps {
  config: MailmendConfig;
  secrets: SecretResolver;
  client: Client;
  logger: Logger;
  /** How long one request may wait for Temporal to accept its alerts (or answer a query). Default 5 s. */
  signalTimeoutMs?: number;
  /** How long `/healthz` waits for Temporal. Default 1 s. */
  healthTimeoutMs?: number;
  /** Tests isolate their workflows on their own queue; production uses the default. */
  taskQueue?: string;
  /** Shared with the activities when the worker runs in the same process; the webhook makes its own otherwise. */
  metrics?: MailmendMetrics;
}

/**
 * Builds the HTTP endpoint that Alertmanager and Grafana post alerts to. Every alert becomes a signal-with-start on
 * its server's incident, and the sender gets 202 only after Temporal has durably accepted every alert in the batch, so
 * a 5xx makes the sender retry and nothing is lost.
 *
 * @example
 * const app = buildWebhookServer({ config, secrets, client, logger });
 * const url = await startWebhookServer(app, config.webhook.host, config.webhook.port);
 */
export function buildWebhookServer(deps: WebhookDeps): FastifyInstance {
  const { config, client } = deps;
  const logger = deps.logger.child({ component: 'webhook' });
  const { bearerToken, bodyLimitBytes } = config.webhook;
  const authorize = requireBearerToken(bearerToken ? deps.secrets.resolve(bearerToken) : undefined, logger);

  const app = Fastify({ bodyLimit: bodyLimitBytes, logger: false });
  const withinDeadline = temporalDeadline(app, client);
  const signalTimeoutMs = deps.signalTimeoutMs ?? 5_000;
  const alertLanes = new AlertLanes({
    collapseWindowMs: config.webhook.collapseWindow,
    // A gRPC deadline, not a race: the lane waits until the call has really ended before sending the next batch.
    deliver: (serverId, alerts) =>
      client.connection.withDeadline(Date.now() + signalTimeoutMs, () =>
        raiseAlerts(client, incidentInputFor(config, serverId), alerts, { taskQueue: deps.taskQueue }),
      ),
  });
  app.addHook('onClose', () => alertLanes.idle());
  const context: WebhookContext = {
    config,
    client,
    logger,
    withinDeadline,
    signalTimeoutMs,
    healthTimeoutMs: deps.healthTimeoutMs ?? 1_000,
    metrics: deps.metrics ?? createMailmendMetrics(),
    alertLanes,
    taskQueue: deps.taskQueue,
  };
  readEveryBodyAsJson(app);
  replyToRequestErrors(app, logger, bodyLimitBytes);
  registerAlertRoutes(app, context, authorize);
  registerHealthRoute(app, context);
  registerMetricsRoute(app, context);
  registerIncidentRoutes(app, context);
  return app;
}

/**
 * Listens on `host:port` and resolves with the URL it serves, e.g. `http://127.0.0.1:8080`.
 *
 * @example const url = await startWebhookServer(app, '127.0.0.1', 0);
 */
export async function startWebhookServer(app: FastifyInstance, host: string, port: number): Promise<string> {
  return app.listen({ host, port });
}
