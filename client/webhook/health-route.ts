import { Connection, type Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import type { WebhookContext } from './context';

/**
 * `GET /healthz`: 200 `{ ok: true, temporal: 'up' }` while Temporal answers, 503 `{ ok: false, temporal: 'down' }`
 * while it does not, so a load balancer or supervisor sees that alerts cannot be accepted.
 */
export function registerHealthRoute(app: FastifyInstance, context: WebhookContext): void {
  app.get('/healthz', async (_request, reply) => {
    let temporal: 'up' | 'down' = 'down';
    try {
      temporal = await context.withinDeadline(context.healthTimeoutMs, () => temporalHealth(context.client));
    } catch (error) {
      context.logger.debug({ serverId: null, err: error }, 'Temporal health check failed');
    }
    return reply.code(temporal === 'up' ? 200 : 503).send({ ok: temporal === 'up', temporal });
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
