import { startTestLab, stopTestLab } from '../support/test-lab';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { createDiagnosisActivities } from '../../activities/diagnosis';
import { collectHostEvidence } from '../../activities/host-evidence';
import { createProbeActivities } from '../../activities/probes';
import { loadSignatureCatalog } from '../../activities/signatures/catalog';
import { withSshSession } from '../../activities/ssh';
import { recordUnanswered } from '../../activities/unanswered-commands';
import { SecretResolver } from '../../config/secrets';
import { labBreak, labHeal, type LabInfo } from '../../lab/lab';
import { createMailHostAccess } from '../../worker/mail-host-access';
import { layoutOf } from '../support/host-layout';
import { useTestSshd } from '../support/sshd';

const execFileAsync = promisify(execFile);
const OPTIONS = { readyTimeoutMs: 5_000, keepaliveIntervalMs: 5_000, commandTimeoutMs: 20_000 };
const HOUR_MS = 60 * 60_000;
const DAY_MS = 24 * HOUR_MS;

/** What the same command answers when run here directly, to compare with what came over SSH. */
async function local(argv: string[]): Promise<{ exitCode: number; stdout: string }> {
  const [program, ...args] = argv;
  try {
    const { stdout } = await execFileAsync(program ?? 'false', args);
    return { exitCode: 0, stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    return { exitCode: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '' };
  }
}

async function livePidIn(pidFile: string): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
  if (!Number.isInteger(pid)) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * What this host says about itself when asked directly, without SSH, so the evidence is held against facts rather
 * than against whatever state the machine running the tests happens to be in.
 */
async function hostSelfReport(queueDirectory: string) {
  const baseDir = (await local(['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-h', 'base_dir'])).stdout.trim();
  const queue = await local(['postqueue', '-c', '/etc/postfix', '-j']);
  const queuedLines = queue.stdout.split('\n').filter((line) => line.trim());
  const deferredMessages =
    queue.exitCode === 0
      ? queuedLines.filter((line) => (JSON.parse(line) as { queue_name?: string }).queue_name === 'deferred').length
      : (await local(['find', path.join(queueDirectory, 'deferred'), '-type', 'f'])).stdout.split('\n').filter(Boolean)
          .length;
  return {
    postfixMasterPid: await livePidIn(path.join(queueDirectory, 'pid', 'master.pid')),
    dovecotMasterPid: baseDir ? await livePidIn(path.join(baseDir, 'master.pid')) : undefined,
    deferredMessages,
  };
}

/** `Nov 29 14:04:37` in local time, as syslog and Postfix's maillog_file write it. */
function syslogTimestamp(date: Date): string {
  const month = date.toLocaleString('en-US', { month: 'short' });
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${month} ${String(date.getDate()).padStart(2, ' ')} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** `YYYY-MM-DD HH:MM:SS` in local time, as dpkg and apt write it. */
function logTimestamp(date: Date, separator = ' '): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `${separator}${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

describe('collectHostEvidence over a real sshd', () => {
  const sshd = useTestSshd('mailmend-evidence-');

  test('reads the system Postfix and Dovecot as they are, with logs and package changes', async () => {
    const now = new Date();
    const knownGood = path.join(sshd.scratch, 'known-good-system');
    await mkdir(path.join(knownGood, 'postfix'), { recursive: true });
    await mkdir(path.join(knownGood, 'dovecot'), { recursive: true });
    await copyFile('/etc/postfix/main.cf', path.join(knownGood, 'postfix', 'main.cf'));
    await copyFile('/etc/postfix/master.cf', path.join(knownGood, 'postfix', 'master.cf'));
    await copyFile('/etc/dovecot/dovecot.conf', path.join(knownGood, 'dovecot', 'dovecot.conf'));

    const minutesAgo = (minutes: number) => syslogTimestamp(new Date(now.getTime() - minutes * 60_000));
    const inWindow = [
      `${minutesAgo(5)} mx postfix/smtp[2211]: 4ZqA1: to=<bob@example.net>, relay=none, delay=3600, status=deferred (connect to relay.example.net[203.0.113.7]:25: Connection refused)`,
      `${minutesAgo(4)} mx postfix/master[812]: fatal: bind 0.0.0.0 port 25: Address already in use`,
    ];
    const mailLog = path.join(sshd.scratch, 'mail.log');
    // An earlier incident's line, older than the 30 minute window: it must not reach this diagnosis.
    const earlier = `${minutesAgo(90)} mx postfix/master[700]: fatal: bind 0.0.0.0 port 25: Address already in use`;
    await writeFile(mailLog, `${earlier}\n${inWindow.join('\n')}\n`);
    const recent = new Date(now.getTime() - 2 * HOUR_MS);
    const old = new Date(now.getTime() - 3 * DAY_MS);
    const dpkgLog = path.join(sshd.scratch, 'dpkg.log');
    await writeFile(
      dpkgLog,
      [
        `${logTimestamp(old)} upgrade libc6:amd64 2.36-9+deb12u9 2.36-9+deb12u10`,
        `${logTimestamp(recent)} upgrade postfix:amd64 3.7.10-0+deb12u1 3.7.11-0+deb12u1`,
        `${logTimestamp(recent)} status half-configured postfix:amd64 3.7.10-0+deb12u1`,
        '',
      ].join('\n'),
    );
    const aptHistory = path.join(sshd.scratch, 'history.log');
    await writeFile(
      aptHistory,
      [
        `Start-Date: ${logTimestamp(recent, '  ')}`,
        'Commandline: apt-get -y upgrade postfix',
        'Upgrade: postfix:amd64 (3.7.10-0+deb12u1, 3.7.11-0+deb12u1)',
        `End-Date: ${logTimestamp(recent, '  ')}`,
        '',
      ].join('\n'),
    );
    const mailDir = path.join(sshd.scratch, 'mail');
    await mkdir(mailDir);
    const layout = layoutOf({
      knownGoodDir: knownGood,
      logFiles: [mailLog, path.join(sshd.scratch, 'no-such.log')],
      mailDirs: [mailDir, path.join(sshd.scratch, 'no-such-dir')],
      packageLogs: [dpkgLog, aptHistory, path.join(sshd.scratch, 'no-such-dpkg.log')],
      recentChangeWindow: '1d',
    });

    const [status, check, doveconf, relayhost, queueDirectory] = await Promise.all([
      local(['postfix', '-c', '/etc/postfix', 'status']),
      local(['postfix', '-c', '/etc/postfix', 'check']),
      local(['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n']),
      local(['postconf', '-c', '/etc/postfix', '-h', 'relayhost']),
      local(['postconf', '-c', '/etc/postfix', '-h', 'queue_directory']),
    ]);
    const evidence = await withSshSession(sshd.target, OPTIONS, (session) => collectHostEvidence(session, layout, now));

    expect(evidence.collectedAt).toBe(now.toISOString());
    expect(evidence.postfix.status).toMatchObject({ argv: ['postfix', '-c', '/etc/postfix', 'status'] });
    expect(evidence.postfix.running).toBe(status.exitCode === 0);
    const host = await hostSelfReport(queueDirectory.stdout.trim());
    expect(evidence.postfix.masterPid).toBe(status.exitCode === 0 ? host.postfixMasterPid : undefined);
    expect(evidence.postfix.check).toMatchObject({
      argv: ['postfix', '-c', '/etc/postfix', 'check'],
      exitCode: check.exitCode,
    });
    expect(evidence.dovecot.config).toMatchObject({
      exitCode: doveconf.exitCode,
      output: expect.stringContaining(doveconf.stdout.trim()),
    });
    expect(evidence.dovecot.running).toBe(host.dovecotMasterPid !== undefined);
    expect(evidence.dovecot.masterPid).toBe(host.dovecotMasterPid);
    expect(evidence.relayhost).toBe(relayhost.stdout.trim());
    expect(evidence.queue).toMatchObject({ deferred: host.deferredMessages });
    expect(
      evidence.logs.map(({ file, lines, unreadable }) => ({ file, texts: lines.map((line) => line.text), unreadable })),
    ).toEqual([
      { file: mailLog, texts: inWindow, unreadable: undefined },
      { file: path.join(sshd.scratch, 'no-such.log'), texts: [], unreadable: expect.stringMatching(/No such file/) },
    ]);
    expect(Math.abs(evidence.logWindow.hostClockSkewMs ?? Infinity)).toBeLessThan(5_000);
    expect(evidence.disk.map((disk) => disk.path)).toEqual([queueDirectory.stdout.trim(), mailDir]);
    for (const disk of evidence.disk) {
      expect(disk.usedPercent).toBeGreaterThanOrEqual(0);
      expect(disk.usedPercent).toBeLessThanOrEqual(100);
    }
    expect(
      evidence.configChanges.map(({ file, changedSinceKnownGood, diff }) => ({ file, changedSinceKnownGood, diff })),
    ).toEqual([
      { file: '/etc/postfix/main.cf', changedSinceKnownGood: false, diff: '' },
      { file: '/etc/postfix/master.cf', changedSinceKnownGood: false, diff: '' },
      { file: '/etc/dovecot/dovecot.conf', changedSinceKnownGood: false, diff: '' },
    ]);
    expect(evidence.packageChanges).toEqual([
      `${logTimestamp(recent)} upgrade postfix:amd64 3.7.10-0+deb12u1 3.7.11-0+deb12u1`,
      `Start-Date: ${logTimestamp(recent, '  ')}`,
      'Commandline: apt-get -y upgrade postfix',
    ]);
  });

  test('finds config drift and backups in a copy of /etc/postfix; failing commands become evidence', async () => {
    const now = new Date();
    const live = path.join(sshd.scratch, 'live');
    const knownGood = path.join(sshd.scratch, 'known-good-drift');
    await mkdir(path.join(live, 'postfix'), { recursive: true });
    await mkdir(path.join(knownGood, 'postfix'), { recursive: true });
    await mkdir(path.join(knownGood, 'dovecot'), { recursive: true });
    for (const file of ['main.cf', 'master.cf']) {
      await copyFile(path.join('/etc/postfix', file), path.join(knownGood, 'postfix', file));
      await copyFile(path.join('/etc/postfix', file), path.join(live, 'postfix', file));
    }
    await copyFile('/etc/dovecot/dovecot.conf', path.join(knownGood, 'dovecot', 'dovecot.conf'));
    const liveMain = path.join(live, 'postfix', 'main.cf');
    const original = await readFile(liveMain, 'utf8');
    expect(original).toMatch(/^relayhost =.*$/m);
    await writeFile(liveMain, original.replace(/^relayhost =.*$/m, 'relayhost = [relay.broken.example]:2525'));
    const backup = (name: string, ageMs: number) => {
      const file = path.join(live, 'postfix', name);
      const when = new Date(now.getTime() - ageMs);
      return writeFile(file, original).then(() => utimes(file, when, when));
    };
    await backup('main.cf.bak-20260101T1200', 5 * DAY_MS);
    await backup('main.cf~', HOUR_MS);
    await backup('main.cf.orig', 0);
    await backup('master.cf.bak-20260101T1200', DAY_MS);
    const masterCf = path.join(live, 'postfix', 'master.cf');
    const threeDaysAgo = new Date(now.getTime() - 3 * DAY_MS);
    await utimes(masterCf, threeDaysAgo, threeDaysAgo);
    const missingDovecotConf = path.join(live, 'dovecot', 'dovecot.conf');
    const layout = layoutOf({
      postfixConfigDir: path.join(live, 'postfix'),
      dovecotConfig: missingDovecotConf,
      knownGoodDir: knownGood,
      logFiles: [],
      mailDirs: [],
      packageLogs: [],
      recentChangeWindow: '1d',
    });

    const evidence = await withSshSession(sshd.target, OPTIONS, (session) => collectHostEvidence(session, layout, now));

    // The copy keeps the system's queue_directory, so its status is the system Postfix's.
    const systemStatus = await local(['postfix', '-c', '/etc/postfix', 'status']);
    expect(evidence.postfix.running).toBe(systemStatus.exitCode === 0);
    expect(evidence.postfix.status.exitCode).toBe(systemStatus.exitCode);
    expect(evidence.postfix.check.argv).toEqual(['postfix', '-c', path.join(live, 'postfix'), 'check']);
    expect(evidence.dovecot.config.exitCode).not.toBe(0);
    expect(evidence.dovecot.config.output).toContain(missingDovecotConf);
    expect(evidence.relayhost).toBe('[relay.broken.example]:2525');
    expect(evidence.configChanges).toEqual([
      {
        file: liveMain,
        changedSinceKnownGood: true,
        changedSinceBackup: false,
        comparedWith: path.join(knownGood, 'postfix', 'main.cf'),
        diff: expect.stringContaining('+relayhost = [relay.broken.example]:2525'),
        modifiedWithinWindow: true,
        modifiedAt: expect.any(String),
        backups: [
          path.join(live, 'postfix', 'main.cf.orig'),
          path.join(live, 'postfix', 'main.cf~'),
          path.join(live, 'postfix', 'main.cf.bak-20260101T1200'),
        ],
      },
      {
        file: masterCf,
        changedSinceKnownGood: false,
        changedSinceBackup: false,
        diff: '',
        modifiedWithinWindow: false,
        modifiedAt: new Date(Math.floor(threeDaysAgo.getTime() / 1000) * 1000).toISOString(),
        backups: [path.join(live, 'postfix', 'master.cf.bak-20260101T1200')],
      },
      {
        file: missingDovecotConf,
        changedSinceKnownGood: true,
        changedSinceBackup: false,
        comparedWith: path.join(knownGood, 'dovecot', 'dovecot.conf'),
        diff: expect.stringContaining('No such file'),
        modifiedWithinWindow: false,
        backups: [],
      },
    ]);
    const mainDiff = evidence.configChanges[0]?.diff.split('\n') ?? [];
    expect(mainDiff[0]).toMatch(/^--- .*known-good-drift\/postfix\/main\.cf/);
    expect(mainDiff).toContain('-relayhost = ');
  });
});

describe('a hung daemon on a real lab is evidence, never a stall', () => {
  let stateDir: string;
  let lab: LabInfo;
  beforeAll(async () => {
    ({ stateDir, lab } = await startTestLab('hang', 'lab-hang'));
  }, 60_000);
  afterAll(() => stopTestLab(stateDir), 60_000);
  afterEach(() => labHeal(stateDir), 30_000);

  const logger = pino({ level: 'silent' });
  const mailHost = () => createMailHostAccess(new SecretResolver({}, '/'));
  const postqueue = () => `\`postqueue -c ${lab.paths.postfixConfigDir} -j\` did not answer within 10 s`;
  const doveadm = () => `\`doveadm -c ${lab.paths.dovecotConfig} process status\` did not answer within 10 s`;

  /** The real probes, then the real diagnosis on their report, as the workflow runs them. */
  async function assessAndDiagnose() {
    const deps = {
      servers: new Map([[lab.server.id, lab.server]]),
      mailHost: mailHost(),
      logger,
      probeTimeoutMs: 3_000,
    };
    const context = { incidentId: 'incident-lab-hang', serverId: lab.server.id };
    const started = Date.now();
    const probes = await createProbeActivities(deps).probeServer({
      context: { ...context, step: 'assessment' },
      deadlineMs: 25_000,
    });
    const probedMs = Date.now() - started;
    const diagnosis = await createDiagnosisActivities({ ...deps, signatures: loadSignatureCatalog() }).diagnoseOutage({
      context: { ...context, step: 'troubleshooting' },
      probes,
    });
    return { probes, probedMs, diagnosis };
  }

  test('a healthy lab answers every client at once: nothing is unanswered', async () => {
    const started = Date.now();
    const unanswered = await mailHost().withSsh(lab.server, async (raw) => {
      const recording = recordUnanswered(raw);
      await collectHostEvidence(recording.session, lab.server.host, new Date());
      return recording.unanswered;
    });
    expect(unanswered).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('frozen Postfix: postqueue is killed at 10 s, the queue is counted anyway, and the diagnosis quotes it', async () => {
    await labBreak(stateDir, 'postfix-frozen');

    const { probes, probedMs, diagnosis } = await assessAndDiagnose();

    expect(probedMs).toBeLessThan(25_000);
    expect(probes.smtp.ok).toBe(false);
    expect(probes.deferredQueue?.detail).toContain(`${postqueue()}, so the queue files were counted`);
    expect(diagnosis.hypotheses?.[0]?.source).toBe('host-postfix-frozen');
    expect(diagnosis.rootCause).toMatch(/^Postfix is frozen: its master process \(pid \d+\) is stopped \(ps state T/);
    expect(diagnosis.rootCause).toContain(postqueue());
    expect(diagnosis.evidence).toContain(postqueue());
  }, 90_000);

  test('frozen Dovecot: doveadm is killed at 10 s and the diagnosis quotes it', async () => {
    await labBreak(stateDir, 'dovecot-frozen');

    const { probes, diagnosis } = await assessAndDiagnose();

    expect(probes.imap.ok).toBe(false);
    expect(diagnosis.hypotheses?.[0]?.source).toBe('host-dovecot-frozen');
    expect(diagnosis.rootCause).toMatch(/^Dovecot is frozen: its master process \(pid \d+\) is stopped \(ps state T/);
    expect(diagnosis.evidence).toContain(doveadm());
  }, 90_000);
});
