import { startTestLab, stopTestLab } from '../support/test-lab';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { Client as SshClient } from 'ssh2';
import { parse as parseYaml } from 'yaml';
import { runMailmend } from '../../app/mailmend';
import type { CliDeps } from '../../client/cli/program';
import { labBreak, labDown, labHeal, labRelay, labStatus, labUp, type LabInfo } from '../../lab/lab';
import { runCommand } from '../../lab/processes';
import {
  BROKEN_DAEMON_DIRECTORY,
  DEFERRED_BACKLOG_SIZE,
  LAB_SCENARIOS,
  MISSPELT_DOVECOT_SETTING,
  type LabScenario,
} from '../../lab/scenarios';
import { serverSchema } from '../../config/schema';

const run = promisify(execFile);

let stateDir: string;
let lab: LabInfo;

beforeAll(async () => {
  ({ stateDir, lab } = await startTestLab('lab', 'lab-test'));
}, 60_000);

afterAll(() => stopTestLab(stateDir), 60_000);

async function canaryPassword(): Promise<string> {
  return (await readFile(lab.paths.canaryPasswordFile, 'utf8')).trim();
}

async function subjectsInCanaryInbox(): Promise<string[]> {
  const imap = new ImapFlow({
    host: '127.0.0.1',
    port: lab.ports.imap,
    secure: false,
    tls: { ca: await readFile(lab.paths.tlsCaCert, 'utf8') },
    auth: { user: 'canary@lab.test', pass: await canaryPassword() },
    logger: false,
  });
  await imap.connect();
  try {
    const lock = await imap.getMailboxLock('INBOX');
    try {
      const subjects: string[] = [];
      for await (const message of imap.fetch('1:*', { envelope: true })) subjects.push(message.envelope?.subject ?? '');
      return subjects;
    } finally {
      lock.release();
    }
  } finally {
    await imap.logout();
  }
}

/** Sends a message to the canary through the lab's Postfix and waits until Dovecot shows it in the INBOX. */
async function roundTrip(): Promise<void> {
  const subject = `lab round trip ${randomUUID()}`;
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: lab.ports.smtp, ignoreTLS: true });
  try {
    await transport.sendMail({ from: 'tester@remote.test', to: 'canary@lab.test', subject, text: 'hello' });
  } finally {
    transport.close();
  }
  const deadline = Date.now() + 20_000;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await subjectsInCanaryInbox();
    if (seen.includes(subject)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`"${subject}" did not reach the canary INBOX; it holds: ${seen.join(' | ')}`);
}

function connectError(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
  });
}

async function exitCodeOf(file: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(file, args);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

async function postqueueJson(): Promise<{ queue_name: string; queue_id: string }[]> {
  const { stdout } = await run('postqueue', ['-c', lab.paths.postfixConfigDir, '-j']);
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { queue_name: string; queue_id: string });
}

async function alternateConfigDirs(): Promise<string> {
  return (await run('postconf', ['-h', 'alternate_config_directories'])).stdout.trim();
}

async function expectHealthy(): Promise<void> {
  const status = await labStatus(stateDir);
  expect(status.services.filter((service) => !service.up)).toEqual([]);
  await roundTrip();
}

interface SshRun {
  code: number | null;
  output: string;
  hostKeyMatched: boolean;
}

interface SshLogin {
  client: SshClient;
  hostKeyMatched: boolean;
}

/** Logs in over the lab's sshd with the generated key, trusting only the pinned host key. */
async function sshLogin(readyTimeoutMs = 10_000): Promise<SshLogin> {
  const ssh = lab.server.ssh;
  if (!ssh || !('file' in ssh.privateKey)) throw new Error('the lab entry has no ssh key file');
  const pinned = Buffer.from(ssh.hostKey.split(' ')[1] ?? '', 'base64');
  const privateKey = await readFile(ssh.privateKey.file);
  const client = new SshClient();
  let hostKeyMatched = false;
  try {
    await new Promise<void>((resolve, reject) => {
      // A handshake that times out is followed by a second error when ssh2 drops the socket.
      client.once('ready', resolve).on('error', reject);
      client.connect({
        host: ssh.host,
        port: ssh.port,
        username: ssh.user,
        privateKey,
        readyTimeout: readyTimeoutMs,
        hostVerifier: (key: Buffer) => (hostKeyMatched = key.equals(pinned)),
      });
    });
  } catch (error) {
    client.end();
    throw error;
  }
  return { client, hostKeyMatched };
}

/** Runs one command on an open login and resolves with its exit code and output. */
function sshExec({ client, hostKeyMatched }: SshLogin, command: string): Promise<SshRun> {
  return new Promise<SshRun>((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let output = '';
      channel.on('data', (chunk: Buffer) => (output += chunk.toString()));
      channel.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      channel.once('close', (code: number | null) => resolve({ code, output, hostKeyMatched }));
    });
  });
}

/** Logs in as mailmend does, runs one command and logs out. */
async function sshRun(command: string, readyTimeoutMs?: number): Promise<SshRun> {
  const login = await sshLogin(readyTimeoutMs);
  try {
    return await sshExec(login, command);
  } finally {
    login.client.end();
  }
}

/** Live processes that belong to the lab: their command line names the state dir, or Postfix's MAIL_CONFIG does. */
async function labProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const [cmdline, environ] = await Promise.all(
      ['cmdline', 'environ'].map((file) => readFile(`/proc/${entry}/${file}`, 'utf8').catch(() => '')),
    );
    const commandLine = (cmdline ?? '').split('\0').join(' ');
    const postfixChild = (environ ?? '').split('\0').includes(`MAIL_CONFIG=${path.join(stateDir, 'postfix')}`);
    if (commandLine.includes(stateDir) || postfixChild) found.push(`${entry}: ${commandLine}`);
  }
  return found;
}

describe('mailmend lab up', () => {
  test('starts Postfix, Dovecot, sshd and the relay sink, each listening on its own loopback port', async () => {
    expect(lab.alreadyUp).toBe(false);
    const status = await labStatus(stateDir);
    expect(status.allUp).toBe(true);
    expect(status.services.map(({ service, port, pid }) => ({ service, port, pid }))).toEqual([
      { service: 'postfix', port: lab.ports.smtp, pid: lab.pids.postfix },
      { service: 'dovecot', port: lab.ports.imap, pid: lab.pids.dovecot },
      { service: 'sshd', port: lab.ports.ssh, pid: lab.pids.sshd },
      { service: 'relay', port: lab.ports.relay, pid: lab.pids.relay },
    ]);
    expect(await alternateConfigDirs()).toContain(lab.paths.postfixConfigDir);
    const again = await labUp({ stateDir });
    expect(again.alreadyUp).toBe(true);
    expect(again.pids).toEqual(lab.pids);
  });

  test('delivers mail for the canary through Postfix into the Maildir that Dovecot serves', async () => {
    await roundTrip();
  });

  test('writes a server entry that validates with the config schema, with secrets in 0600 files', async () => {
    const document = parseYaml(await readFile(lab.fragmentFile, 'utf8')) as { servers: unknown[] };
    const parsed = serverSchema.safeParse(document.servers[0]);
    expect(parsed.error?.issues).toBeUndefined();
    expect(parsed.data).toMatchObject({
      id: 'lab-test',
      smtp: { host: '127.0.0.1', port: lab.ports.smtp },
      imap: { host: '127.0.0.1', port: lab.ports.imap, tls: false },
      ssh: { host: '127.0.0.1', port: lab.ports.ssh, user: 'root' },
      canary: { mailbox: 'canary@lab.test', imapUser: 'canary@lab.test' },
      host: {
        postfixConfigDir: lab.paths.postfixConfigDir,
        dovecotConfig: lab.paths.dovecotConfig,
        knownGoodDir: lab.paths.knownGoodDir,
        logFiles: [lab.paths.postfixLog, lab.paths.dovecotLog],
        mailDirs: [lab.paths.mailDir],
        deferredThreshold: 0,
      },
    });
    const hostKeyLine = (await readFile(`${lab.paths.sshHostKey}.pub`, 'utf8')).trim();
    expect(hostKeyLine.startsWith(`${parsed.data?.ssh?.hostKey} `)).toBe(true);
    for (const secret of [lab.paths.sshClientKey, lab.paths.canaryPasswordFile]) {
      expect(((await stat(secret)).mode & 0o777).toString(8)).toBe('600');
    }
    for (const file of ['postfix/main.cf', 'postfix/master.cf', 'dovecot/dovecot.conf']) {
      expect(await readFile(path.join(lab.paths.knownGoodDir, file), 'utf8')).toBe(
        await readFile(path.join(stateDir, file), 'utf8'),
      );
    }
    const knownGoodCheck = await exitCodeOf('postfix', ['-c', lab.paths.knownGoodPostfixDir, 'check']);
    expect(knownGoodCheck).toEqual({ code: 0, output: '' });
  });

  test('lets mailmend log in as root over ssh with the generated key and the pinned host key', async () => {
    const result = await sshRun(`postfix -c ${lab.paths.postfixConfigDir} status`);
    expect(result).toEqual({ code: 0, output: '', hostKeyMatched: true });
    const plain = await sshRun('postfix status');
    expect(plain.code).toBe(0);
  });

  test('mailmend lab status prints every service as up', async () => {
    const { code, stdout, stderr } = await mailmend('lab', 'status', '--state-dir', stateDir);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    for (const service of ['postfix', 'dovecot', 'sshd', 'relay']) {
      expect(stdout).toMatch(new RegExp(`^\\s+${service}\\s+127\\.0\\.0\\.1:\\d+\\s+\\d+\\s+up$`, 'm'));
    }
  });
});

describe('mailmend lab break and heal', () => {
  afterEach(async () => {
    // A failed test must not leave the next one a broken lab; an unwritable lab still counts as up.
    await labHeal(stateDir);
  }, 120_000);

  test('postfix-stopped: the SMTP port refuses connections until heal starts Postfix', async () => {
    await labBreak(stateDir, 'postfix-stopped');
    expect(await connectError(lab.ports.smtp)).toBe('ECONNREFUSED');
    const status = await labStatus(stateDir);
    expect(status.services.find((service) => service.service === 'postfix')).toMatchObject({ up: false });
    expect((await labHeal(stateDir)).actions).toContainEqual(expect.stringMatching(/^start postfix/));
    await expectHealthy();
  });

  test('dovecot-stopped: the IMAP port refuses connections until heal starts Dovecot', async () => {
    await labBreak(stateDir, 'dovecot-stopped');
    expect(await connectError(lab.ports.imap)).toBe('ECONNREFUSED');
    expect(await connectError(lab.ports.smtp)).toBeUndefined();
    expect((await labHeal(stateDir)).actions).toContainEqual(expect.stringMatching(/^start dovecot/));
    await expectHealthy();
  });

  test('sshd-frozen: the SSH port accepts connections but sends no banner until heal resumes sshd', async () => {
    const sshdPid = (await labStatus(stateDir)).services.find((service) => service.service === 'sshd')?.pid;
    expect(sshdPid).toEqual(expect.any(Number));
    const openLogin = await sshLogin();
    try {
      const broken = await labBreak(stateDir, 'sshd-frozen');
      expect(broken.steps).toContain(`127.0.0.1:${lab.ports.ssh} accepts the connection but sends no SSH banner`);

      expect(await connectError(lab.ports.ssh)).toBeUndefined();
      expect(await firstLineWithin(lab.ports.ssh)).toBeUndefined();
      expect((await exitCodeOf('ps', ['-o', 'stat=', '-p', String(sshdPid)])).output).toMatch(/^T/);
      await expect(sshRun('true', 4_000)).rejects.toThrow(/Timed out while waiting for handshake/);
      // Only the listener is stopped: a login opened before carries on, as it would on the real host.
      expect(await sshExec(openLogin, 'echo still here')).toMatchObject({ code: 0, output: 'still here\n' });
      expect((await labStatus(stateDir)).services.find((service) => service.service === 'sshd')).toMatchObject({
        listening: true,
        stopped: true,
        up: false,
      });
      const status = await mailmend('lab', 'status', '--state-dir', stateDir);
      expect(status.stdout).toMatch(/^\s+sshd\s+127\.0\.0\.1:\d+\s+\d+\s+down \(stopped, state T/m);
      await expect(labBreak(stateDir, 'postfix-stopped')).rejects.toThrow(/not healthy \(sshd stopped\)/);
    } finally {
      openLogin.client.end();
    }

    expect((await labHeal(stateDir)).actions).toContain(
      `resume the stopped sshd processes (kill -CONT -- -${sshdPid})`,
    );
    expect(await firstLineWithin(lab.ports.ssh)).toMatch(/^SSH-2\.0-OpenSSH/);
    expect(await sshRun('postfix status')).toEqual({ code: 0, output: '', hostKeyMatched: true });
    await expectHealthy();
  });

  test('postfix-config-broken: a backup beside main.cf, postfix check fails, Postfix stays down until heal', async () => {
    const result = await labBreak(stateDir, 'postfix-config-broken');
    expect(result.commands.at(-1)?.exitCode).not.toBe(0);

    const backups = (await readdir(lab.paths.postfixConfigDir)).filter((name) => name.startsWith('main.cf.bak-'));
    expect(backups).toEqual([expect.stringMatching(/^main\.cf\.bak-\d{8}T\d{6}$/)]);
    const knownGood = await readFile(path.join(lab.paths.knownGoodPostfixDir, 'main.cf'), 'utf8');
    expect(await readFile(path.join(lab.paths.postfixConfigDir, backups[0] ?? ''), 'utf8')).toBe(knownGood);
    expect(await readFile(lab.paths.postfixMainCf, 'utf8')).toContain(`daemon_directory = ${BROKEN_DAEMON_DIRECTORY}`);

    const check = await exitCodeOf('postfix', ['-c', lab.paths.postfixConfigDir, 'check']);
    expect(check.code).not.toBe(0);
    expect(await readFile(lab.paths.postfixLog, 'utf8')).toContain(`fatal: chdir(${BROKEN_DAEMON_DIRECTORY})`);
    expect(await connectError(lab.ports.smtp)).toBe('ECONNREFUSED');

    await labHeal(stateDir);
    expect(await readFile(lab.paths.postfixMainCf, 'utf8')).toBe(knownGood);
    expect((await exitCodeOf('postfix', ['-c', lab.paths.postfixConfigDir, 'check'])).code).toBe(0);
    await expectHealthy();
  });

  test('deferred-backlog: mail for remote recipients waits in the deferred queue until heal flushes it', async () => {
    await labBreak(stateDir, 'deferred-backlog');
    expect(await connectError(lab.ports.relay)).toBe('ECONNREFUSED');
    const deferred = (await postqueueJson()).filter((message) => message.queue_name === 'deferred');
    expect(deferred.length).toBeGreaterThanOrEqual(DEFERRED_BACKLOG_SIZE);

    expect((await labHeal(stateDir)).actions).toEqual(
      expect.arrayContaining([expect.stringMatching(/^start relay/), 'flush the Postfix queue']),
    );
    expect(await postqueueJson()).toEqual([]);
    await expectHealthy();
  });

  test('lab relay stop and start take the upstream relay away and bring it back', async () => {
    await labRelay(stateDir, 'stop');
    expect(await connectError(lab.ports.relay)).toBe('ECONNREFUSED');
    const { pid } = await labRelay(stateDir, 'start');
    expect(pid).toEqual(expect.any(Number));
    expect(await connectError(lab.ports.relay)).toBeUndefined();
  });

  test('mailmend lab break names the valid scenarios when given an unknown one', async () => {
    const { code, stderr } = await mailmend('lab', 'break', 'disk-full', '--state-dir', stateDir);
    expect(code).not.toBe(0);
    for (const scenario of LAB_SCENARIOS) expect(stderr).toContain(scenario);
  });
});

/** The first line the server sends within `timeoutMs`, or undefined when it accepts the connection but says nothing. */
function firstLineWithin(port: number, timeoutMs = 3_000): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (line: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(line);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) done(text.split('\n')[0]?.trim());
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Sends one message to the canary; resolves with Postfix's answer or the SMTP error's text and code. */
async function sendToCanary(subject: string): Promise<string> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: lab.ports.smtp,
    ignoreTLS: true,
    socketTimeout: 6_000,
    greetingTimeout: 6_000,
  });
  try {
    return (await transport.sendMail({ from: 'tester@remote.test', to: 'canary@lab.test', subject, text: 'x' }))
      .response;
  } catch (error) {
    const failed = error as { code?: string; responseCode?: number; message: string };
    return `failed: ${failed.responseCode ?? failed.code} ${failed.message}`;
  } finally {
    transport.close();
  }
}

async function canaryImapError(selectInbox: boolean): Promise<string | undefined> {
  const imap = new ImapFlow({
    host: '127.0.0.1',
    port: lab.ports.imap,
    secure: false,
    tls: { ca: await readFile(lab.paths.tlsCaCert, 'utf8') },
    auth: { user: 'canary@lab.test', pass: await canaryPassword() },
    logger: false,
  });
  try {
    await imap.connect();
    if (selectInbox) (await imap.getMailboxLock('INBOX')).release();
    await imap.logout();
    return undefined;
  } catch (error) {
    imap.close();
    const failed = error as { responseText?: string; message: string };
    return failed.responseText ?? failed.message;
  }
}

async function deferredReasonsForCanary(): Promise<string[]> {
  const { stdout } = await run('postqueue', ['-c', lab.paths.postfixConfigDir, '-j']);
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => (JSON.parse(line) as { recipients: { delay_reason?: string }[] }).recipients)
    .map((recipient) => recipient.delay_reason ?? '');
}

async function logSince(file: string, from: number): Promise<string> {
  return (await readFile(file, 'utf8')).slice(from);
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface OutsideSymptom {
  scenario: LabScenario;
  /** Checks the outage the way a mail client or a monitoring probe sees it, plus the log line it leaves. */
  observe(logs: { postfix: number; dovecot: number }): Promise<void>;
}

const outsideSymptoms: OutsideSymptom[] = [
  {
    scenario: 'postfix-port-taken',
    observe: async (logs) => {
      expect(await firstLineWithin(lab.ports.smtp)).toBeUndefined();
      expect(await logSince(lab.paths.postfixLog, logs.postfix)).toContain(
        `fatal: bind 127.0.0.1 port ${lab.ports.smtp}: Address already in use`,
      );
    },
  },
  {
    scenario: 'dovecot-config-broken',
    observe: async () => {
      expect(await connectError(lab.ports.imap)).toBe('ECONNREFUSED');
      const parse = await exitCodeOf('doveconf', ['-c', lab.paths.dovecotConfig, '-n']);
      expect(parse.code).not.toBe(0);
      expect(parse.output).toMatch(new RegExp(`line \\d+: Unknown setting: ${MISSPELT_DOVECOT_SETTING}`));
      expect((await readdir(path.dirname(lab.paths.dovecotConfig))).join(' ')).toMatch(
        /dovecot\.conf\.bak-\d{8}T\d{6}/,
      );
    },
  },
  {
    scenario: 'queue-permissions',
    observe: async (logs) => {
      expect(await firstLineWithin(lab.ports.smtp)).toMatch(/^220 /);
      expect(await sendToCanary('queue-permissions')).toMatch(/^failed: (ETIMEDOUT|ESOCKET)/);
      expect(await logSince(lab.paths.postfixLog, logs.postfix)).toMatch(
        /warning: mail_queue_enter: create file incoming\/\S+: Permission denied/,
      );
    },
  },
  {
    scenario: 'queue-disk-full',
    observe: async (logs) => {
      expect(await sendToCanary('queue-disk-full')).toMatch(/^failed: 452 .*Insufficient system storage/);
      expect(await logSince(lab.paths.postfixLog, logs.postfix)).toContain('not enough free space in mail queue');
    },
  },
  {
    scenario: 'mailbox-permissions',
    observe: async (logs) => {
      expect(await canaryImapError(false)).toBeUndefined();
      expect(await canaryImapError(true)).toBeDefined();
      await sendToCanary('mailbox-permissions');
      await eventually('a deferral with Permission denied', async () =>
        (await deferredReasonsForCanary()).some((reason) => /Permission denied/.test(reason)),
      );
      expect(await logSince(lab.paths.dovecotLog, logs.dovecot)).toMatch(/Permission denied/);
    },
  },
  {
    scenario: 'passdb-unreadable',
    observe: async (logs) => {
      expect(await canaryImapError(false)).toBeDefined();
      expect(await logSince(lab.paths.dovecotLog, logs.dovecot)).toContain(
        `open(${lab.paths.dovecotUsersFile}) failed: Permission denied`,
      );
    },
  },
  {
    scenario: 'postfix-frozen',
    observe: async () => {
      expect(await firstLineWithin(lab.ports.smtp)).toBeUndefined();
      const pid = (await readFile(path.join(stateDir, 'postfix-queue', 'pid', 'master.pid'), 'utf8')).trim();
      expect((await exitCodeOf('pgrep', ['-r', 'T', '-g', pid])).code).toBe(0);
    },
  },
  {
    scenario: 'dovecot-frozen',
    observe: async () => {
      expect(await firstLineWithin(lab.ports.imap)).toBeUndefined();
      expect(await firstLineWithin(lab.ports.smtp)).toMatch(/^220 /);
    },
  },
  {
    scenario: 'tls-cert-expired',
    observe: async () => {
      // runCommand gives openssl no stdin, so it ends after the handshake instead of waiting for input.
      const handshake = await runCommand(
        ['openssl', 's_client', '-starttls', 'smtp', '-connect', `127.0.0.1:${lab.ports.smtp}`].concat([
          '-CAfile',
          lab.paths.tlsCaCert,
          '-brief',
        ]),
        { timeoutMs: 15_000 },
      );
      expect(handshake.output).toMatch(/certificate has expired/);
      expect(await canaryImapError(false)).toMatch(/expired/);
    },
  },
  {
    scenario: 'mail-disk-full',
    observe: async () => {
      expect(await sendToCanary('mail-disk-full')).toMatch(/^250 /);
      await eventually('a deferral with No space left on device', async () =>
        (await deferredReasonsForCanary()).some((reason) => /No space left on device/.test(reason)),
      );
    },
  },
];

describe('mailmend lab break: outages seen from outside, and heal', () => {
  afterEach(async () => {
    await labHeal(stateDir);
  }, 120_000);

  test.each(outsideSymptoms)(
    '$scenario',
    async ({ scenario, observe }) => {
      const logs = {
        postfix: (await readFile(lab.paths.postfixLog, 'utf8')).length,
        dovecot: (await readFile(lab.paths.dovecotLog, 'utf8')).length,
      };
      const broken = await labBreak(stateDir, scenario);
      expect(broken.steps.length).toBeGreaterThan(0);
      await observe(logs);

      const healed = await labHeal(stateDir);
      expect(healed.actions.length).toBeGreaterThan(1);
      await expectHealthy();
      const mounts = await readFile('/proc/self/mountinfo', 'utf8');
      expect(mounts).not.toContain(stateDir);
      expect(await firstLineWithin(lab.ports.smtp)).toMatch(/^220 /);
      expect(await firstLineWithin(lab.ports.imap)).toMatch(/^\* OK/);
      expect((await exitCodeOf('postfix', ['-c', lab.paths.postfixConfigDir, 'check'])).code).toBe(0);
      expect(await canaryImapError(true)).toBeUndefined();
    },
    120_000,
  );
});

describe('mailmend lab down', () => {
  test('stops every lab process by pid and removes the lab from alternate_config_directories', async () => {
    const before = await labProcesses();
    expect(before.length).toBeGreaterThan(0);
    const { stopped } = await labDown(stateDir);
    expect(stopped.map(({ service }) => service)).toEqual(['postfix', 'dovecot', 'sshd', 'relay']);
    expect(await labProcesses()).toEqual([]);
    const listed = await alternateConfigDirs();
    expect(listed).not.toContain(lab.paths.postfixConfigDir);
    expect(listed).not.toContain(lab.paths.knownGoodPostfixDir);
    expect((await labStatus(stateDir)).services.filter((service) => service.up)).toEqual([]);
  });

  test('up after down comes back on the same ports, with a fresh host key', async () => {
    const again = await labUp({ stateDir });
    expect(again).toMatchObject({ alreadyUp: false, ports: lab.ports, serverId: 'lab-test' });
    expect(again.server.ssh?.hostKey).not.toBe(lab.server.ssh?.hostKey);
    lab = again;
    await expectHealthy();
    await labDown(stateDir);
    expect(await labProcesses()).toEqual([]);
  });

  test('stops a frozen sshd too: resumed first, it acts on SIGTERM and logs so', async () => {
    lab = await labUp({ stateDir });
    const sshdLog = (await readFile(lab.paths.sshdLog, 'utf8')).length;
    await labBreak(stateDir, 'sshd-frozen');
    await labDown(stateDir);
    expect(await labProcesses()).toEqual([]);
    expect(await logSince(lab.paths.sshdLog, sshdLog)).toContain('Received signal 15; terminating.');
  });
});

/** Runs `mailmend <argv>` in-process; lab commands never touch Temporal. */
async function mailmend(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    connect: () => Promise.reject(new Error('lab commands must not connect to Temporal')),
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  };
  const code = await runMailmend(argv, deps);
  return { code, stdout, stderr };
}
