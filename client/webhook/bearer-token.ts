import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { routeOf, type ErrorBody } from './error-replies';

/** A Fastify `onRequest` hook: it either lets the request through or has already sent the refusal. */
export type RequestGate = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * Refuses with 401 any request without `Authorization: Bearer <expectedToken>`. Without an expected token every
 * request passes, as when the webhook listens only where the senders are.
 */
export function requireBearerToken(expectedToken: string | undefined, logger: Logger): RequestGate {
  const expectedDigest = expectedToken === undefined ? undefined : sha256(expectedToken);
  return async (request, reply) => {
    if (!expectedDigest) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    // Comparing digests keeps the comparison constant-time even when the lengths differ.
    if (match?.[1] && timingSafeEqual(sha256(match[1].trim()), expectedDigest)) return;
    logger.warn(
      { serverId: null, route: routeOf(request), tokenPresent: header !== '' },
      'alert refused: bad bearer token',
    );
    await reply
      .code(401)
      .header('WWW-Authenticate', 'Bearer')
      .send({ error: 'unauthorized', reason: 'a valid bearer token is required' } satisfies ErrorBody);
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
