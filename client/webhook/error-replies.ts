import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { MalformedBodyError } from './json-body';

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
      logger.warn({ serverId: null, route: request.url, reason: error.message }, 'malformed alert body');
      return reply.code(400).send({ error: 'malformed JSON', reason: error.message } satisfies ErrorBody);
    }
    if (statusCode === 413) {
      logger.warn({ serverId: null, route: request.url, limit: bodyLimitBytes }, 'alert body too large');
      return reply.code(413).send({
        error: 'body too large',
        reason: `limit is ${bodyLimitBytes} bytes`,
      } satisfies ErrorBody);
    }
    if (statusCode >= 400 && statusCode < 500) {
      return reply.code(statusCode).send({ error: error.message } satisfies ErrorBody);
    }
    logger.error({ serverId: null, route: request.url, err: error }, 'webhook request failed');
    return reply.code(500).send({ error: 'internal error' } satisfies ErrorBody);
  });
}
