import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { ImapFlow } from 'imapflow';
import type { CheckResult, ProbeReport } from '../workflows/messages';
import { stepLogger } from './logging';
import { requireServer } from './servers';
import type { MailHostDeps } from './mail-host';
import { checkDeferredQueue } from './queue-check';
import type { ProbeServerInput } from '../workflows/activity-contract';

export interface ProbeDeps extends MailHostDeps {
  probeTimeoutMs: number;
}

/** The name the SMTP probe introduces itself with, so mail server logs show who knocked. */
const EHLO_NAME = 'mailmend.probe';

/** A check that saw something wrong on the wire: `detail` is what it saw. */
class ProbeFailure extends Error {
  constructor(
    readonly errorCode: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'ProbeFailure';
  }
}

/** Reads CRLF-terminated lines; a closed or broken connection fails the pending read. */
class LineReader {
  private buffered = '';
  private readonly lines: string[] = [];
  private failure: Error | undefined;
  private waiting: { resolve(line: string): void; reject(error: Error): void } | undefined;

  constructor(socket: net.Socket) {
    // latin1 maps every byte to one character, so a garbled banner still reads as text.
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let end: number;
      while ((end = this.buffered.indexOf('\n')) >= 0) {
        this.push(this.buffered.slice(0, end).replace(/\r$/, ''));
        this.buffered = this.buffered.slice(end + 1);
      }
    });
    socket.on('error', (error) => this.fail(error));
    socket.on('end', () => this.fail(new ProbeFailure('CONNECTION_CLOSED', 'connection closed by the server')));
    socket.on('close', () => this.fail(new ProbeFailure('CONNECTION_CLOSED', 'connection closed')));
  }

  next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  private push(line: string): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting.resolve(line);
    else this.lines.push(line);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(this.failure);
  }
}

interface Conversation {
  readonly socket: net.Socket;
  readonly lines: LineReader;
  /** Names what the check waits for, so a timeout says where it stalled. */
  stage: string;
}

/**
 * Connects, runs `talk` and turns whatever happens into a CheckResult within `timeoutMs`.
 * `talk` returns the detail of a healthy check; a ProbeFailure or socket error makes the check fail.
 * `farewell` is sent after a healthy check and awaited only until the deadline, never changing the result.
 */
function runCheck(
  connect: () => net.Socket,
  connectedEvent: 'connect' | 'secureConnect',
  timeoutMs: number,
  talk: (conversation: Conversation) => Promise<string>,
  farewell?: string,
): Promise<CheckResult> {
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  const socket = connect();
  const conversation: Conversation = { socket, lines: new LineReader(socket), stage: 'the connection' };

  return new Promise<CheckResult>((resolve) => {
    let result: CheckResult | undefined;
    const finish = () => {
      clearTimeout(deadline);
      socket.destroy();
      resolve(result ?? timedOut());
    };
    const timedOut = (): CheckResult => ({
      ok: false,
      latencyMs: elapsed(),
      detail: `no answer within ${timeoutMs}ms waiting for ${conversation.stage}`,
      errorCode: 'ETIMEDOUT',
    });
    const deadline = setTimeout(finish, timeoutMs);

    const connected = new Promise<void>((connectedResolve, connectedReject) => {
      socket.once(connectedEvent, () => connectedResolve());
      socket.once('error', connectedReject);
    });
    connected
      .then(() => talk(conversation))
      .then(
        async (detail) => {
          result = { ok: true, latencyMs: elapsed(), detail };
          if (farewell === undefined) return;
          socket.write(farewell);
          await conversation.lines.next().catch(() => undefined);
        },
        (error: unknown) => {
          result = failedCheck(error, elapsed());
        },
      )
      .finally(finish);
  });
}

function failedCheck(error: unknown, latencyMs: number): CheckResult {
  if (error instanceof ProbeFailure) return { ok: false, latencyMs, detail: error.detail, errorCode: error.errorCode };
  const { code, message } = error as NodeJS.ErrnoException;
  return { ok: false, latencyMs, detail: message, errorCode: code ?? 'UNKNOWN' };
}

/** Reads one SMTP reply, following `250-` continuation lines, and returns its code and first line. */
async function readSmtpReply(lines: LineReader, malformedCode: string): Promise<{ code: number; firstLine: string }> {
  const firstLine = await lines.next();
  if (!/^\d{3}([ -]|$)/.test(firstLine)) throw new ProbeFailure(malformedCode, firstLine);
  let line = firstLine;
  while (/^\d{3}-/.test(line)) line = await lines.next();
  return { code: Number(firstLine.slice(0, 3)), firstLine };
}

/**
 * Checks that a TCP connection to `host:port` opens within `timeoutMs`.
 *
 * @example await probeTcp('mail.example.org', 25, 5_000) // { ok: true, detail: 'connected to mail.example.org:25', ... }
 */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  return runCheck(
    () => net.connect({ host, port }),
    'connect',
    timeoutMs,
    async () => `connected to ${host}:${port}`,
  );
}

/** Checks that an SMTP server greets with 220 and answers `EHLO mailmend.probe` with 250; detail is the banner. */
export function probeSmtp(host: string, port: number, timeoutMs: number): Promise<CheckResult> {
  return runCheck(
    () => net.connect({ host, port }),
    'connect',
    timeoutMs,
    async (conversation) => {
      conversation.stage = 'the SMTP banner';
      const banner = await readSmtpReply(conversation.lines, 'BAD_GREETING');
      if (banner.code !== 220) throw new ProbeFailure('BAD_GREETING', banner.firstLine);
      conversation.stage = 'the EHLO reply';
      conversation.socket.write(`EHLO ${EHLO_NAME}\r\n`);
      const ehlo = await readSmtpReply(conversation.lines, 'BAD_REPLY');
      if (ehlo.code !== 250) throw new ProbeFailure('EHLO_REJECTED', `${banner.firstLine} / EHLO: ${ehlo.firstLine}`);
      return banner.firstLine;
    },
    'QUIT\r\n',
  );
}

/** Checks that an IMAP server greets with `* OK`, over TLS when `tls` is set; detail is the greeting. */
export function probeImap(host: string, port: number, useTls: boolean, timeoutMs: number): Promise<CheckResult> {
  const connect = useTls
    ? () => tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined })
    : () => net.connect({ host, port });
  return runCheck(
    connect,
    useTls ? 'secureConnect' : 'connect',
    timeoutMs,
    async (conversation) => {
      conversation.stage = 'the IMAP greeting';
      const greeting = await conversation.lines.next();
      if (!/^\* OK\b/i.test(greeting)) throw new ProbeFailure('BAD_GREETING', greeting);
      return greeting;
    },
    'a1 LOGOUT\r\n',
  );
}

/** Logs in as the canary mailbox and out again: proves authentication and mailbox access, not only the greeting. */
async function probeImapLogin(imap: ImapFlow, timeoutMs: number): Promise<CheckResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await imap.connect();
        await imap.mailboxOpen('INBOX', { readOnly: true });
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ProbeFailure('ETIMEDOUT', `no IMAP login within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return { ok: true, latencyMs: elapsed(), detail: 'canary logged in and opened INBOX' };
  } catch (error) {
    const failure = error as Error & { authenticationFailed?: boolean; responseText?: string; code?: string };
    const errorCode =
      error instanceof ProbeFailure
        ? error.errorCode
        : failure.authenticationFailed
          ? 'AUTH_FAILED'
          : (failure.code ?? 'IMAP_ERROR');
    return { ok: false, latencyMs: elapsed(), detail: failure.responseText ?? failure.message, errorCode };
  } finally {
    clearTimeout(timer);
    await imap.logout().catch(() => imap.close());
  }
}

export function createProbeActivities(deps: ProbeDeps) {
  return {
    /** Step 1 of the SOP: looks at the server from outside, SMTP and IMAP at once, each within the probe timeout. */
    async probeServer(input: ProbeServerInput): Promise<ProbeReport> {
      const log = stepLogger(deps.logger, input.context);
      const server = requireServer(deps.servers, input.context.serverId);
      const timeoutMs = deps.probeTimeoutMs;
      const canary = deps.mailHost.canaryImap(server);
      const [tcpSmtp, smtp, imap, imapLogin, deferredQueue] = await Promise.all([
        probeTcp(server.smtp.host, server.smtp.port, timeoutMs),
        probeSmtp(server.smtp.host, server.smtp.port, timeoutMs),
        probeImap(server.imap.host, server.imap.port, server.imap.tls, timeoutMs),
        canary ? probeImapLogin(canary, timeoutMs) : undefined,
        server.ssh ? checkDeferredQueue(deps.mailHost, server, log) : undefined,
      ]);
      const report: ProbeReport = {
        serverId: server.id,
        checkedAt: new Date().toISOString(),
        tcpSmtp,
        smtp,
        imap,
        ...(imapLogin ? { imapLogin } : {}),
        ...(deferredQueue ? { deferredQueue } : {}),
      };
      const healthy = tcpSmtp.ok && smtp.ok && imap.ok && (imapLogin?.ok ?? true) && (deferredQueue?.ok ?? true);
      log[healthy ? 'info' : 'warn'](
        { tcpSmtp, smtp, imap, imapLogin, deferredQueue },
        healthy ? 'mail server answers' : 'mail server check failed',
      );
      return report;
    },
  };
}
