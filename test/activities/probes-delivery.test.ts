import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { simpleParser } from 'mailparser';
import pino from 'pino';
import type { SMTPServerDataStream } from 'smtp-server';
import { TOKEN_HEADER } from '../../activities/mail-roundtrip';
import { probeSmtpDelivery, type DeliveryTarget } from '../../activities/probe-delivery';
import { createProbeActivities } from '../../activities/probes';
import { SecretResolver } from '../../config/secrets';
import { serverSchema } from '../../config/schema';
import { freePort } from '../support/processes';
import { createMailHostAccess } from '../../worker/mail-host-access';
import { createTestPki, startSmtpServer, validFor, type TestListener, type TestPki } from './probes-support';

const PROBE_TIMEOUT_MS = 1_000;
const CANARY = 'canary@mx.test';

let pki: TestPki;
const listeners: TestListener[] = [];
beforeAll(async () => {
  pki = await createTestPki();
});
afterAll(() => pki.close());
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((listener) => listener.close()));
});

function target(listener: { port: number }): DeliveryTarget {
  return {
    host: '127.0.0.1',
    port: listener.port,
    mailbox: CANARY,
    trust: { ca: pki.caPem, source: pki.caFile },
    timeoutMs: PROBE_TIMEOUT_MS,
    incidentId: 'incident-mx-delivery',
  };
}

function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}

async function drain(stream: SMTPServerDataStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A server that answers like Postfix, and remembers what arrived and whether the session was encrypted. */
async function queueingServer() {
  const received: { raw: Buffer; secure: boolean; recipients: string[] }[] = [];
  const smtp = await startSmtpServer({
    ...(await pki.issue(validFor(1, 300))),
    onData(stream, session, callback) {
      drain(stream).then((raw) => {
        received.push({ raw, secure: session.secure, recipients: session.envelope.rcptTo.map((to) => to.address) });
        callback(null, 'Ok: queued as 4ABCD12EF');
      }, callback);
    },
  });
  listeners.push(smtp);
  return { smtp, received };
}

/** An SMTP peer that greets and then answers each command line as `answer` says, or not at all. */
async function scriptedSmtp(answer: (line: string, socket: net.Socket) => void): Promise<TestListener> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.write('220 scripted.test ESMTP\r\n');
    socket.on('data', (data) => answer(String(data), socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const listener = {
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  listeners.push(listener);
  return listener;
}

describe('probeSmtpDelivery', () => {
  it('delivers a token message over STARTTLS and records the queue id', async () => {
    const { smtp, received } = await queueingServer();
    const outcome = await probeSmtpDelivery(target(smtp));
    expect(outcome).toEqual({
      check: {
        ok: true,
        latencyMs: expect.any(Number),
        detail: `queued as 4ABCD12EF for ${CANARY}, token ${outcome.token}`,
      },
      token: expect.stringMatching(/^mailmend-probe-[0-9a-f-]{36}$/),
      queueId: '4ABCD12EF',
      sent: true,
    });
    expect(received).toHaveLength(1);
    expect(received[0]?.secure).toBe(true);
    expect(received[0]?.recipients).toEqual([CANARY]);
    const parsed = await simpleParser(received[0]!.raw);
    expect(parsed.headers.get(TOKEN_HEADER.toLowerCase())).toBe(outcome.token);
    expect(parsed.subject).toBe(`mailmend assessment check ${outcome.token}`);
  });

  it('fails with the server reply when RCPT TO is rejected', async () => {
    const smtp = await startSmtpServer({
      onRcptTo(_address, _session, callback) {
        callback(
          smtpError(550, `5.1.1 <${CANARY}>: Recipient address rejected: User unknown in virtual mailbox table`),
        );
      },
    });
    listeners.push(smtp);
    const outcome = await probeSmtpDelivery(target(smtp));
    expect(outcome.sent).toBe(false);
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'RCPT_REJECTED',
      detail: `RCPT: 550 5.1.1 <${CANARY}>: Recipient address rejected: User unknown in virtual mailbox table`,
    });
  });

  it('fails with the server reply when MAIL FROM is rejected', async () => {
    const smtp = await startSmtpServer({
      onMailFrom(_address, _session, callback) {
        callback(smtpError(452, '4.3.1 Insufficient system storage'));
      },
    });
    listeners.push(smtp);
    const outcome = await probeSmtpDelivery(target(smtp));
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'MAIL_REJECTED',
      detail: 'MAIL: 452 4.3.1 Insufficient system storage',
    });
  });

  it('fails when the server cannot queue the message (451 queue file write error)', async () => {
    const smtp = await startSmtpServer({
      onData(stream, _session, callback) {
        drain(stream).then(() => callback(smtpError(451, '4.3.0 Error: queue file write error')), callback);
      },
    });
    listeners.push(smtp);
    const outcome = await probeSmtpDelivery(target(smtp));
    expect(outcome).toMatchObject({ sent: false });
    expect(outcome.queueId).toBeUndefined();
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'DATA_REJECTED',
      detail: 'end of DATA: 451 4.3.0 Error: queue file write error',
    });
  });

  it('gives up at its deadline when the server stalls mid-transaction, and says where', async () => {
    // Answers the greeting, then goes silent once the transaction starts, as a server stuck on its disk would.
    const stalling = await scriptedSmtp((line, socket) => {
      if (line.startsWith('EHLO')) socket.write('250-stall.test\r\n250 8BITMIME\r\n');
    });
    const started = performance.now();
    const outcome = await probeSmtpDelivery(target(stalling));
    const elapsed = performance.now() - started;
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'ETIMEDOUT',
      detail: `no answer within ${PROBE_TIMEOUT_MS}ms waiting for the reply to MAIL`,
    });
    expect(elapsed).toBeGreaterThanOrEqual(PROBE_TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(PROBE_TIMEOUT_MS + 1_000);
  });

  it('fails when the server offers STARTTLS but cannot start it, as Postfix does without its tlsmgr', async () => {
    const server = await scriptedSmtp((line, socket) => {
      if (line.startsWith('EHLO')) socket.write('250-broken.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n');
      if (line.startsWith('STARTTLS')) socket.write('454 4.7.0 TLS not available due to local problem\r\n');
    });
    const outcome = await probeSmtpDelivery(target(server));
    expect(outcome.check).toMatchObject({
      ok: false,
      errorCode: 'STARTTLS_REFUSED',
      detail: 'STARTTLS: 454 4.7.0 TLS not available due to local problem',
    });
  });
});

describe('probeServer with a canary', () => {
  it('runs the delivery and reports the canary check failing when IMAP is closed, within the deadlines', async () => {
    const { smtp, received } = await queueingServer();
    const server = serverSchema.parse({
      id: 'mx-canary',
      smtp: { host: '127.0.0.1', port: smtp.port },
      imap: { host: '127.0.0.1', port: await freePort() },
      canary: { mailbox: CANARY, imapUser: CANARY, imapPassword: { env: 'CANARY_PASSWORD' } },
    });
    const { probeServer } = createProbeActivities({
      servers: new Map([[server.id, server]]),
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      deliveryWaitMs: 500,
      mailHost: createMailHostAccess(new SecretResolver({ CANARY_PASSWORD: 'not-used' }, '/')),
      logger: pino({ level: 'silent' }),
    });
    const report = await probeServer({
      context: { incidentId: 'incident-mx-canary', serverId: server.id, step: 'assessment' },
    });
    expect(report.smtpDelivery).toMatchObject({ ok: true, detail: expect.stringMatching(/^queued as 4ABCD12EF for /) });
    expect(report.imapLogin).toMatchObject({ ok: false, errorCode: 'ECONNREFUSED' });
    expect(received).toHaveLength(1);
    expect(report.elapsedMs).toBeLessThan(PROBE_TIMEOUT_MS * 3);
  });
});
