import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { HOST_COMMAND_TIMEOUTS } from '../../activities/host-command-timeouts';
import { checkDeferredQueue } from '../../activities/queue-check';
import {
  HostKeyMismatchError,
  SshHandshakeTimeoutError,
  shellQuote,
  sshFingerprint,
  withSshSession,
  type SshOptions,
} from '../../activities/ssh';
import { describeUnanswered, type UnansweredRun } from '../../activities/unanswered-commands';
import { serverSchema, type ServerConfig } from '../../config/schema';
import { SecretResolver } from '../../config/secrets';
import { createMailHostAccess } from '../../worker/mail-host-access';
import { freePort } from '../support/processes';
import { generateEd25519KeyPair, useTestSshd } from '../support/sshd';

const OPTIONS: SshOptions = { readyTimeoutMs: 5_000, keepaliveIntervalMs: 5_000, commandTimeoutMs: 10_000 };
const ACCEPTED = 'Accepted publickey';

function blobOf(publicKey: string): Buffer {
  return Buffer.from(publicKey.split(' ')[1] ?? '', 'base64');
}

describe('shellQuote', () => {
  test('single-quotes every element and escapes embedded quotes', () => {
    expect(shellQuote(['printf', '%s', "it's"])).toBe(`'printf' '%s' 'it'\\''s'`);
    expect(shellQuote([''])).toBe(`''`);
  });

  test('refuses an empty argv and NUL bytes', () => {
    expect(() => shellQuote([])).toThrow(TypeError);
    expect(() => shellQuote(['a\0b'])).toThrow(TypeError);
  });
});

describe('withSshSession against a real sshd', () => {
  const sshd = useTestSshd('mailmend-ssh-test-');

  test('runs several commands over one connection, with exit codes and combined output', async () => {
    const offset = sshd.log().length;
    const runs = await withSshSession(sshd.target, OPTIONS, async (session) => [
      await session.run(['true']),
      await session.run(['sh', '-c', 'exit 7']),
      await session.run(['sh', '-c', 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three']),
      await session.run(['mailmend-no-such-program']),
      await session.run(['printf', '%s', 'last']),
    ]);

    expect(runs.map((run) => run.exitCode)).toEqual([0, 7, 0, 127, 0]);
    expect(runs[0]).toEqual({ argv: ['true'], exitCode: 0, output: '' });
    expect(runs[2]?.output).toBe('one\ntwo\nthree\n');
    expect(runs[3]?.output).toMatch(/mailmend-no-such-program: .*not found/);
    expect(runs[4]?.output).toBe('last');
    await sshd.waitForLog('Disconnected from user', { offset });
    expect(sshd.log().slice(offset).split(ACCEPTED).length - 1).toBe(1);
  });

  test('keeps the last 8 KiB of a long output', async () => {
    const run = await withSshSession(sshd.target, OPTIONS, (session) => session.run(['seq', '1', '5000']));

    expect(run.exitCode).toBe(0);
    expect(Buffer.byteLength(run.output)).toBeLessThanOrEqual(8 * 1024);
    expect(run.output.endsWith('4999\n5000\n')).toBe(true);
    expect(run.output).not.toContain('\n1\n2\n');
  });

  test('shell metacharacters in argv arrive literally and run nothing', async () => {
    const marker = path.join(sshd.scratch, 'pwned');
    const hostile = `$(touch ${marker});\`touch ${marker}\`|x & touch ${marker} > ${marker} 'q" \\ * ?\nnext line`;

    const run = await withSshSession(sshd.target, OPTIONS, (session) => session.run(['printf', '%s', hostile]));

    expect(run).toEqual({ argv: ['printf', '%s', hostile], exitCode: 0, output: hostile });
    expect(existsSync(marker)).toBe(false);
  });

  test('a command past its timeout is killed on the host with its children, and the session goes on', async () => {
    const started = Date.now();
    const [timedOut, leftover] = await withSshSession(sshd.target, OPTIONS, async (session) => [
      await session.run(['sh', '-c', 'echo started; sleep 29.5; echo never'], { timeoutMs: 500 }),
      await session.run(['pgrep', '-f', '-x', 'sleep 29.5']),
    ]);

    expect(timedOut).toEqual({
      argv: ['sh', '-c', 'echo started; sleep 29.5; echo never'],
      exitCode: -1,
      output: 'started\ntimed out after 500 ms',
      timedOutAfterMs: 500,
    });
    expect(leftover?.exitCode).toBe(1);
    expect(Date.now() - started).toBeLessThan(OPTIONS.readyTimeoutMs);
  });

  test('a command that hangs returns at its timeout, marked as timed out, and is gone from the host', async () => {
    // A unique second argument (GNU sleep adds them up) so no other sleep on this machine is mistaken for ours.
    const hang = ['sleep', '300', `0.${process.pid}`];
    const timeoutMs = HOST_COMMAND_TIMEOUTS.quickRead;
    const started = Date.now();
    const [hung, elapsed, leftover] = await withSshSession(sshd.target, OPTIONS, async (session) => {
      const run = await session.run(hang, { timeoutMs });
      const took = Date.now() - started;
      return [run, took, await session.run(['pgrep', '-f', '-x', hang.join(' ')], { timeoutMs })] as const;
    });

    expect(hung).toEqual({
      argv: hang,
      exitCode: -1,
      output: `timed out after ${timeoutMs} ms`,
      timedOutAfterMs: timeoutMs,
    });
    expect(describeUnanswered(hung as UnansweredRun)).toBe(`\`sleep 300 0.${process.pid}\` did not answer within 5 s`);
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs);
    // The kill goes over the same connection, and takes a round trip.
    expect(elapsed).toBeLessThan(timeoutMs + 1_000);
    expect(leftover).toMatchObject({ exitCode: 1, output: '' });
  });

  test('a command that leaves a daemon holding its output still returns its own exit status', async () => {
    const marker = `mailmend-daemon-${process.pid}-${Date.now()}`;
    const started = Date.now();
    const run = await withSshSession(sshd.target, OPTIONS, (session) =>
      session.run(['sh', '-c', `sleep 20 & echo ${marker}; exit 3`]),
    );
    expect(run.exitCode).toBe(3);
    expect(run.output).toContain(marker);
    expect(Date.now() - started).toBeLessThan(OPTIONS.commandTimeoutMs);
    await withSshSession(sshd.target, OPTIONS, (session) => session.run(['pkill', '-f', 'sleep 20']));
  });

  test('a connection lost while a command runs rejects instead of hanging', async () => {
    // Walks up from the command to the sshd process serving this connection, and kills it.
    const killOwnConnection = [
      'p=$$',
      'while [ "$(ps -o comm= -p "$p")" != sshd ]; do p=$(ps -o ppid= -p "$p" | tr -d " "); done',
      'kill -9 "$p"',
      'sleep 5',
    ].join('; ');

    await expect(
      withSshSession(sshd.target, OPTIONS, (session) => session.run(['sh', '-c', killOwnConnection])),
    ).rejects.toThrow('the channel running sh closed without an exit status');
  });

  test('a changed host key is refused before authentication and nothing runs', async () => {
    const impostor = await generateEd25519KeyPair(sshd.scratch, 'impostor_host_key');
    const marker = path.join(sshd.scratch, 'ran-despite-mismatch');
    const use = jest.fn((session: { run(argv: string[]): Promise<unknown> }) => session.run(['touch', marker]));
    const offset = sshd.log().length;

    const error = await withSshSession({ ...sshd.target, hostKey: impostor.publicKey }, OPTIONS, use).catch(
      (caught: unknown) => caught,
    );

    expect(error).toBeInstanceOf(HostKeyMismatchError);
    const mismatch = error as HostKeyMismatchError;
    expect(mismatch).toMatchObject({
      name: 'HostKeyMismatchError',
      endpoint: `127.0.0.1:${sshd.port}`,
      presentedFingerprint: sshFingerprint(blobOf(sshd.hostKey)),
      expectedFingerprint: sshFingerprint(blobOf(impostor.publicKey)),
    });
    expect(mismatch.message).toContain(sshFingerprint(blobOf(sshd.hostKey)));
    expect(mismatch.message).toContain(sshFingerprint(blobOf(impostor.publicKey)));
    expect(mismatch.message).not.toContain('PRIVATE KEY');
    expect(mismatch.cause).toMatchObject({ message: 'Host denied (verification failed)' });
    expect(use).not.toHaveBeenCalled();
    expect(existsSync(marker)).toBe(false);
    await sshd.waitForLog('[preauth]', { offset });
    expect(sshd.log().slice(offset)).not.toContain(ACCEPTED);
  });

  test('the queue check names a changed host key as why the queue was not checked', async () => {
    const impostor = await generateEd25519KeyPair(sshd.scratch, 'impostor_queue_host_key');
    const server = serverSchema.parse({
      id: 'mx1',
      smtp: { host: '127.0.0.1', port: 25 },
      imap: { host: '127.0.0.1', port: 143 },
      ssh: {
        host: '127.0.0.1',
        port: sshd.port,
        user: sshd.user,
        hostKey: impostor.publicKey,
        privateKey: { env: 'MAILMEND_TEST_SSH_KEY' },
      },
    }) as ServerConfig & { ssh: NonNullable<ServerConfig['ssh']> };
    const mailHost = createMailHostAccess(new SecretResolver({ MAILMEND_TEST_SSH_KEY: sshd.clientPrivateKey }, '/'));

    const answer = await checkDeferredQueue(mailHost, server, pino({ level: 'silent' }));

    expect(answer).toEqual({
      unchecked: {
        check: 'deferred-queue',
        reason:
          `SSH to 127.0.0.1:${sshd.port} stopped before logging in: host key of 127.0.0.1:${sshd.port} is ` +
          `${sshFingerprint(blobOf(sshd.hostKey))}, but the config pins ${sshFingerprint(blobOf(impostor.publicKey))}; ` +
          'refused to connect',
      },
    });
  });

  test('a client key the server does not know fails authentication', async () => {
    const stranger = await generateEd25519KeyPair(sshd.scratch, 'stranger_client_key');
    const use = jest.fn(async () => undefined);

    await expect(
      withSshSession({ ...sshd.target, privateKey: stranger.privateKey }, OPTIONS, use),
    ).rejects.toMatchObject({
      level: 'client-authentication',
      message: 'All configured authentication methods failed',
    });
    expect(use).not.toHaveBeenCalled();
  });

  test('a closed port fails fast with the socket error', async () => {
    const port = await freePort();
    const started = Date.now();

    await expect(withSshSession({ ...sshd.target, port }, OPTIONS, async () => undefined)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
      level: 'client-socket',
    });
    expect(Date.now() - started).toBeLessThan(OPTIONS.readyTimeoutMs);
  });

  test('a server that never says hello times out after readyTimeout', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const started = Date.now();
    try {
      const error = await withSshSession({ ...sshd.target, port }, { ...OPTIONS, readyTimeoutMs: 700 }, async () => {
        throw new Error('must not be called');
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SshHandshakeTimeoutError);
      expect(error).toMatchObject({
        level: 'client-timeout',
        connected: true,
        message: `SSH to 127.0.0.1:${port} accepted the connection but did not finish its handshake within 0.7 s`,
        cause: { message: 'Timed out while waiting for handshake' },
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(650);
      expect(Date.now() - started).toBeLessThan(OPTIONS.readyTimeoutMs);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
