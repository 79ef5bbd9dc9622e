import type { SshTarget } from '../../activities/ssh';
import { execFile, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
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

export interface Ed25519KeyPair {
  privateKey: string;
  /** `ssh-ed25519 AAAA...` without a comment. */
  publicKey: string;
}

/** A fresh key pair made by the system's ssh-keygen, as an operator would make one. */
export async function generateEd25519KeyPair(directory: string, name: string): Promise<Ed25519KeyPair> {
  const file = path.join(directory, name);
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', '', '-f', file]);
  const [type, base64] = (await readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/);
  return { privateKey: await readFile(file, 'utf8'), publicKey: `${type} ${base64}` };
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
  await writeFile(
    config,
    [
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
    ].join('\n'),
  );
  // sshd's privilege separation directory; without systemd nothing else creates it.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const logGrew = new EventEmitter();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      logGrew.emit('data');
      if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) resolve();
    });
    void exited.then(() => reject(new Error(`sshd exited before it listened:\n${log}`)));
  });

  return {
    port,
    hostKey: host.publicKey,
    clientPrivateKey: client.privateKey,
    user: os.userInfo().username,
    target: {
      host: '127.0.0.1',
      port,
      user: os.userInfo().username,
      hostKey: host.publicKey,
      privateKey: client.privateKey,
    },
    log: () => log,
    waitForLog: (text, { offset = 0, count = 1, timeoutMs = 10_000 } = {}) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (log.slice(offset).split(text).length - 1 < count) return;
          clearTimeout(timer);
          logGrew.off('data', check);
          resolve();
        };
        const timer = setTimeout(() => {
          logGrew.off('data', check);
          reject(new Error(`sshd did not log "${text}" ${count} time(s) in ${timeoutMs} ms:\n${log.slice(offset)}`));
        }, timeoutMs);
        logGrew.on('data', check);
        check();
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
