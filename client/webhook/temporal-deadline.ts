import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';

/** Temporal did not finish within the time the sender can wait. */
export class TemporalTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`Temporal did not answer within ${timeoutMs} ms`);
    this.name = 'TemporalTimeoutError';
  }
}

/** Runs one Temporal call and rejects with {@link TemporalTimeoutError} once `timeoutMs` has passed. */
export type TemporalDeadline = <T>(timeoutMs: number, call: () => Promise<T>) => Promise<T>;

/**
 * The SDK's retry interceptor can overrun a gRPC deadline by a whole backoff interval, and a retry that fires after
 * the connection closed throws from a timer. So the sender gets its answer at the deadline, and closing the app
 * waits for the calls still backing off.
 */
export function temporalDeadline(app: FastifyInstance, client: Client): TemporalDeadline {
  const lateCalls = new Set<Promise<unknown>>();
  app.addHook('onClose', async () => {
    await Promise.allSettled([...lateCalls]);
  });
  return async <T>(timeoutMs: number, call: () => Promise<T>): Promise<T> => {
    const work = client.connection.withDeadline(Date.now() + timeoutMs, call);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TemporalTimeoutError(timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([work, timedOut]);
    } finally {
      clearTimeout(timer);
      const settled: Promise<unknown> = work.catch(() => undefined).finally(() => lateCalls.delete(settled));
      lateCalls.add(settled);
    }
  };
}
