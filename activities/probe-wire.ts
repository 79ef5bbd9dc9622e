import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { CheckResult } from '../workflows/messages';

/** A check that saw something wrong on the wire: `detail` is what it saw. */
export class ProbeFailure extends Error {
  constructor(
    readonly errorCode: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'ProbeFailure';
  }
}

/** Reads CRLF-terminated lines; a closed or broken connection fails the pending read. */
export class LineReader {
  private buffered = '';
  private readonly lines: string[] = [];
  private failure: Error | undefined;
  private waiting: { resolve(line: string): void; reject(error: Error): void } | undefined;
  private readonly onData = (chunk: string): void => this.receive(chunk);
  private readonly onError = (error: Error): void => this.fail(error);
  private readonly onEnd = (): void =>
    this.fail(new ProbeFailure('CONNECTION_CLOSED', 'connection closed by the server'));
  private readonly onClose = (): void => this.fail(new ProbeFailure('CONNECTION_CLOSED', 'connection closed'));

  constructor(private readonly socket: net.Socket) {
    // latin1 maps every byte to one character, so a garbled banner still reads as text.
    socket.setEncoding('latin1');
    socket.on('data', this.onData).on('error', this.onError).on('end', this.onEnd).on('close', this.onClose);
  }

  next(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** True when the server has sent more than was asked for, which must not happen before a TLS handshake. */
  get hasUnread(): boolean {
    return this.lines.length > 0 || this.buffered.length > 0;
  }

  /** Stops reading, so a TLS layer can take over the socket; its errors are then the TLS socket's to report. */
  detach(): void {
    this.socket.off('data', this.onData).off('error', this.onError).off('end', this.onEnd).off('close', this.onClose);
    this.socket.on('error', () => undefined);
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    let end: number;
    while ((end = this.buffered.indexOf('\n')) >= 0) {
      this.push(this.buffered.slice(0, end).replace(/\r$/, ''));
      this.buffered = this.buffered.slice(end + 1);
    }
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

/** One probe's connection; STARTTLS replaces `socket` and `lines` with their TLS counterparts. */
export interface Conversation {
  socket: net.Socket;
  lines: LineReader;
  /** Names what the check waits for, so a timeout says where it stalled. */
  stage: string;
}

export interface CheckPlan {
  connect: () => net.Socket;
  connectedEvent: 'connect' | 'secureConnect';
  timeoutMs: number;
  /** Returns the detail of a healthy check; a ProbeFailure or socket error makes the check fail. */
  talk: (conversation: Conversation) => Promise<string>;
  /** Sent after a healthy check and awaited only until the deadline, never changing the result. */
  farewell?: string;
}

/** Connects, runs the plan's `talk` and turns whatever happens into a CheckResult within `timeoutMs`. */
export function runCheck({ connect, connectedEvent, timeoutMs, talk, farewell }: CheckPlan): Promise<CheckResult> {
  const startedAt = performance.now();
  const elapsed = () => Math.round(performance.now() - startedAt);
  const socket = connect();
  const conversation: Conversation = { socket, lines: new LineReader(socket), stage: 'the connection' };

  return new Promise<CheckResult>((resolve) => {
    let result: CheckResult | undefined;
    const finish = () => {
      clearTimeout(deadline);
      conversation.socket.destroy();
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
          conversation.socket.write(farewell);
          await conversation.lines.next().catch(() => undefined);
        },
        (error: unknown) => {
          result = failedCheck(error, elapsed());
        },
      )
      .finally(finish);
  });
}

export function failedCheck(error: unknown, latencyMs: number): CheckResult {
  if (error instanceof ProbeFailure) return { ok: false, latencyMs, detail: error.detail, errorCode: error.errorCode };
  const { code, message } = error as NodeJS.ErrnoException;
  return { ok: false, latencyMs, detail: message, errorCode: code ?? 'UNKNOWN' };
}
