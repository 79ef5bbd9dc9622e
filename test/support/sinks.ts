import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import type { Readable } from 'node:stream';
import { simpleParser, type AddressObject } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { LOOPBACK } from '../../platform/loopback';

export interface ReceivedMail {
  envelopeTo: string[];
  /** Header values by lower-case name; address headers as their display text. */
  headers: Map<string, string>;
  text: string;
  receivedAt: number;
}

interface SmtpSinkOptions {
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

export interface SmtpSink {
  host: string;
  port: number;
  received: ReceivedMail[];
  /** Resolves with the first message matching `predicate`, already received or still to come. */
  waitForMail(predicate: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** A real SMTP server on loopback (the smtp-server package) that keeps every message it accepts. */
export async function startSmtpSink(options: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const inbox = watchedInbox();
  const server = new SMTPServer({
    ...sinkPolicy(options),
    onData: (stream, session, callback) => {
      const envelopeTo = session.envelope.rcptTo.map((recipient) => recipient.address);
      readMail(stream, envelopeTo)
        .then((mail) => {
          inbox.add(mail);
          callback();
        })
        .catch((error: Error) => callback(error));
    },
  });
  server.listen(0, LOOPBACK);
  await once(server.server, 'listening');
  return {
    host: LOOPBACK,
    port: (server.server.address() as net.AddressInfo).port,
    received: inbox.received,
    waitForMail: inbox.waitFor,
    close: () => new Promise<void>((resolve) => server.close(resolve)),
  };
}

/** Who may send to the sink: AUTH only when `options.auth` is set, and recipients under `refusePrefix` refused. */
function sinkPolicy(options: SmtpSinkOptions): SMTPServerOptions {
  return {
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
  };
}

async function readMail(stream: Readable, envelopeTo: string[]): Promise<ReceivedMail> {
  const parsed = await simpleParser(stream);
  const headers = new Map<string, string>();
  for (const [name, value] of parsed.headers) headers.set(name, headerText(value));
  return { envelopeTo, headers, text: parsed.text ?? '', receivedAt: Date.now() };
}

/** The received messages, and a way to wait for one that has not arrived yet. */
function watchedInbox() {
  const received: ReceivedMail[] = [];
  const arrivals = new EventEmitter();
  return {
    received,
    add(mail: ReceivedMail): void {
      received.push(mail);
      arrivals.emit('mail');
    },
    waitFor(predicate: (mail: ReceivedMail) => boolean, timeoutMs = 30_000): Promise<ReceivedMail> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = received.find(predicate);
          if (!found) return;
          arrivals.off('mail', check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          arrivals.off('mail', check);
          reject(new Error(`no matching mail within ${timeoutMs} ms (${received.length} received)`));
        }, timeoutMs);
        arrivals.on('mail', check);
        check();
      });
    },
  };
}

interface WebhookRequest {
  path: string;
  contentType: string | undefined;
  body: unknown;
}

export type WebhookSink = Awaited<ReturnType<typeof startWebhookSink>>;

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
