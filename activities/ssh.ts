import { createHash, timingSafeEqual } from 'node:crypto';
import { constants } from 'node:os';
import { Client, type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import { inSeconds } from './host-command-timeouts';
import type { CommandRun } from './host-evidence-types';

/** Where to connect and as whom. `privateKey` is the resolved secret; it is handed to ssh2 and never printed. */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** The pinned host key as `ssh-ed25519 AAAA...`, as in known_hosts without the host name. */
  hostKey: string;
  privateKey: string;
}

export interface SshOptions {
  readyTimeoutMs: number;
  keepaliveIntervalMs: number;
  /** The default limit for each command; `run` may set its own. */
  commandTimeoutMs: number;
}

export interface RunOptions {
  /** How long the command may run before it is killed; see HOST_COMMAND_TIMEOUTS for the limits activities use. */
  timeoutMs?: number;
  /** How much output to keep, from the end. Defaults to 8 KiB; listings that are parsed ask for more. */
  maxOutputBytes?: number;
}

export interface SshSession {
  /**
   * Runs one command on its own exec channel and resolves with its exit code and combined output, whatever the exit
   * code (127: no such program; 128 + N: killed by signal N). A command that outlives its timeout is killed with its
   * process group (SIGKILL), its channel is closed, and it resolves with exit code -1, `timedOutAfterMs` set and
   * output ending in `timed out after N ms`, at most COMMAND_KILL_WAIT_MS after its timeout. Rejects only when the
   * connection itself fails, with that failure as the cause.
   */
  run(argv: readonly string[], options?: RunOptions): Promise<CommandRun>;
}

/** The server presented a different key than the config pins: nothing was authenticated and nothing ran. */
export class HostKeyMismatchError extends Error {
  constructor(
    readonly endpoint: string,
    readonly presentedFingerprint: string,
    readonly expectedFingerprint: string,
    options: { cause: unknown },
  ) {
    super(
      `host key of ${endpoint} is ${presentedFingerprint}, but the config pins ${expectedFingerprint}; refused to connect`,
      options,
    );
    this.name = 'HostKeyMismatchError';
  }
}

/**
 * The SSH handshake did not finish within `readyTimeoutMs`: nothing was authenticated and nothing ran. `connected`
 * tells a server that took the TCP connection and then said nothing (a stopped sshd) from one that never took it.
 */
export class SshHandshakeTimeoutError extends Error {
  /** What ssh2 calls its own timeouts, so a caller that looks at `level` still sees one. */
  readonly level = 'client-timeout';

  constructor(
    readonly endpoint: string,
    readonly timeoutMs: number,
    readonly connected: boolean,
    options: { cause: unknown },
  ) {
    super(
      connected
        ? `SSH to ${endpoint} accepted the connection but did not finish its handshake within ${inSeconds(timeoutMs)}`
        : `SSH to ${endpoint} did not accept a connection within ${inSeconds(timeoutMs)}`,
      options,
    );
    this.name = 'SshHandshakeTimeoutError';
  }
}

const DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024;
const KEEPALIVE_COUNT_MAX = 3;

/** The host key algorithms a pinned key type may be presented under, so the server offers exactly that key. */
const HOST_KEY_ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** OpenSSH's fingerprint of a public key blob: `SHA256:` and unpadded base64. */
export function sshFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/**
 * Turns argv into a command line for the remote POSIX shell: every element single-quoted, so `$`, backticks, `;`,
 * `|` and globs reach the program literally.
 *
 * @example shellQuote(['printf', '%s', "it's"]) // => `'printf' '%s' 'it'\''s'`
 */
export function shellQuote(argv: readonly string[]): string {
  if (argv.length === 0) throw new TypeError('argv must name a program');
  return argv
    .map((element) => {
      if (element.includes('\0')) throw new TypeError('argv elements cannot contain NUL bytes');
      return `'${element.replaceAll("'", `'\\''`)}'`;
    })
    .join(' ');
}

interface PinnedHostKey {
  type: string;
  blob: Buffer;
}

function parsePinnedHostKey(hostKey: string): PinnedHostKey {
  const [type, base64] = hostKey.trim().split(/\s+/);
  const algorithms = type === undefined ? undefined : HOST_KEY_ALGORITHMS[type];
  if (!type || !base64 || !algorithms) throw new TypeError('hostKey must be "<type> <base64>" with a supported type');
  return { type, blob: Buffer.from(base64, 'base64') };
}

/** Keeps the last `limit` bytes of a stream of chunks without holding more than about twice that. */
class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > 2 * this.limit) {
      const kept = Buffer.concat(this.chunks).subarray(-this.limit);
      this.chunks = [kept];
      this.size = kept.length;
    }
  }

  text(): string {
    let tail = Buffer.concat(this.chunks).subarray(-this.limit);
    // A cut can land inside a UTF-8 sequence; drop its continuation bytes rather than print a replacement character.
    let start = 0;
    while (start < tail.length && start < 3 && ((tail[start] ?? 0) & 0xc0) === 0x80) start++;
    tail = tail.subarray(start);
    return tail.toString('utf8');
  }
}

function exitCodeOf(code: number | null | undefined, signal: string | undefined): number | undefined {
  if (typeof code === 'number') return code;
  if (signal === undefined) return undefined;
  // Like a shell: a command killed by signal N exits 128 + N.
  const number = (constants.signals as Partial<Record<string, number>>)[`SIG${signal}`];
  return number === undefined ? -1 : 128 + number;
}

/**
 * sshd starts each exec in its own session, so the shell's pid is also its process group id. Printing it first lets a
 * timed-out command be killed with its children: the SSH `signal` request is refused for root logins, which have no
 * privilege-separated child, and closing the channel alone leaves a quiet command running.
 */
const PRINT_PROCESS_GROUP = 'echo "$$"; ';
/**
 * How long a command that timed out may still take while its process group is killed: its run resolves at most this
 * long after its timeout. A caller with a time budget counts it.
 */
export const COMMAND_KILL_WAIT_MS = 5_000;
const EXIT_GRACE_MS = 1_000;

/** Best effort: sends SIGKILL to the process group on its own channel, and gives up quietly after a few seconds. */
function killProcessGroup(client: Client, processGroup: number | undefined): Promise<void> {
  if (processGroup === undefined) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const giveUp = setTimeout(resolve, COMMAND_KILL_WAIT_MS);
    const done = (): void => {
      clearTimeout(giveUp);
      resolve();
    };
    try {
      client.exec(shellQuote(['kill', '-KILL', '--', `-${processGroup}`]), (error, channel) => {
        if (error) return done();
        channel.on('close', done);
        channel.resume();
        channel.stderr.resume();
      });
    } catch {
      done();
    }
  });
}

/**
 * Reads the process group id that {@link PRINT_PROCESS_GROUP} prints before the command's own stdout, and passes
 * everything after it on to the output.
 */
class ProcessGroupLine {
  processGroup: number | undefined;
  private pending: Buffer | undefined = Buffer.alloc(0);

  constructor(private readonly output: OutputTail) {}

  push(chunk: Buffer): void {
    if (this.pending === undefined) return this.output.push(chunk);
    this.pending = Buffer.concat([this.pending, chunk]);
    const newline = this.pending.indexOf(0x0a);
    if (newline < 0) return;
    const line = this.pending.subarray(0, newline).toString('latin1');
    const isProcessGroup = /^\d+$/.test(line);
    if (isProcessGroup) this.processGroup = Number(line);
    const rest = this.pending.subarray(isProcessGroup ? newline + 1 : 0);
    this.pending = undefined;
    if (rest.length > 0) this.output.push(rest);
  }

  /** A command that ended before the first newline: what it printed is output. */
  flush(): void {
    if (this.pending !== undefined && this.pending.length > 0) this.output.push(this.pending);
  }
}

/** One command on its own exec channel: collects its output, waits for its exit status, kills it at the deadline. */
class ChannelCommand {
  private readonly output: OutputTail;
  private readonly stdout: ProcessGroupLine;
  private channel: ClientChannel | undefined;
  private exitCode: number | undefined;
  private timedOut = false;
  private settled = false;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Client,
    private readonly argv: readonly string[],
    maxOutputBytes: number,
    private readonly connectionFailure: () => unknown,
    private readonly outcome: { resolve: (run: CommandRun) => void; reject: (reason: unknown) => void },
  ) {
    this.output = new OutputTail(maxOutputBytes);
    this.stdout = new ProcessGroupLine(this.output);
  }

  start(command: string, timeoutMs: number): void {
    this.deadline = setTimeout(() => this.killAtDeadline(timeoutMs), timeoutMs);
    try {
      this.client.exec(command, (error, opened) => this.onChannel(error, opened));
    } catch (error) {
      clearTimeout(this.deadline);
      this.outcome.reject(error);
    }
  }

  private killAtDeadline(timeoutMs: number): void {
    this.timedOut = true;
    void killProcessGroup(this.client, this.stdout.processGroup).then(() => {
      this.channel?.close();
      const before = this.output.text();
      this.outcome.resolve({
        argv: [...this.argv],
        exitCode: -1,
        output: `${before}${before && !before.endsWith('\n') ? '\n' : ''}timed out after ${timeoutMs} ms`,
        timedOutAfterMs: timeoutMs,
      });
    });
  }

  private onChannel(error: Error | undefined, opened: ClientChannel): void {
    if (this.timedOut) {
      opened?.close();
      return;
    }
    if (error) {
      clearTimeout(this.deadline);
      this.outcome.reject(error);
      return;
    }
    this.channel = opened;
    opened.on('data', (chunk: Buffer) => this.stdout.push(chunk));
    opened.stderr.on('data', (chunk: Buffer) => this.output.push(chunk));
    opened.on('exit', (code: number | null, signal?: string) => this.onExit(opened, exitCodeOf(code, signal)));
    opened.on('close', () => {
      if (this.timedOut || this.settled) return;
      this.settle();
    });
  }

  /**
   * A daemon started by the command (dovecot forks and keeps its stdio) holds the channel open after the command
   * itself exited: its exit status is the answer, so the channel is closed after a short grace.
   */
  private onExit(opened: ClientChannel, exitCode: number | undefined): void {
    this.exitCode = exitCode;
    setTimeout(() => {
      if (this.settled) return;
      this.settle();
      opened.close();
    }, EXIT_GRACE_MS).unref();
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.deadline);
    this.stdout.flush();
    if (this.exitCode !== undefined) {
      this.outcome.resolve({ argv: [...this.argv], exitCode: this.exitCode, output: this.output.text() });
      return;
    }
    const cause = this.connectionFailure();
    this.outcome.reject(
      cause === undefined
        ? new Error(`the channel running ${this.argv[0]} closed without an exit status`)
        : new Error(`the SSH connection failed while ${this.argv[0]} was running`, { cause }),
    );
  }
}

function runOnChannel(
  client: Client,
  argv: readonly string[],
  timeoutMs: number,
  maxOutputBytes: number,
  connectionFailure: () => unknown,
): Promise<CommandRun> {
  const command = PRINT_PROCESS_GROUP + shellQuote(argv);
  return new Promise<CommandRun>((resolve, reject) => {
    new ChannelCommand(client, argv, maxOutputBytes, connectionFailure, { resolve, reject }).start(command, timeoutMs);
  });
}

/**
 * Opens ONE SSH connection to `target`, checks the host key against the pinned one before authenticating, runs
 * `use` with a session whose commands share that connection, and closes it. A different host key rejects with
 * {@link HostKeyMismatchError} and `use` is never called. Other connection failures reject with ssh2's own error.
 *
 * @example
 * const status = await withSshSession(target, options, (session) => session.run(['postfix', 'status']));
 */
export async function withSshSession<T>(
  target: SshTarget,
  options: SshOptions,
  use: (session: SshSession) => Promise<T>,
): Promise<T> {
  const pinned = parsePinnedHostKey(target.hostKey);
  const client = new Client();
  const connection = await connectPinned(client, target, options, pinned);
  const session: SshSession = {
    run: (argv, runOptions) =>
      runOnChannel(
        client,
        argv,
        runOptions?.timeoutMs ?? options.commandTimeoutMs,
        runOptions?.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
        connection.firstError,
      ),
  };
  try {
    return await use(session);
  } finally {
    client.end();
    // A peer that never answers the disconnect must not hold the activity forever.
    const giveUp = setTimeout(() => client.destroy(), options.readyTimeoutMs);
    await connection.closed;
    clearTimeout(giveUp);
  }
}

interface PinnedConnection {
  /** Settles when the connection is gone, whoever closed it. */
  closed: Promise<void>;
  /** The connection's first error, so a command whose channel dies can name the cause. */
  firstError: () => unknown;
}

/** Connects and authenticates; a host key other than the pinned one rejects with {@link HostKeyMismatchError}. */
async function connectPinned(
  client: Client,
  target: SshTarget,
  options: SshOptions,
  pinned: PinnedHostKey,
): Promise<PinnedConnection> {
  const endpoint = `${target.host}:${target.port}`;
  let presentedKey: Buffer | undefined;
  let connectionError: unknown;
  let tcpConnected = false;
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));

  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('connect', () => {
      tcpConnected = true;
    });
    client.on('error', (error: Error & { level?: string }) => {
      connectionError ??= error;
      if (presentedKey) {
        reject(
          new HostKeyMismatchError(endpoint, sshFingerprint(presentedKey), sshFingerprint(pinned.blob), {
            cause: error,
          }),
        );
      } else if (error.level === 'client-timeout') {
        reject(new SshHandshakeTimeoutError(endpoint, options.readyTimeoutMs, tcpConnected, { cause: error }));
      } else {
        reject(error);
      }
    });
    void closed.then(() =>
      reject(connectionError ?? new Error(`${endpoint} closed the connection before it was ready`)),
    );
    try {
      client.connect(
        connectConfig(target, options, pinned, (key) => {
          presentedKey = key;
        }),
      );
    } catch (error) {
      reject(error);
    }
  });
  return { closed, firstError: () => connectionError };
}

/** ssh2's settings: public-key login, and only the pinned host key is accepted; any other goes to `onMismatch`. */
function connectConfig(
  target: SshTarget,
  options: SshOptions,
  pinned: PinnedHostKey,
  onMismatch: (presentedKey: Buffer) => void,
): ConnectConfig {
  return {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey: target.privateKey,
    authHandler: ['publickey'],
    algorithms: { serverHostKey: HOST_KEY_ALGORITHMS[pinned.type] },
    hostVerifier: (key: Buffer): boolean => {
      const matches = key.length === pinned.blob.length && timingSafeEqual(key, pinned.blob);
      if (!matches) onMismatch(Buffer.from(key));
      return matches;
    },
    readyTimeout: options.readyTimeoutMs,
    keepaliveInterval: options.keepaliveIntervalMs,
    keepaliveCountMax: KEEPALIVE_COUNT_MAX,
  };
}
