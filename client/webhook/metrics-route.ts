import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { WebhookContext } from './context';
import { registerIncidentPhaseGauge } from './incident-phase-gauge';

/** The SDK runtime's exporter is on loopback; a slow answer means it is wedged, and the scrape goes on without it. */
const SDK_SCRAPE_TIMEOUT_MS = 500;

/**
 * `GET /metrics` in Prometheus text format, open like `/healthz`: mailmend's own metrics, then the Temporal SDK
 * runtime's when this process runs a worker. Also times every request into `mailmend_webhook_request_duration_seconds`.
 */
export function registerMetricsRoute(app: FastifyInstance, context: WebhookContext): void {
  const { metrics, logger } = context;
  registerIncidentPhaseGauge(context);
  app.addHook('onResponse', async (request, reply) => {
    // The route's pattern, never the URL: a query string or a server id per series would grow without bound.
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { route, method: request.method, status: String(reply.statusCode) };
    metrics.webhookLatency.observe(labels, reply.elapsedTime / 1_000);
  });
  app.get('/metrics', async (_request, reply) => {
    const [own, sdk] = await Promise.all([
      metrics.registry.metrics(),
      metrics.sdkMetricsAddress ? scrapeSdkMetrics(metrics.sdkMetricsAddress, logger) : undefined,
    ]);
    const text = sdk ? `${own.trimEnd()}\n${sdk.trimEnd()}\n` : own;
    return reply.type(metrics.registry.contentType).send(text);
  });
}

async function scrapeSdkMetrics(address: string, logger: Logger): Promise<string | undefined> {
  try {
    const response = await fetch(`http://${address}/metrics`, { signal: AbortSignal.timeout(SDK_SCRAPE_TIMEOUT_MS) });
    if (response.ok) return await response.text();
    await response.body?.cancel();
    logger.debug({ serverId: null, address, status: response.status }, 'SDK runtime metrics not available');
  } catch (error) {
    logger.debug({ serverId: null, address, err: error }, 'SDK runtime metrics not reachable');
  }
  return undefined;
}
