import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { ApplicationFailure } from '@temporalio/common';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { LOOPBACK } from '../../platform/loopback';
import { createProbeActivities, probeImap, probeSmtp, probeTcp } from '../../activities/probes';
import { SecretResolver } from '../../config/secrets';
import { createMailHostAccess } from '../../worker/mail-host-access';
import { serverSchema, type ServerConfig } from '../../config/schema';
import { FailureType } from '../../workflows/failure-types';
import type { IncidentStepContext } from '../../workflows/messages';
import { freePort } from '../support/processes';

const PROBE_TIMEOUT_MS = 1_000;

interface Listener {
  port: number;
  close(): Promise<void>;
}

/** A real SMTP server; `closedSessions` resolves as sessions end, which shows the probe hung up. */
async function startSmtpServer(): Promise<Listener & { nextSessionClosed(): Promise<void> }> {
  let sessionClosed: () => void = () => undefined;
  const server = new SMTPServer({
    name: 'smtp.test',
    banner: 'mailmend test relay',
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onClose: () => sessionClosed(),
  });
  server.listen(0, LOOPBACK);
  await once(server.server, 'listening');
  return {
    port: (server.server.address() as net.AddressInfo).port,
    nextSessionClosed: () => new Promise<void>((resolve) => (sessionClosed = resolve)),
    close: () => new Promise<void>((resolve) => server.close(resolve)),
  };
}

/** A listener that writes `greeting` and answers `a1 LOGOUT` like an IMAP server; `connections` lets tests wait for hang-ups. */
async function startGreetingServer(greeting: string): Promise<Listener & { connections: net.Socket[] }> {
  const connections: net.Socket[] = [];
  const server = net.createServer((socket) => {
    connections.push(socket);
    socket.on('error', () => undefined);
    socket.write(`${greeting}\r\n`);
    socket.on('data', (data) => {
      if (String(data).startsWith('a1 LOGOUT')) socket.end('* BYE logging out\r\na1 OK LOGOUT completed\r\n');
    });
  });
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: async () => {
      for (const socket of connections) socket.destroy();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/**
 * A loopback port whose SYNs are dropped: a listener with a backlog of 0 that never accepts, filled by
 * connections of our own. Linux then drops further SYNs, so a connect hangs as it would against a firewall.
 */
async function startBlackhole(): Promise<Listener> {
  const program = [
    'import socket, sys',
    's = socket.socket()',
    `s.bind(('${LOOPBACK}', 0))`,
    's.listen(0)',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const listener = spawn('python3', ['-c', program], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(listener, 'exit');
  const [line] = (await once(readline.createInterface({ input: listener.stdout }), 'line')) as [string];
  const port = Number(line);
  const fillers = [net.connect({ host: LOOPBACK, port }), net.connect({ host: LOOPBACK, port })];
  for (const filler of fillers) filler.on('error', () => undefined);
  await once(fillers[0]!, 'connect');
  return {
    port,
    close: async () => {
      for (const filler of fillers) filler.destroy();
      listener.stdin.end();
      await exited;
    },
  };
}

function serverConfig(id: string, smtpPort: number, imapPort: number): ServerConfig {
  return serverSchema.parse({
    id,
    smtp: { host: LOOPBACK, port: smtpPort },
    imap: { host: LOOPBACK, port: imapPort, tls: false },
  });
}

function context(serverId: string): IncidentStepContext {
  return { incidentId: `incident-${serverId}`, serverId, step: 'assessment' };
}

const silentLogger = pino({ level: 'silent' });

describe('probeTcp', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(() => smtp.close());

  it('connects to a listening port', async () => {
    const result = await probeTcp(LOOPBACK, smtp.port, PROBE_TIMEOUT_MS);
    expect(result).toEqual({
      ok: true,
      latencyMs: expect.any(Number),
      detail: `connected to ${LOOPBACK}:${smtp.port}`,
    });
  });

  it('reports ECONNREFUSED for a closed port', async () => {
    const result = await probeTcp(LOOPBACK, await freePort(), PROBE_TIMEOUT_MS);
    expect(result).toMatchObject({
      ok: false,
      errorCode: 'ECONNREFUSED',
      detail: expect.stringContaining('ECONNREFUSED'),
    });
  });
});

describe('probeSmtp', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  beforeAll(async () => {
    smtp = await startSmtpServer();
  });
  afterAll(() => smtp.close());

  it('reads the banner of a real SMTP server, says EHLO and hangs up', async () => {
    const closed = smtp.nextSessionClosed();
    const result = await probeSmtp(LOOPBACK, smtp.port, PROBE_TIMEOUT_MS);
    expect(result).toEqual({
      ok: true,
      latencyMs: expect.any(Number),
      detail: '220 smtp.test ESMTP mailmend test relay',
    });
    await closed;
  });

  it('reports ECONNREFUSED for a closed port', async () => {
    const result = await probeSmtp(LOOPBACK, await freePort(), PROBE_TIMEOUT_MS);
    expect(result).toMatchObject({
      ok: false,
      errorCode: 'ECONNREFUSED',
      detail: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('fails on a 421 banner and shows it', async () => {
    const busy = await startGreetingServer('421 4.3.2 smtp.test too busy, try again later');
    try {
      const result = await probeSmtp(LOOPBACK, busy.port, PROBE_TIMEOUT_MS);
      expect(result).toMatchObject({
        ok: false,
        errorCode: 'BAD_GREETING',
        detail: '421 4.3.2 smtp.test too busy, try again later',
      });
    } finally {
      await busy.close();
    }
  });

  it('fails when the server speaks something other than SMTP', async () => {
    const imapLike = await startGreetingServer('* OK IMAP4rev1 ready');
    try {
      const result = await probeSmtp(LOOPBACK, imapLike.port, PROBE_TIMEOUT_MS);
      expect(result).toMatchObject({ ok: false, errorCode: 'BAD_GREETING', detail: '* OK IMAP4rev1 ready' });
    } finally {
      await imapLike.close();
    }
  });
});

describe('probeImap', () => {
  it('accepts an `* OK` greeting, logs out and leaves no socket open', async () => {
    const imap = await startGreetingServer('* OK [CAPABILITY IMAP4rev1] ready');
    try {
      const result = await probeImap(LOOPBACK, imap.port, false, PROBE_TIMEOUT_MS);
      expect(result).toEqual({ ok: true, latencyMs: expect.any(Number), detail: '* OK [CAPABILITY IMAP4rev1] ready' });
      expect(imap.connections).toHaveLength(1);
      const serverSide = imap.connections[0]!;
      // The server only half-closes after LOGOUT; the socket closes fully once the probe has destroyed its end.
      if (!serverSide.closed) await once(serverSide, 'close');
    } finally {
      await imap.close();
    }
  });

  it('fails on a `* BYE` greeting', async () => {
    const imap = await startGreetingServer('* BYE too many connections');
    try {
      const result = await probeImap(LOOPBACK, imap.port, false, PROBE_TIMEOUT_MS);
      expect(result).toMatchObject({ ok: false, errorCode: 'BAD_GREETING', detail: '* BYE too many connections' });
    } finally {
      await imap.close();
    }
  });

  it('reports ECONNREFUSED for a closed port, with and without TLS', async () => {
    const port = await freePort();
    for (const tls of [false, true]) {
      const result = await probeImap(LOOPBACK, port, tls, PROBE_TIMEOUT_MS);
      expect(result).toMatchObject({ ok: false, errorCode: 'ECONNREFUSED' });
    }
  });
});

describe('a blackholed connect', () => {
  let blackhole: Listener;
  beforeAll(async () => {
    blackhole = await startBlackhole();
  });
  afterAll(() => blackhole.close());

  it.each([
    ['probeTcp', () => probeTcp(LOOPBACK, blackhole.port, PROBE_TIMEOUT_MS)],
    ['probeSmtp', () => probeSmtp(LOOPBACK, blackhole.port, PROBE_TIMEOUT_MS)],
    ['probeImap', () => probeImap(LOOPBACK, blackhole.port, false, PROBE_TIMEOUT_MS)],
    ['probeImap over TLS', () => probeImap(LOOPBACK, blackhole.port, true, PROBE_TIMEOUT_MS)],
  ])('%s gives up with ETIMEDOUT at the probe timeout', async (_name, probe) => {
    const startedAt = performance.now();
    const result = await probe();
    const elapsed = performance.now() - startedAt;
    expect(result).toEqual({
      ok: false,
      latencyMs: expect.any(Number),
      detail: `no answer within ${PROBE_TIMEOUT_MS}ms waiting for the connection`,
      errorCode: 'ETIMEDOUT',
    });
    expect(elapsed).toBeGreaterThanOrEqual(PROBE_TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(PROBE_TIMEOUT_MS + 1_500);
  });
});

describe('probeServer', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  let imap: Awaited<ReturnType<typeof startGreetingServer>>;
  let blackhole: Listener;
  beforeAll(async () => {
    [smtp, imap, blackhole] = await Promise.all([
      startSmtpServer(),
      startGreetingServer('* OK [CAPABILITY IMAP4rev1] ready'),
      startBlackhole(),
    ]);
  });
  afterAll(() => Promise.all([smtp.close(), imap.close(), blackhole.close()]));

  it('reports a healthy server', async () => {
    const { probeServer } = createProbeActivities({
      servers: new Map([['mx1', serverConfig('mx1', smtp.port, imap.port)]]),
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      mailHost: createMailHostAccess(new SecretResolver({}, '/')),
      logger: silentLogger,
    });
    const report = await probeServer({ context: context('mx1') });
    expect(report).toEqual({
      serverId: 'mx1',
      checkedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      tcpSmtp: { ok: true, latencyMs: expect.any(Number), detail: `connected to ${LOOPBACK}:${smtp.port}` },
      smtp: { ok: true, latencyMs: expect.any(Number), detail: '220 smtp.test ESMTP mailmend test relay' },
      imap: { ok: true, latencyMs: expect.any(Number), detail: '* OK [CAPABILITY IMAP4rev1] ready' },
      elapsedMs: expect.any(Number),
    });
  });

  it('finishes within the probe timeout when every port is blackholed', async () => {
    const { probeServer } = createProbeActivities({
      servers: new Map([['mx-dark', serverConfig('mx-dark', blackhole.port, blackhole.port)]]),
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      mailHost: createMailHostAccess(new SecretResolver({}, '/')),
      logger: silentLogger,
    });
    const startedAt = performance.now();
    const report = await probeServer({ context: context('mx-dark') });
    expect(performance.now() - startedAt).toBeLessThan(PROBE_TIMEOUT_MS + 1_500);
    for (const check of [report.tcpSmtp, report.smtp, report.imap]) {
      expect(check).toMatchObject({ ok: false, errorCode: 'ETIMEDOUT' });
    }
  });

  it('refuses an unknown server without retrying', async () => {
    const { probeServer } = createProbeActivities({
      servers: new Map([['mx1', serverConfig('mx1', smtp.port, imap.port)]]),
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      mailHost: createMailHostAccess(new SecretResolver({}, '/')),
      logger: silentLogger,
    });
    const failure = await probeServer({ context: context('mx9') }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      type: FailureType.UnknownServer,
      nonRetryable: true,
      message: 'no mail server "mx9" in the config',
    });
  });
});
