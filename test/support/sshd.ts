import type { SshTarget } from '../../activities/ssh';
import { execFile, spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ensurePrivilegeSeparationDir, readPublicKey } from '../../lab/sshd';
import { useForAllTests } from './fixture';
import { freePort } from './processes';

const execFileAsync = promisify(execFile);

export interface TestSshd {
  port: number;
  /** The server's public host key as `ssh-ed25519 AAAA...`. */
  hostKey: string;
  /** An OpenSSH private key that the server accepts for `user`. */
  clientPrivateKey: string;
  user: string;
  /** Where and how to log in, as `withSshSession` takes it. */
  target: SshTarget;
  /** Everything sshd logged so far (`-e` sends its log to stderr). */
  log(): string;
  /** Resolves once the log, from `offset` on, contains `text` `count` times; rejects with the log after `timeoutMs`. */
  waitForLog(text: string, options?: { offset?: number; count?: number; timeoutMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

interface Ed25519KeyPair {
  privateKey: string;
  /** `ssh-ed25519 AAAA...` without a comment. */
  publicKey: string;
}

/** A fresh key pair made by the system's ssh-keygen, as an operator would make one. */
export async function generateEd25519KeyPair(directory: string, name: string): Promise<Ed25519KeyPair> {
  const file = path.join(directory, name);
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file]);
  return { privateKey: await readFile(file, 'utf8'), publicKey: await readPublicKey(`${file}.pub`) };
}

/**
 * A real OpenSSH server on loopback for the current user, with its own host and client keys in a temp dir. It
 * resolves once sshd says it listens; `stop` kills it and removes the keys.
 */
export async function startTestSshd(): Promise<TestSshd> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'mailmend-sshd-'));
  const host = await generateEd25519KeyPair(directory, 'host_ed25519');
  const client = await generateEd25519KeyPair(directory, 'client_ed25519');
  await writeFile(path.join(directory, 'authorized_keys'), `${client.publicKey}\n`, { mode: 0o600 });
  const port = await freePort();
  const config = path.join(directory, 'sshd_config');
  await writeFile(config, testSshdConfig(directory, port));
  // Only sshd started as root separates privileges; as anyone else it needs no such directory.
  if (process.getuid?.() === 0) await ensurePrivilegeSeparationDir();
  const { log, waitForLog, stop } = await runSshdInForeground(config, port).catch(async (error: unknown) => {
    await rm(directory, { recursive: true, force: true });
    throw error;
  });
  const user = os.userInfo().username;
  return {
    port,
    hostKey: host.publicKey,
    clientPrivateKey: client.privateKey,
    user,
    target: { host: '127.0.0.1', port, user, hostKey: host.publicKey, privateKey: client.privateKey },
    log,
    waitForLog,
    stop: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Unlike the lab's sshd (lab/sshd.ts), which admits only root and points `postfix` at the lab's instance, this one
 * admits whoever runs the tests, with nothing set up for them.
 */
function testSshdConfig(directory: string, port: number): string {
  return [
    'ListenAddress 127.0.0.1',
    `Port ${port}`,
    `HostKey ${path.join(directory, 'host_ed25519')}`,
    `AuthorizedKeysFile ${path.join(directory, 'authorized_keys')}`,
    `PidFile ${path.join(directory, 'sshd.pid')}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'LogLevel INFO',
    '',
  ].join('\n');
}

type SshdProcess = Pick<TestSshd, 'log' | 'waitForLog' | 'stop'>;

/** `sshd -D -e`: in the foreground, logging to stderr, which is kept; resolves once it listens on `port`. */
async function runSshdInForeground(config: string, port: number): Promise<SshdProcess> {
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = growingLog(child.stderr);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  try {
    await Promise.race([
      log.waitFor(`Server listening on 127.0.0.1 port ${port}`),
      once(child, 'error').then(([error]) => Promise.reject(error as Error)),
      exited.then(() => Promise.reject(new Error(`sshd exited before it listened:\n${log.text()}`))),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { log: log.text, waitForLog: log.waitFor, stop };
}

/** Everything a stream has written so far, and a way to wait until some text shows up in it. */
function growingLog(stream: Readable) {
  let text = '';
  const grew = new EventEmitter();
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    grew.emit('data');
  });
  const waitFor: TestSshd['waitForLog'] = (expected, { offset = 0, count = 1, timeoutMs = 10_000 } = {}) =>
    new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (text.slice(offset).split(expected).length - 1 < count) return;
        clearTimeout(timer);
        grew.off('data', check);
        resolve();
      };
      const timer = setTimeout(() => {
        grew.off('data', check);
        reject(new Error(`sshd did not log "${expected}" ${count} time(s) in ${timeoutMs} ms:\n${text.slice(offset)}`));
      }, timeoutMs);
      grew.on('data', check);
      check();
    });
  return { text: () => text, waitFor };
}

/** The test sshd of one test file, with a scratch directory beside it. */
interface SshdFixture extends Omit<TestSshd, 'stop'> {
  readonly scratch: string;
}

/**
 * Starts a test sshd and makes a scratch directory before the file's tests, and stops and removes both after them.
 * Read its fields inside tests, once `beforeAll` has run.
 */
export function useTestSshd(scratchPrefix: string): SshdFixture {
  const sshd = useForAllTests('the test sshd', startTestSshd, (running) => running.stop());
  const scratch = useForAllTests(
    'the scratch directory',
    () => mkdtemp(path.join(os.tmpdir(), scratchPrefix)),
    (directory) => rm(directory, { recursive: true, force: true }),
  );
  return {
    get port() {
      return sshd().port;
    },
    get hostKey() {
      return sshd().hostKey;
    },
    get clientPrivateKey() {
      return sshd().clientPrivateKey;
    },
    get user() {
      return sshd().user;
    },
    get target() {
      return sshd().target;
    },
    get scratch() {
      return scratch();
    },
    log: () => sshd().log(),
    waitForLog: (text, options) => sshd().waitForLog(text, options),
  };
}
