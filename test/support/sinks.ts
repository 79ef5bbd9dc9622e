import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export const LOOPBACK = '127.0.0.1';

export interface ReceivedMail {
  envelopeTo: string[];
  /** Header values by lower-case name; address headers as their display text. */
  headers: Map<string, string>;
  text: string;
  receivedAt: number;
}

export interface SmtpSinkOptions {
  /** When set, the sink requires AUTH with exactly these credentials. */
  auth?: { user: string; pass: string };
  /** Recipients starting with this prefix are refused with 550. */
  refusePrefix?: string;
}

function headerText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'text' in value) return (value as AddressObject).text;
  return String(value);
}

/** A real SMTP server on loopback (the smtp-server package) that keeps every message it accepts. */
export async function startSmtpSink(options: SmtpSinkOptions = {}) {
  const received: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    logger: false,
    disabledCommands: options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    onAuth: (auth, _session, callback) =>
      options.auth && auth.username === options.auth.user && auth.password === options.auth.pass
        ? callback(null, { user: auth.username })
        : callback(new Error('bad credentials')),
    onRcptTo: (address, _session, callback) => {
      if (options.refusePrefix && address.address.startsWith(options.refusePrefix)) {
        return callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }));
      }
      return callback();
    },
    onData: (stream, session, callback) => {
      const envelopeTo = session.envelope.rcptTo.map((recipient) => recipient.address);
      simpleParser(stream)
        .then((parsed) => {
          const headers = new Map<string, string>();
          for (const [name, value] of parsed.headers) headers.set(name, headerText(value));
          received.push({ envelopeTo, headers, text: parsed.text ?? '', receivedAt: Date.now() });
          for (const wake of waiters) wake();
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  server.listen(0, LOOPBACK);
  await once(server.server, 'listening');
  const port = (server.server.address() as net.AddressInfo).port;
  return {
    host: LOOPBACK,
    port,
    received,
    /** Resolves with the first message matching `predicate`, already received or still to come. */
    waitForMail(predicate: (mail: ReceivedMail) => boolean, timeoutMs = 30_000): Promise<ReceivedMail> {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = received.find(predicate);
          if (!found) return false;
          waiters.delete(wake);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const wake = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`no matching mail within ${timeoutMs} ms (${received.length} received)`));
        }, timeoutMs);
        waiters.add(wake);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(resolve)),
  };
}

export interface WebhookRequest {
  path: string;
  contentType: string | undefined;
  body: unknown;
}

/** A chat-style webhook on loopback; `reply` decides how it answers the next requests. */
export async function startWebhookSink() {
  const requests: WebhookRequest[] = [];
  const reply = { status: 200, body: 'ok', hang: false };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Kept as text, so a test can show what a sender got wrong.
      }
      requests.push({ path: request.url ?? '', contentType: request.headers['content-type'], body });
      if (reply.hang) return;
      response.writeHead(reply.status, { 'content-type': 'text/plain' }).end(reply.body);
    });
  });
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    reply,
    requests,
    urlFor: (pathname: string) => `http://${LOOPBACK}:${port}${pathname}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
