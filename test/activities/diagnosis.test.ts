import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createDiagnosisActivities, HOST_VISIT_BUDGET_MS } from '../../activities/diagnosis';
import { HOST_COMMAND_TIMEOUTS } from '../../activities/host-command-timeouts';
import type { MailHostAccess } from '../../activities/mail-host';
import { loadSignatureCatalog } from '../../activities/signatures/catalog';
import { COMMAND_KILL_WAIT_MS, type SshSession } from '../../activities/ssh';
import { serverSchema, type ServerConfig } from '../../config/schema';
import { SecretResolver } from '../../config/secrets';
import { createMailHostAccess } from '../../worker/mail-host-access';
import { NO_CATALOG_ACTION, type CheckResult, type ProbeReport } from '../../workflows/messages';
import { freePort } from '../support/processes';
import { generateEd25519KeyPair } from '../support/sshd';

const refused: CheckResult = { ok: false, latencyMs: 1, detail: 'ECONNREFUSED', errorCode: 'ECONNREFUSED' };
const answered: CheckResult = { ok: true, latencyMs: 2, detail: '* OK IMAP ready' };

/** A host whose SMTP port is closed while its IMAP port answers: the network says Postfix is down. */
async function postfixDownHost(ssh: Record<string, unknown> | undefined) {
  const imap = net.createServer((socket) => {
    // The diagnosis only checks that the port answers, then drops the connection.
    socket.on('error', () => undefined);
    socket.end('* OK IMAP ready\r\n');
  });
  await new Promise<void>((resolve) => imap.listen(0, '127.0.0.1', resolve));
  const imapPort = (imap.address() as net.AddressInfo).port;
  const server: ServerConfig = serverSchema.parse({
    id: 'mx1',
    smtp: { host: '127.0.0.1', port: await freePort() },
    imap: { host: '127.0.0.1', port: imapPort },
    ...(ssh ? { ssh } : {}),
  });
  return { server, close: () => new Promise<void>((resolve) => imap.close(() => resolve())) };
}

function probesOf(server: ServerConfig): ProbeReport {
  return {
    serverId: server.id,
    checkedAt: new Date().toISOString(),
    tcpSmtp: refused,
    smtp: refused,
    imap: answered,
  };
}

function diagnose(server: ServerConfig, withSsh: MailHostAccess['withSsh'], probes = probesOf(server)) {
  const mailHost = { withSsh } as MailHostAccess;
  const { diagnoseOutage } = createDiagnosisActivities({
    servers: new Map([[server.id, server]]),
    mailHost,
    logger: pino({ level: 'silent' }),
    probeTimeoutMs: 1_000,
    signatures: loadSignatureCatalog(),
  });
  const context = { incidentId: 'incident-mx1', serverId: server.id, step: 'troubleshooting' as const };
  return diagnoseOutage({ context, probes });
}

const SSH = {
  host: '127.0.0.1',
  user: 'root',
  hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKey',
  privateKey: { env: 'MAILMEND_TEST_SSH_KEY' },
};
const READY_TIMEOUT_MS = 500;

/** The worker's own SSH access, with a real key, and a handshake timeout short enough for a test. */
async function realSshAccess(): Promise<MailHostAccess['withSsh']> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mailmend-diagnosis-ssh-'));
  try {
    const { privateKey } = await generateEd25519KeyPair(scratch, 'client_key');
    const secrets = new SecretResolver({ MAILMEND_TEST_SSH_KEY: privateKey }, '/');
    const access = createMailHostAccess(secrets, {
      readyTimeoutMs: READY_TIMEOUT_MS,
      keepaliveIntervalMs: 5_000,
      commandTimeoutMs: 5_000,
    });
    return (server, use) => access.withSsh(server, use);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** A port that accepts TCP connections and never says a word, as an sshd whose processes are stopped. */
async function silentPort(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    sockets.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('diagnosis when mailmend cannot reach the host', () => {
  test('SSH refused: the network names the cause, nobody is asked to approve, and people get the commands to run', async () => {
    const sshPort = await freePort();
    const host = await postfixDownHost({ ...SSH, port: sshPort });
    try {
      const diagnosis = await diagnose(host.server, await realSshAccess());

      expect(diagnosis.rootCause).toMatch(/Postfix is not running/);
      expect(diagnosis.recommendation.actionId).toBe(NO_CATALOG_ACTION);
      expect(diagnosis.recommendation.description).toMatch(/^Hand over to people: mailmend cannot run start-postfix/);
      expect(diagnosis.handover).toEqual({
        reason: `mailmend cannot run start-postfix: SSH to 127.0.0.1:${sshPort} refused the connection (ECONNREFUSED): diagnosis from the network only`,
        suggestedCommands: ["'postfix' '-c' '/etc/postfix' 'check'", "'postfix' '-c' '/etc/postfix' 'start'"],
      });
      expect(diagnosis.evidence.at(-1)).toBe(
        `SSH to 127.0.0.1:${sshPort} refused the connection (ECONNREFUSED): diagnosis from the network only`,
      );
      expect(diagnosis.hypotheses?.[0]).toMatchObject({
        source: 'network-smtp-refused',
        actionId: NO_CATALOG_ACTION,
        handover: diagnosis.handover,
      });
    } finally {
      await host.close();
    }
  });

  test('an sshd that takes the connection and never finishes the handshake is named as such, and handed over', async () => {
    const sshd = await silentPort();
    const host = await postfixDownHost({ ...SSH, port: sshd.port });
    try {
      const started = Date.now();
      const diagnosis = await diagnose(host.server, await realSshAccess());

      const why = `SSH to 127.0.0.1:${sshd.port} accepted the connection but did not finish its handshake within 0.5 s`;
      expect(diagnosis.evidence.at(-1)).toBe(`${why}: diagnosis from the network only`);
      expect(diagnosis.recommendation.actionId).toBe(NO_CATALOG_ACTION);
      expect(diagnosis.handover?.reason).toBe(
        `mailmend cannot run start-postfix: ${why}: diagnosis from the network only`,
      );
      expect(Date.now() - started).toBeLessThan(READY_TIMEOUT_MS + 2_000);
    } finally {
      await Promise.all([host.close(), sshd.close()]);
    }
  });

  test('every service answering while the sshd hangs: the hang is the fault in sight, not "no fault"', async () => {
    const sshd = await silentPort();
    const host = await postfixDownHost({ ...SSH, port: sshd.port });
    try {
      const diagnosis = await diagnose(host.server, await realSshAccess(), {
        ...probesOf(host.server),
        tcpSmtp: answered,
        smtp: answered,
      });

      const why = `SSH to 127.0.0.1:${sshd.port} accepted the connection but did not finish its handshake within 0.5 s: diagnosis from the network only`;
      expect(diagnosis.rootCause).toBe(
        `Every service answers from the network, but mailmend cannot look at the host: ${why}`,
      );
      expect(diagnosis.recommendation).toMatchObject({
        actionId: NO_CATALOG_ACTION,
        description: `Hand over to people: ${why}`,
      });
      expect(diagnosis.handover).toEqual({ reason: why, suggestedCommands: [] });
    } finally {
      await Promise.all([host.close(), sshd.close()]);
    }
  });

  test('no SSH configured: the same handover, saying so', async () => {
    const host = await postfixDownHost(undefined);
    try {
      let sshTried = false;
      const diagnosis = await diagnose(host.server, () => {
        sshTried = true;
        return Promise.reject(new Error('must not be called'));
      });

      expect(sshTried).toBe(false);
      expect(diagnosis.recommendation.actionId).toBe(NO_CATALOG_ACTION);
      expect(diagnosis.handover?.reason).toBe(
        'mailmend cannot run start-postfix: no SSH access configured: diagnosis from the network only',
      );
      expect(diagnosis.handover?.suggestedCommands).toHaveLength(2);
    } finally {
      await host.close();
    }
  });
});

describe('diagnosis on a host where every command hangs', () => {
  /** The troubleshooting group's start-to-close (workflows/activity-groups.ts). */
  const TROUBLESHOOTING_START_TO_CLOSE_MS = 180_000;
  /** What the worker's SSH access may spend on the handshake, and again on the disconnect, beside the visit. */
  const WORKER_READY_TIMEOUT_MS = 10_000;

  afterEach(() => jest.restoreAllMocks());

  test('the visit ends within its budget, the hangs are quoted, and what it had no time for is said not run', async () => {
    // A clock that only the host's hangs move: each command runs to its timeout, then takes the longest kill wait.
    let clock = Date.now();
    const visitStarted = clock;
    jest.spyOn(Date, 'now').mockImplementation(() => clock);
    const asked: string[] = [];
    const hangingHost: SshSession = {
      async run(argv, options) {
        const timedOutAfterMs = options?.timeoutMs ?? HOST_COMMAND_TIMEOUTS.remediationStep;
        asked.push(argv.join(' '));
        clock += timedOutAfterMs + COMMAND_KILL_WAIT_MS;
        return { argv: [...argv], exitCode: -1, output: `timed out after ${timedOutAfterMs} ms`, timedOutAfterMs };
      },
    };
    const host = await postfixDownHost({ ...SSH, port: 22 });
    try {
      const diagnosis = await diagnose(host.server, (_server, use) => use(hangingHost), {
        ...probesOf(host.server),
        tcpSmtp: answered,
        smtp: answered,
      });

      const visitMs = clock - visitStarted;
      expect(visitMs).toBeLessThanOrEqual(HOST_VISIT_BUDGET_MS);
      expect(visitMs + 2 * WORKER_READY_TIMEOUT_MS).toBeLessThan(TROUBLESHOOTING_START_TO_CLOSE_MS);
      expect(asked.length).toBeGreaterThan(5);
      expect(diagnosis.rootCause).toMatch(
        /^Commands on the mail host do not answer: `postfix -c \/etc\/postfix status`/,
      );
      expect(diagnosis.recommendation.actionId).toBe(NO_CATALOG_ACTION);
      expect(diagnosis.evidence).toEqual(
        expect.arrayContaining([
          '`postfix -c /etc/postfix status` did not answer within 5 s',
          '`postqueue -c /etc/postfix -j` did not answer within 10 s',
          expect.stringMatching(/^not run, as the visit's time budget was spent: `/),
        ]),
      );
      expect(diagnosis.evidence.join('\n')).not.toMatch(/did not answer within 1 s/);
    } finally {
      await host.close();
    }
  });
});
