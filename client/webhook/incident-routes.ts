import type { FastifyInstance } from 'fastify';
import { findServerId } from '../../config/incident-input';
import { incidentWorkflowId } from '../../workflows/messages';
import { getIncidentState, IncidentNotFoundError } from '../incidents';
import type { WebhookContext } from './context';
import type { ErrorBody } from './error-replies';
import { replyTemporalFailure } from './error-replies';

/** `GET /incidents/:serverId`: the state of the server's open incident, 404 when it has none. */
export function registerIncidentRoutes(app: FastifyInstance, context: WebhookContext): void {
  const { config, client, logger, signalTimeoutMs } = context;
  app.get<{ Params: { serverId: string } }>('/incidents/:serverId', async (request, reply) => {
    const requested = request.params.serverId;
    const serverId = findServerId(config, requested);
    if (!serverId) {
      logger.warn({ serverId: requested }, 'state requested for an unknown server');
      return reply
        .code(422)
        .send({ error: 'no such mail server', reason: `"${requested}" is not in the config` } satisfies ErrorBody);
    }
    const incidentId = incidentWorkflowId(serverId);
    try {
      const state = await context.withinDeadline(signalTimeoutMs, () => getIncidentState(client, serverId));
      return reply.code(200).send(state);
    } catch (error) {
      if (error instanceof IncidentNotFoundError) {
        logger.info({ serverId, incidentId }, 'state requested, no incident');
        return reply.code(404).send({ error: 'no incident', reason: error.message } satisfies ErrorBody);
      }
      return replyTemporalFailure(reply, logger, error, { serverId, incidentId }, signalTimeoutMs);
    }
  });
}
