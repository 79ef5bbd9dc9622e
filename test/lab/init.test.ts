import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runMailmend } from '../../app/mailmend';
import type { CliDeps } from '../../client/cli/program';
import { loadConfigFile } from '../../config/load';
import { labDown, labUp, type LabInfo } from '../../lab/lab';
import { requireLabTools } from '../../lab/prerequisites';
import { freePorts } from '../support/processes';

const run = promisify(execFile);

let stateDir: string;
let workDir: string;
let lab: LabInfo;

beforeAll(async () => {
  requireLabTools();
  if (process.getuid?.() !== 0) throw new Error('the lab tests need root: they start Postfix, Dovecot and sshd');
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-init-lab-'));
  workDir = await mkdtemp(path.join(os.tmpdir(), 'mailmend-init-work-'));
  const [smtpPort, imapPort, sshPort, relayPort] = (await freePorts(4)) as [number, number, number, number];
  lab = await labUp({ stateDir, smtpPort, imapPort, sshPort, relayPort, serverId: 'lab-init' });
}, 90_000);

afterAll(async () => {
  if (stateDir) {
    await labDown(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  }
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

interface Captured {
  deps: CliDeps & { confirm?: (question: string) => Promise<boolean> };
  out: () => string;
  err: () => string;
  questions: string[];
}

function cli(answers?: boolean[]): Captured {
  let out = '';
  let err = '';
  const questions: string[] = [];
  const deps: Captured['deps'] = {
    connect: () => Promise.reject(new Error('init never needs Temporal')),
    stdout: (text) => (out += text),
    stderr: (text) => (err += text),
  };
  if (answers) {
    deps.confirm = (question) => {
      questions.push(question);
      return Promise.resolve(answers.shift() ?? false);
    };
  }
  return { deps, out: () => out, err: () => err, questions };
}

/** What `ssh-keygen -lf` says of the lab's host key, the check the person is asked to make. */
async function labFingerprint(): Promise<string> {
  const { stdout } = await run('ssh-keygen', ['-lf', `${lab.paths.sshHostKey}.pub`]);
  return stdout.split(' ')[1] ?? '';
}

function sshArgs(): string[] {
  return ['--ssh', `root@127.0.0.1:${lab.ports.ssh}`, '--identity', lab.paths.sshClientKey];
}

async function acceptedLogins(): Promise<number> {
  return (await readFile(lab.paths.sshdLog, 'utf8')).split('Accepted publickey').length - 1;
}

describe('mailmend init --ssh against the lab', () => {
  test('pins the confirmed host key, finds the lab’s Postfix and Dovecot, and saves a known-good copy there', async () => {
    const file = path.join(workDir, 'flags.yaml');
    const knownGood = path.join(stateDir, 'init-known-good');
    const { deps, out, err } = cli();
    const args = ['--accept-host-key', await labFingerprint(), '--save-known-good', knownGood];

    expect(await runMailmend(['init', '--path', file, ...sshArgs(), ...args], deps)).toBe(0);

    expect(err()).toBe('');
    const server = loadConfigFile(file, {}).config.servers[0];
    expect(server?.ssh).toEqual({ ...lab.server.ssh, privateKey: { file: lab.paths.sshClientKey } });
    expect(server?.host).toMatchObject({
      postfixConfigDir: lab.server.host.postfixConfigDir,
      dovecotConfig: lab.server.host.dovecotConfig,
      mailDirs: lab.server.host.mailDirs,
      knownGoodDir: knownGood,
    });
    expect(server?.host.logFiles).toEqual(expect.arrayContaining(lab.server.host.logFiles));
    for (const [live, copy] of [
      [lab.paths.postfixMainCf, 'postfix/main.cf'],
      [lab.paths.postfixMasterCf, 'postfix/master.cf'],
      [lab.paths.dovecotConfig, 'dovecot/dovecot.conf'],
    ] as const) {
      expect(await readFile(path.join(knownGood, copy), 'utf8')).toBe(await readFile(live, 'utf8'));
    }
    expect(out()).toContain(lab.paths.postfixQueueDir);
    expect(out()).toContain(lab.paths.tlsServerCert);
    expect(await readFile(file, 'utf8')).toContain(`# found on the host: Postfix queue: ${lab.paths.postfixQueueDir}`);

    // A second run keeps the copy already there: it may be the good one and the live files the broken ones.
    await writeFile(path.join(knownGood, 'postfix', 'main.cf'), '# the known-good main.cf\n');
    const again = cli();
    expect(await runMailmend(['init', '--path', file, '--force', ...sshArgs(), ...args], again.deps)).toBe(0);
    expect(again.err()).toMatch(/a known-good copy is already there .*kept it/);
    expect(await readFile(path.join(knownGood, 'postfix', 'main.cf'), 'utf8')).toBe('# the known-good main.cf\n');
    expect(loadConfigFile(file, {}).config.servers[0]?.host.knownGoodDir).toBe(knownGood);
  });

  test('asks the person to confirm the fingerprint, and to save a known-good copy', async () => {
    const file = path.join(workDir, 'asked.yaml');
    const { deps, out, questions } = cli([true, false]);

    expect(await runMailmend(['init', '--path', file, ...sshArgs()], deps)).toBe(0);

    expect(out()).toContain(`127.0.0.1:${lab.ports.ssh} presents the host key ${await labFingerprint()} (ssh-ed25519)`);
    expect(questions).toEqual([
      'Is this the key of your mail host? [y/N] ',
      expect.stringContaining('as the known-good copy, in /var/lib/mailmend/known-good on the host?'),
    ]);
    const server = loadConfigFile(file, {}).config.servers[0];
    expect(server?.ssh?.hostKey).toBe(lab.server.ssh?.hostKey);
    expect(server?.host.knownGoodDir).toBeUndefined();
  });

  test('a host key that is not confirmed, or differs from --accept-host-key, is refused before logging in', async () => {
    const before = await acceptedLogins();
    expect(before).toBeGreaterThan(0);
    const fingerprint = await labFingerprint();
    const declined = cli([false]);
    const mismatch = cli();
    const unattended = cli();
    const file = path.join(workDir, 'refused.yaml');

    expect(await runMailmend(['init', '--path', file, ...sshArgs()], declined.deps)).toBe(1);
    const wrong = ['--accept-host-key', 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'];
    expect(await runMailmend(['init', '--path', file, ...sshArgs(), ...wrong], mismatch.deps)).toBe(1);
    expect(await runMailmend(['init', '--path', file, ...sshArgs()], unattended.deps)).toBe(1);

    expect(declined.err()).toBe('mailmend: the host key was not confirmed; nothing was written\n');
    expect(mismatch.err()).toContain(`is ${fingerprint}, not SHA256:AAAA`);
    expect(unattended.err()).toContain(`then run init again with --accept-host-key ${fingerprint}`);
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await acceptedLogins()).toBe(before);
  });
});
