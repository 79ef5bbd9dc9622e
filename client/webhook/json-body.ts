import type { FastifyInstance } from 'fastify';

/** The body could not be read as JSON; the reason is safe to return because it describes the sender's own bytes. */
export class MalformedBodyError extends Error {
  readonly statusCode = 400;
  constructor(reason: string, options?: ErrorOptions) {
    super(reason, options);
    this.name = 'MalformedBodyError';
  }
}

/** Senders differ in the content type they claim, so every body is read as JSON, with our own reason when it is not. */
export function readEveryBodyAsJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(new MalformedBodyError('the body is empty, expected JSON'), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text, dropPrototypeKeys));
    } catch (error) {
      done(
        new MalformedBodyError(`the body is not valid JSON: ${(error as Error).message}`, { cause: error }),
        undefined,
      );
    }
  });
}

function dropPrototypeKeys(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}
