import { Connection, type Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { WebhookContext } from './context';

/** `GET /healthz`: the webhook answers while Temporal is down, and says whether Temporal answers too. */
export function registerHealthRoute(app: FastifyInstance, context: WebhookContext): void {
  app.get('/healthz', async () => {
    let temporal: 'up' | 'down' = 'down';
    try {
      temporal = await context.withinDeadline(context.healthTimeoutMs, () => temporalHealth(context.client));
    } catch (error) {
      context.logger.debug({ serverId: null, err: error }, 'Temporal health check failed');
    }
    return { ok: true, temporal };
  });
}

async function temporalHealth(client: Client): Promise<'up' | 'down'> {
  const connection = client.connection;
  if (connection instanceof Connection) {
    const { status } = await connection.healthService.check({});
    // 1 is SERVING in grpc.health.v1.
    return status === 1 ? 'up' : 'down';
  }
  await client.workflowService.getSystemInfo({});
  return 'up';
}
