import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import type { CommandRun } from '../../activities/host-evidence-types';
import type { MailHostAccess } from '../../activities/mail-host';
import { createProbeActivities } from '../../activities/probes';
import { checkDeferredQueue } from '../../activities/queue-check';
import { COMMAND_KILL_WAIT_MS, type SshOptions, type SshSession } from '../../activities/ssh';
import { serverSchema, type ServerConfig } from '../../config/schema';
import { SecretResolver } from '../../config/secrets';
import type { ProbeServerInput } from '../../workflows/activity-contract';
import type { IncidentStepContext, ProbeReport } from '../../workflows/messages';
import { createMailHostAccess } from '../../worker/mail-host-access';
import { freePort } from '../support/processes';
import { generateEd25519KeyPair } from '../support/sshd';
import { listenOnLoopback, startSmtpServer, type TestListener } from './probes-support';

const silentLogger = pino({ level: 'silent' });
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey';

/** A port that accepts every connection and never writes a byte: a frozen daemon, or an sshd that is stopped. */
function startSilentListener(): Promise<TestListener> {
  return listenOnLoopback((track) => net.createServer(track));
}

/** An IMAP greeting, enough for the reachability probe. */
function startImapGreeter(): Promise<TestListener> {
  return listenOnLoopback((track) =>
    net.createServer((socket) => {
      track(socket);
      socket.write('* OK [CAPABILITY IMAP4rev1] ready\r\n');
      socket.on('data', (data) => {
        if (String(data).startsWith('a1 LOGOUT')) socket.end('* BYE logging out\r\na1 OK LOGOUT completed\r\n');
      });
    }),
  );
}

function context(serverId: string): IncidentStepContext {
  return { incidentId: `incident-${serverId}`, serverId, step: 'assessment' };
}

const SECRETS_ENV = { MAILMEND_TEST_SSH_KEY: '', MAILMEND_TEST_CANARY: 'canary-password' };

describe('probeServer reports what answered by its deadline', () => {
  let sshKey: string;
  beforeAll(async () => {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'mailmend-probe-ssh-'));
    try {
      sshKey = (await generateEd25519KeyPair(scratch, 'client_key')).privateKey;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  function mailHost(sshOptions: Partial<SshOptions> = {}) {
    const secrets = new SecretResolver({ ...SECRETS_ENV, MAILMEND_TEST_SSH_KEY: sshKey }, '/');
    return createMailHostAccess(secrets, {
      readyTimeoutMs: 10_000,
      keepaliveIntervalMs: 5_000,
      commandTimeoutMs: 5_000,
      ...sshOptions,
    });
  }

  function server(id: string, ports: { smtp: number; imap: number; ssh: number }, extra: Record<string, unknown> = {}) {
    return serverSchema.parse({
      id,
      smtp: { host: '127.0.0.1', port: ports.smtp },
      imap: { host: '127.0.0.1', port: ports.imap, tls: false },
      ssh: {
        host: '127.0.0.1',
        port: ports.ssh,
        user: 'root',
        hostKey: HOST_KEY,
        privateKey: { env: 'MAILMEND_TEST_SSH_KEY' },
      },
      ...extra,
    });
  }

  test('ports that accept and never answer fail as silent; the optional checks still waiting are unchecked', async () => {
    const silent = await startSilentListener();
    try {
      const mx = server(
        'mx-silent',
        { smtp: silent.port, imap: silent.port, ssh: silent.port },
        {
          imap: { host: '127.0.0.1', port: silent.port, tls: false, starttls: true },
          canary: {
            mailbox: 'canary@example.test',
            imapUser: 'canary@example.test',
            imapPassword: { env: 'MAILMEND_TEST_CANARY' },
          },
        },
      );
      const { probeServer } = createProbeActivities({
        servers: new Map([[mx.id, mx]]),
        // Longer than the deadline: only the deadline can end these probes in time.
        probeTimeoutMs: 5_000,
        mailHost: mailHost(),
        logger: silentLogger,
      });

      const started = performance.now();
      const report = await probeServer({ context: context(mx.id), deadlineMs: 1_000 });

      expect(performance.now() - started).toBeLessThan(1_000);
      expect(report.tcpSmtp).toMatchObject({ ok: true });
      const noAnswer = { ok: false, latencyMs: 500, detail: 'no answer within 0.5 s', errorCode: 'ETIMEDOUT' };
      expect(report.smtp).toEqual(noAnswer);
      expect(report.imap).toEqual(noAnswer);
      expect(report.unchecked).toEqual(
        ['imap-login', 'deferred-queue', 'smtp-delivery', 'smtp-tls', 'imap-tls'].map((check) => ({
          check,
          reason: 'no answer within 0.5 s',
        })),
      );
      for (const check of ['imapLogin', 'deferredQueue', 'smtpDelivery', 'smtpTls', 'imapTls'] as const) {
        expect(report[check]).toBeUndefined();
      }
    } finally {
      await silent.close();
    }
  });

  test('an attempt that starts late reports within what the schedule-to-close timeout has left', async () => {
    const silent = await startSilentListener();
    try {
      const mx = server('mx-late', { smtp: silent.port, imap: silent.port, ssh: silent.port });
      const { probeServer } = createProbeActivities({
        servers: new Map([[mx.id, mx]]),
        probeTimeoutMs: 5_000,
        mailHost: mailHost(),
        logger: silentLogger,
      });
      // Scheduled 8 s ago with 10 s to close: a worker that picked it up late has 2 s, not the 9 s the input says.
      const scheduledLate = new MockActivityEnvironment({
        scheduledTimestampMs: Date.now() - 8_000,
        scheduleToCloseTimeoutMs: 10_000,
        startToCloseTimeoutMs: 10_000,
      });

      const started = performance.now();
      const report = await scheduledLate.run<[ProbeServerInput], ProbeReport, typeof probeServer>(probeServer, {
        context: context(mx.id),
        deadlineMs: 9_000,
      });

      expect(performance.now() - started).toBeLessThan(1_500);
      expect(report.smtp).toMatchObject({ ok: false, detail: 'no answer within 0.5 s', errorCode: 'ETIMEDOUT' });
    } finally {
      await silent.close();
    }
  });

  describe('with SMTP and IMAP answering', () => {
    let smtp: TestListener;
    let imap: TestListener;
    beforeAll(async () => {
      [smtp, imap] = await Promise.all([startSmtpServer({}), startImapGreeter()]);
    });
    afterAll(() => Promise.all([smtp.close(), imap.close()]));

    async function probeWithSshOn(sshPort: number, sshOptions: Partial<SshOptions>) {
      const mx = server('mx1', { smtp: smtp.port, imap: imap.port, ssh: sshPort });
      const { probeServer } = createProbeActivities({
        servers: new Map([[mx.id, mx]]),
        probeTimeoutMs: 2_000,
        mailHost: mailHost(sshOptions),
        logger: silentLogger,
      });
      return probeServer({ context: context(mx.id), deadlineMs: 5_000 });
    }

    test('an sshd that never finishes its handshake leaves the queue unchecked, saying so', async () => {
      const sshd = await startSilentListener();
      try {
        const report = await probeWithSshOn(sshd.port, { readyTimeoutMs: 300 });

        expect([report.tcpSmtp.ok, report.smtp.ok, report.imap.ok]).toEqual([true, true, true]);
        expect(report.deferredQueue).toBeUndefined();
        expect(report.unchecked).toEqual([
          {
            check: 'deferred-queue',
            reason: `SSH to 127.0.0.1:${sshd.port} accepted the connection but did not finish its handshake within 0.3 s`,
          },
        ]);
      } finally {
        await sshd.close();
      }
    });

    test('a CA file that never reads holds back neither the ports nor the report: the TLS checks are unchecked', async () => {
      const mx = server('mx1', { smtp: smtp.port, imap: imap.port, ssh: await freePort() });
      const { probeServer } = createProbeActivities({
        servers: new Map([[mx.id, mx]]),
        probeTimeoutMs: 2_000,
        mailHost: { ...mailHost({}), tlsTrust: () => new Promise(() => undefined) },
        logger: silentLogger,
      });

      const started = performance.now();
      const report = await probeServer({ context: context(mx.id), deadlineMs: 1_000 });

      expect(performance.now() - started).toBeLessThan(1_000);
      expect([report.tcpSmtp.ok, report.smtp.ok, report.imap.ok]).toEqual([true, true, true]);
      expect(report.unchecked).toEqual(
        expect.arrayContaining([
          { check: 'smtp-tls', reason: 'no answer within 0.5 s' },
          { check: 'imap-tls', reason: 'no answer within 0.5 s' },
        ]),
      );
    });

    test('a refused SSH port leaves the queue unchecked, saying it was refused', async () => {
      const sshPort = await freePort();
      const report = await probeWithSshOn(sshPort, {});

      expect(report.unchecked).toEqual([
        { check: 'deferred-queue', reason: `SSH to 127.0.0.1:${sshPort} refused the connection (ECONNREFUSED)` },
      ]);
    });
  });
});

describe('checkDeferredQueue when postqueue hangs', () => {
  const POSTQUEUE = 'postqueue -c /etc/postfix -j';
  const FIND_DEFERRED = 'find /var/spool/postfix/deferred -type f -printf .';
  const hung = (timedOutAfterMs: number): Partial<CommandRun> => ({
    exitCode: -1,
    output: `timed out after ${timedOutAfterMs} ms`,
    timedOutAfterMs,
  });
  /** A host whose postqueue was killed at its timeout, and whose queue directories hold `deferred` files. */
  function hostWithHungPostqueue(deferred: number): MailHostAccess {
    return hostAnswering({
      [POSTQUEUE]: hung(10_000),
      [FIND_DEFERRED]: { output: '.'.repeat(deferred) },
      'find /var/spool/postfix/active -type f -printf .': { output: '' },
    });
  }
  /** A host that knows where its queue is and answers `answers` by the joined argv, 127 otherwise. */
  function hostAnswering(script: Record<string, Partial<CommandRun>>): MailHostAccess {
    const answers: Record<string, Partial<CommandRun>> = {
      'postconf -c /etc/postfix -h queue_directory': { output: '/var/spool/postfix\n' },
      ...script,
    };
    const session: SshSession = {
      async run(argv) {
        const answer = answers[argv.join(' ')] ?? { exitCode: 127, output: 'not found' };
        const timedOut = answer.timedOutAfterMs !== undefined ? { timedOutAfterMs: answer.timedOutAfterMs } : {};
        return { argv: [...argv], exitCode: answer.exitCode ?? 0, output: answer.output ?? '', ...timedOut };
      },
    };
    return { withSsh: (_server, use) => use(session) } as MailHostAccess;
  }
  const mx = (deferredThreshold: number) =>
    serverSchema.parse({
      id: 'mx1',
      smtp: { host: 'mx1', port: 25 },
      imap: { host: 'mx1', port: 143 },
      ssh: { host: 'mx1', port: 22, user: 'root', hostKey: HOST_KEY, privateKey: { env: 'K' } },
      host: { deferredThreshold },
    }) as ServerConfig & { ssh: NonNullable<ServerConfig['ssh']> };

  test('the queue files are counted, the check still answers by its threshold, and says postqueue did not', async () => {
    expect(await checkDeferredQueue(hostWithHungPostqueue(3), mx(10), silentLogger)).toEqual({
      check: {
        ok: true,
        latencyMs: expect.any(Number),
        detail: `3 deferred (threshold 10); \`${POSTQUEUE}\` did not answer within 10 s, so the queue files were counted`,
      },
    });
    expect(await checkDeferredQueue(hostWithHungPostqueue(3), mx(0), silentLogger)).toMatchObject({
      check: {
        ok: false,
        errorCode: 'DEFERRED_BACKLOG',
        detail: expect.stringMatching(/^3 deferred \(threshold 0\); `/),
      },
    });
  });

  test('a queue never counted, postqueue and the count both hanging, is unchecked and quotes both', async () => {
    const host = hostAnswering({
      [POSTQUEUE]: hung(10_000),
      [FIND_DEFERRED]: hung(15_000),
    });

    expect(await checkDeferredQueue(host, mx(10), silentLogger)).toEqual({
      unchecked: {
        check: 'deferred-queue',
        reason:
          `the queue was never counted: \`${POSTQUEUE}\` did not answer within 10 s; ` +
          `\`${FIND_DEFERRED}\` did not answer within 15 s`,
      },
    });
  });

  test('with the probes deadline, the commands fit in what is left of it, so the reason quotes them', async () => {
    // A clock that only the host moves: each command runs to its timeout, then takes the longest kill wait.
    let clock = Date.now();
    const spy = jest.spyOn(Date, 'now').mockImplementation(() => clock);
    try {
      const deadlineAt = clock + 25_000;
      const everythingHangs: SshSession = {
        async run(argv, options) {
          const timedOutAfterMs = options?.timeoutMs ?? 0;
          clock += timedOutAfterMs + COMMAND_KILL_WAIT_MS;
          return { argv: [...argv], exitCode: -1, output: `timed out after ${timedOutAfterMs} ms`, timedOutAfterMs };
        },
      };
      const host = { withSsh: (_server, use) => use(everythingHangs) } as MailHostAccess;

      const answer = await checkDeferredQueue(host, mx(10), silentLogger, {
        remainingMs: () => Math.max(0, deadlineAt - Date.now()),
      });

      expect(clock).toBeLessThanOrEqual(deadlineAt);
      expect(answer).toEqual({
        unchecked: {
          check: 'deferred-queue',
          reason: expect.stringMatching(
            /^the queue was never counted: `postqueue -c \/etc\/postfix -j` did not answer within 10 s; /,
          ) as unknown,
        },
      });
    } finally {
      spy.mockRestore();
    }
  });
});
