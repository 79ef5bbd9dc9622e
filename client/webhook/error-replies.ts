import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { isTemporalUnavailable } from '../../platform/temporal/connection';
import { MalformedBodyError } from './json-body';
import { TemporalTimeoutError } from './temporal-deadline';

const RETRY_AFTER_SECONDS = 15;

/** The path a request was for, without its query string: a token passed as `?token=` must never reach the log. */
export function routeOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '';
}

/** What every error response looks like: what went wrong, and the detail a sender's operator needs. */
export interface ErrorBody {
  error: string;
  reason?: string;
}

/**
 * Answers what a route or the body parser throws: the sender's own mistakes (bad JSON, too large, other 4xx) with
 * their reason, anything else as a logged 500 that reveals nothing.
 */
export function replyToRequestErrors(app: FastifyInstance, logger: Logger, bodyLimitBytes: number): void {
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const statusCode = error.statusCode ?? 500;
    if (error instanceof MalformedBodyError) {
      logger.warn({ serverId: null, route: routeOf(request), reason: error.message }, 'malformed alert body');
      return reply.code(400).send({ error: 'malformed JSON', reason: error.message } satisfies ErrorBody);
    }
    if (statusCode === 413) {
      logger.warn({ serverId: null, route: routeOf(request), limit: bodyLimitBytes }, 'alert body too large');
      return reply.code(413).send({
        error: 'body too large',
        reason: `limit is ${bodyLimitBytes} bytes`,
      } satisfies ErrorBody);
    }
    if (statusCode >= 400 && statusCode < 500) {
      return reply.code(statusCode).send({ error: error.message } satisfies ErrorBody);
    }
    logger.error({ serverId: null, route: routeOf(request), err: error }, 'webhook request failed');
    return reply.code(500).send({ error: 'internal error' } satisfies ErrorBody);
  });
}

/** What a log line about a failed Temporal call names. */
interface TemporalCallContext {
  serverId: string;
  incidentId?: string;
  source?: string;
}

/**
 * 503 with Retry-After when Temporal is down or too slow, so the sender tries again later; 500 for anything else.
 */
export function replyTemporalFailure(
  reply: FastifyReply,
  logger: Logger,
  error: unknown,
  context: TemporalCallContext,
  timeoutMs: number,
): FastifyReply {
  if (error instanceof TemporalTimeoutError || isTemporalUnavailable(error)) {
    logger.warn({ ...context, err: error }, 'Temporal is unavailable');
    return reply
      .code(503)
      .header('Retry-After', String(RETRY_AFTER_SECONDS))
      .send({
        error: 'Temporal is unavailable',
        reason: `Temporal did not answer within ${timeoutMs} ms`,
      } satisfies ErrorBody);
  }
  logger.error({ ...context, err: error }, 'Temporal call failed');
  return reply.code(500).send({ error: 'internal error' } satisfies ErrorBody);
}
