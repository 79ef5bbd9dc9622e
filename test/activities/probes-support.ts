import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { labLayout, type LabLayout } from '../../lab/layout';
import { issueServerCertificate, writeLabCertificates, type CertificateValidity } from '../../lab/tls';

const DAY_MS = 24 * 60 * 60_000;

export interface TestPki {
  /** The CA's PEM, as a TlsTrust would carry it. */
  caPem: string;
  caFile: string;
  /** A fresh key and certificate from this CA, valid as asked, for 127.0.0.1, localhost and mx.lab.test. */
  issue(validity: CertificateValidity): Promise<{ key: string; cert: string; notAfter: Date }>;
  close(): Promise<void>;
}

/** A CA and its certificates, made with the openssl CLI in a temp dir by the lab's own TLS code. */
export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-pki-'));
  const layout: LabLayout = labLayout(dir);
  await writeLabCertificates(layout);
  return {
    caPem: await readFile(layout.tlsCaCert, 'utf8'),
    caFile: layout.tlsCaCert,
    async issue(validity) {
      await issueServerCertificate(layout, validity);
      const [key, cert] = await Promise.all([
        readFile(layout.tlsServerKey, 'utf8'),
        readFile(layout.tlsServerCert, 'utf8'),
      ]);
      // openssl keeps whole seconds.
      return { key, cert, notAfter: new Date(Math.floor(validity.notAfter.getTime() / 1000) * 1000) };
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Validity `from` days ago (negative: in the future) `to` days from now. */
export function validFor(fromDaysAgo: number, toDaysAhead: number): CertificateValidity {
  const now = Date.now();
  return { notBefore: new Date(now - fromDaysAgo * DAY_MS), notAfter: new Date(now + toDaysAhead * DAY_MS) };
}

export interface TestListener {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Listens on a free loopback port with `server`, whose connection handler calls `track` on each socket, so `close`
 * can end the connections a silent or half-done conversation leaves open.
 */
export async function listenOnLoopback(
  createServer: (track: (socket: net.Socket) => void) => net.Server,
): Promise<TestListener> {
  const sockets = new Set<net.Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    host: '127.0.0.1',
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A real SMTP server (the smtp-server package); STARTTLS is offered only when given a key and certificate. */
export async function startSmtpServer(
  options: Partial<SMTPServerOptions> & { host?: string },
): Promise<TestListener & { server: SMTPServer }> {
  const host = options.host ?? '127.0.0.1';
  const server = new SMTPServer({
    name: 'smtp.test',
    logger: false,
    authOptional: true,
    ...(options.key ? {} : { disabledCommands: ['STARTTLS'] }),
    ...options,
  });
  server.listen(0, host);
  await once(server.server, 'listening');
  return {
    server,
    host,
    port: (server.server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(resolve)),
  };
}

/**
 * A greeting-and-STARTTLS IMAP responder: enough IMAP for a TLS probe (greeting, `STARTTLS`, `LOGOUT`), over
 * implicit TLS when `implicit`, with the given key and certificate.
 */
export async function startImapTlsServer(
  credentials: { key: string; cert: string },
  implicit: boolean,
): Promise<TestListener> {
  return listenOnLoopback((track) => {
    const serve = (socket: net.Socket, afterStartTls: boolean): void => {
      track(socket);
      if (!afterStartTls) socket.write('* OK [CAPABILITY IMAP4rev1 STARTTLS] test ready\r\n');
      const onData = (data: Buffer): void => {
        const line = String(data);
        if (line.startsWith('a1 STARTTLS')) {
          socket.off('data', onData);
          socket.write('a1 OK Begin TLS negotiation now\r\n');
          serve(new tls.TLSSocket(socket, { isServer: true, ...credentials }), true);
        } else if (/^a\d LOGOUT/.test(line)) {
          socket.end(`* BYE logging out\r\n${line.slice(0, 2)} OK LOGOUT completed\r\n`);
        }
      };
      socket.on('data', onData);
    };
    return implicit
      ? tls.createServer(credentials, (socket) => serve(socket, false))
      : net.createServer((socket) => serve(socket, false));
  });
}
