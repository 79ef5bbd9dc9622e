import { hostFindings } from '../../activities/diagnosis-host-rules';
import type { DiagnosisEvidence } from '../../activities/diagnosis-evidence';
import type { FollowUpResult } from '../../activities/follow-up-evidence';
import type { CommandRun, HostEvidence } from '../../activities/host-evidence-types';
import { recordUnanswered, type NotRunCommand, type UnansweredRun } from '../../activities/unanswered-commands';
import { rankFindings } from '../../activities/hypotheses';
import { serverSchema } from '../../config/schema';

const ran = (argv: string[], exitCode: number, output = ''): CommandRun => ({ argv, exitCode, output });
const ok = { ok: true, latencyMs: 1, detail: 'ok' };

function healthyHost(): HostEvidence {
  return {
    collectedAt: '2026-11-28T08:00:00Z',
    postfix: {
      running: true,
      masterPid: 100,
      status: ran(
        ['postfix', '-c', '/etc/postfix', 'status'],
        0,
        'postfix/postfix-script: the Postfix mail system is running: PID: 100',
      ),
      check: ran(['postfix', '-c', '/etc/postfix', 'check'], 0),
    },
    dovecot: { running: true, masterPid: 200, config: ran(['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n'], 0) },
    processes: [],
    queue: { deferred: 0, active: 0, delayReasons: [] },
    relayhost: '[relay.example.net]:587',
    logs: [],
    logWindow: { since: '2026-11-28T07:30:00Z', until: '2026-11-28T08:00:00Z' },
    disk: [{ path: '/var/spool/postfix', usedPercent: 40, inodesUsedPercent: 10 }],
    configChanges: [],
    packageChanges: [],
  };
}

interface SeenAlongside {
  followUps?: FollowUpResult[];
  unanswered?: UnansweredRun[];
}

/** The host's best finding, as the ranking orders them. */
function reasonFromHost(
  host: HostEvidence,
  deferredThreshold = 0,
  { followUps = [], unanswered = [] }: SeenAlongside = {},
) {
  const server = serverSchema.parse({
    id: 'mx1',
    smtp: { host: 'mx1', port: 25 },
    imap: { host: 'mx1', port: 143 },
    host: { deferredThreshold },
  });
  const evidence: DiagnosisEvidence = {
    server,
    host,
    probes: { serverId: 'mx1', checkedAt: host.collectedAt, tcpSmtp: ok, smtp: ok, imap: ok },
    imapTcp: ok,
    matches: [],
    followUps,
    certificateFiles: {},
    unanswered,
  };
  return rankFindings(hostFindings(evidence))[0];
}

describe('reasoning from the mail host', () => {
  test('a healthy host leaves the decision to the network evidence', () => {
    expect(reasonFromHost(healthyHost())).toBeUndefined();
  });

  test('a stopped Postfix whose config passes the check is started', () => {
    const host = healthyHost();
    host.postfix = {
      ...host.postfix,
      running: false,
      status: ran(['postfix', 'status'], 1, 'the Postfix mail system is not running'),
    };
    const finding = reasonFromHost(host);
    expect(finding).toMatchObject({
      actionId: 'start-postfix',
      failureClass: 'not-running',
      rootCause: expect.stringMatching(/Postfix is not running/),
    });
    expect(finding?.evidence[0]).toMatch(
      /postfix status: `postfix status` exit 1: the Postfix mail system is not running/,
    );
    expect(finding?.prevention?.join(' ')).toMatch(/Supervise Postfix/);
  });

  test('a package change unrelated to mail is named apart, never as a suspect', () => {
    const host = healthyHost();
    host.postfix = { ...host.postfix, running: false, status: ran(['postfix', 'status'], 1, 'not running') };
    host.packageChanges = [
      'Start-Date: 2026-03-09  23:10:59',
      'Commandline: apt-get install swaks monit',
      '2026-03-09 23:11:01 upgrade libssl3:amd64 3.0.15-1~deb12u1 3.0.16-1~deb12u1',
    ];
    const evidence = reasonFromHost(host)?.evidence ?? [];
    expect(evidence.filter((line) => line.startsWith('recent package change'))).toEqual([
      'recent package change: 2026-03-09 23:11:01 upgrade libssl3:amd64 3.0.15-1~deb12u1 3.0.16-1~deb12u1',
    ]);
    expect(evidence).toContain(
      'package changes unrelated to mail, not suspects: Commandline: apt-get install swaks monit',
    );
  });

  test('a config that changed since the known-good copy and fails the check is restored', () => {
    const host = healthyHost();
    host.postfix = {
      ...host.postfix,
      running: false,
      check: ran(['postfix', 'check'], 1, 'postfix: fatal: chdir(/usr/libexec/postfix): No such file or directory'),
    };
    host.configChanges = [
      {
        file: '/etc/postfix/main.cf',
        changedSinceKnownGood: true,
        changedSinceBackup: false,
        comparedWith: '/srv/known-good/postfix/main.cf',
        diff: '--- a\n+++ b\n@@ -1 +1 @@\n-daemon_directory = /usr/lib/postfix/sbin\n+daemon_directory = /usr/libexec/postfix',
        modifiedWithinWindow: true,
        modifiedAt: '2026-11-28T07:59:00Z',
        backups: ['/etc/postfix/main.cf.bak-20261128T075900'],
      },
    ];
    const finding = reasonFromHost(host);
    expect(finding?.actionId).toBe('restore-postfix-config');
    expect(finding?.rootCause).toMatch(/changed since the known-good copy .*fatal: chdir/);
    expect(finding?.evidence.join('\n')).toMatch(/\+daemon_directory = \/usr\/libexec\/postfix/);
    expect(finding?.evidence.join('\n')).toMatch(/backup \/etc\/postfix\/main\.cf\.bak-20261128T075900/);
  });

  test('a failing check with nothing to restore hands over to people', () => {
    const host = healthyHost();
    host.postfix = {
      ...host.postfix,
      running: false,
      check: ran(['postfix', 'check'], 1, 'fatal: bad numerical configuration'),
    };
    expect(reasonFromHost(host)?.actionId).toBe('none');
  });

  test('a stopped Dovecot with a valid config is started; an invalid one is handed over', () => {
    const host = healthyHost();
    host.dovecot = { ...host.dovecot, running: false };
    expect(reasonFromHost(host)?.actionId).toBe('start-dovecot');
    host.dovecot.config = ran(['doveconf', '-n'], 89, 'doveconf: Fatal: Error in configuration file line 12');
    expect(reasonFromHost(host)).toMatchObject({ actionId: 'none', rootCause: expect.stringMatching(/line 12/) });
  });

  test('a deferred backlog behind an unreachable relay is flushed once the relay answers', () => {
    const host = healthyHost();
    host.queue = {
      deferred: 42,
      active: 0,
      oldestDeferredAgeSeconds: 900,
      delayReasons: ['connect to relay.example.net[203.0.113.5]:587: Connection timed out'],
    };
    const finding = reasonFromHost(host);
    expect(finding?.actionId).toBe('flush-postfix-queue');
    expect(finding?.rootCause).toMatch(
      /42 messages, oldest 900s\) because the relay \[relay\.example\.net\]:587 cannot be reached/,
    );
    expect(finding?.prevention?.join(' ')).toMatch(/smtp_fallback_relay/);
    expect(reasonFromHost(host, 50)).toBeUndefined();
  });

  test('a full disk comes first, since no restart helps; inodes count as full too', () => {
    const host = healthyHost();
    host.postfix = { ...host.postfix, running: false };
    host.disk = [{ path: '/var/spool/postfix', usedPercent: 100, inodesUsedPercent: 12 }];
    expect(reasonFromHost(host)).toMatchObject({
      actionId: 'none',
      failureClass: 'disk-full',
      rootCause: expect.stringMatching(/filesystem under \/var\/spool\/postfix .* is full/),
    });
    host.disk = [{ path: '/var/spool/postfix', usedPercent: 20, inodesUsedPercent: 100 }];
    expect(reasonFromHost(host)).toMatchObject({
      failureClass: 'inodes-exhausted',
      rootCause: expect.stringMatching(/is out of inodes/),
    });
  });
});

describe('reasoning from commands that did not answer', () => {
  const POSTQUEUE = ['postqueue', '-c', '/etc/postfix', '-j'];
  const DOVEADM = ['doveadm', '-c', '/etc/dovecot/dovecot.conf', 'process', 'status'];
  const hung = (argv: string[], timedOutAfterMs: number): UnansweredRun => ({
    argv,
    exitCode: -1,
    output: `timed out after ${timedOutAfterMs} ms`,
    timedOutAfterMs,
  });
  /** The process-state follow-up of a master, as `ps -o pid,stat,wchan,args -p <pid>` printed it. */
  const masterRow = (pid: number, stat: string, args: string): FollowUpResult => {
    const row = `${pid} ${stat}   do_sig ${args}`;
    return {
      request: { kind: 'process-state', pid },
      runs: [ran(['ps', '-o', 'pid,stat,wchan,args', '-p', String(pid)], 0, `  PID STAT WCHAN  COMMAND\n  ${row}\n`)],
      values: { processState: row },
    };
  };

  test('a frozen Postfix cites the postqueue that did not answer, and names its stopped master', () => {
    const finding = reasonFromHost(healthyHost(), 0, {
      followUps: [masterRow(100, 'Ts', '/usr/lib/postfix/sbin/master -w')],
      unanswered: [hung(POSTQUEUE, 10_000)],
    });

    expect(finding).toMatchObject({ source: 'host-postfix-frozen', actionId: 'resume-postfix' });
    expect(finding?.rootCause).toBe(
      'Postfix is frozen: its master process (pid 100) is stopped (ps state Ts), so connections are accepted but ' +
        'never answered; `postqueue -c /etc/postfix -j` did not answer within 10 s',
    );
    expect(finding?.evidence).toEqual([
      'master process: `ps -o pid,stat,wchan,args -p 100` exit 0: PID STAT WCHAN  COMMAND | 100 Ts   do_sig /usr/lib/postfix/sbin/master -w',
      '`postqueue -c /etc/postfix -j` did not answer within 10 s',
    ]);
  });

  test('a frozen Dovecot cites the doveadm that did not answer', () => {
    const finding = reasonFromHost(healthyHost(), 0, {
      followUps: [masterRow(200, 'T', '/usr/sbin/dovecot')],
      unanswered: [hung(DOVEADM, 10_000)],
    });

    expect(finding).toMatchObject({ source: 'host-dovecot-frozen', actionId: 'resume-dovecot' });
    expect(finding?.rootCause).toMatch(/^Dovecot is frozen: its master process \(pid 200\) is stopped \(ps state T\)/);
    expect(finding?.evidence).toContain(
      '`doveadm -c /etc/dovecot/dovecot.conf process status` did not answer within 10 s',
    );
  });

  test('a Postfix whose master sleeps but whose postqueue times out does not answer, and is restarted', () => {
    const finding = reasonFromHost(healthyHost(), 0, {
      followUps: [masterRow(100, 'Ss', '/usr/lib/postfix/sbin/master -w')],
      unanswered: [hung(POSTQUEUE, 10_000)],
    });

    expect(finding).toMatchObject({
      source: 'host-postfix-unresponsive',
      actionId: 'restart-postfix',
      failureClass: 'not-answering',
      rootCause:
        'Postfix does not answer: `postqueue -c /etc/postfix -j` did not answer within 10 s, while its master ' +
        'process (pid 100) is alive and not stopped (ps state Ss)',
    });
    expect(finding?.evidence[0]).toBe('`postqueue -c /etc/postfix -j` did not answer within 10 s');
    expect(finding?.evidence[1]).toMatch(/^master process: .*100 Ss/);
  });

  test('a Dovecot that runs but does not answer doveadm is handed over: the catalog has no restart for it', () => {
    const finding = reasonFromHost(healthyHost(), 0, {
      followUps: [masterRow(200, 'S', '/usr/sbin/dovecot')],
      unanswered: [hung(DOVEADM, 10_000)],
    });

    expect(finding).toMatchObject({
      source: 'host-dovecot-unresponsive',
      actionId: 'none',
      rootCause:
        'Dovecot does not answer: `doveadm -c /etc/dovecot/dovecot.conf process status` did not answer within ' +
        '10 s, while its master process (pid 200) is alive and not stopped (ps state S)',
    });
    expect(finding?.handover?.suggestedCommands).toEqual([
      "'ps' '-o' 'pid,pgid,stat,wchan:32,args' '--sid' '200'",
      "'kill' '-TERM' '200'",
      "'dovecot' '-c' '/etc/dovecot/dovecot.conf'",
    ]);
  });

  test('a client that timed out while nobody could read its daemon state is still quoted, without a cause claimed', () => {
    const df = hung(['df', '-P', '/var/mail'], 5_000);
    const finding = reasonFromHost(healthyHost(), 0, { unanswered: [hung(POSTQUEUE, 10_000), df] });

    expect(finding).toMatchObject({
      source: 'host-commands-unanswered',
      actionId: 'none',
      evidence: [
        '`postqueue -c /etc/postfix -j` did not answer within 10 s',
        '`df -P /var/mail` did not answer within 5 s',
      ],
    });
  });

  test('a postqueue the spent visit budget cut short says nothing about Postfix: quoted, no restart', () => {
    const cutShort: UnansweredRun = { ...hung(POSTQUEUE, 1_500), cutShortByBudget: true };
    const finding = reasonFromHost(healthyHost(), 0, {
      followUps: [masterRow(100, 'Ss', '/usr/lib/postfix/sbin/master -w')],
      unanswered: [cutShort],
    });

    expect(finding).toMatchObject({
      source: 'host-commands-unanswered',
      actionId: 'none',
      failureClass: 'host-unresponsive',
      evidence: ["`postqueue -c /etc/postfix -j` did not answer within 1.5 s, all the visit's time budget had left"],
    });
  });

  test('a status or check the visit had no time to run is neither a stopped Postfix nor a pass', async () => {
    const spent = recordUnanswered({ run: () => Promise.reject(new Error('must not run')) }, 0).session;
    const status = await spent.run(['postfix', '-c', '/etc/postfix', 'status'], { timeoutMs: 5_000 });
    const check = await spent.run(['postfix', '-c', '/etc/postfix', 'check'], { timeoutMs: 15_000 });

    const unseen = healthyHost();
    unseen.postfix = { ...unseen.postfix, running: false, status, check };
    expect(reasonFromHost(unseen)).toBeUndefined();

    const stopped = healthyHost();
    stopped.postfix = { ...stopped.postfix, running: false, status: ran(['postfix', 'status'], 1), check };
    expect(reasonFromHost(stopped)).toMatchObject({
      source: 'host-postfix-stopped',
      actionId: 'none',
      rootCause:
        'Postfix is not running, and whether its configuration is sound is unknown: ' +
        "`postfix -c /etc/postfix check` not run: the visit's time budget was spent",
      handover: { reason: expect.stringMatching(/^The configuration check was not run in time/) as unknown },
    });
    expect((check as NotRunCommand).notRun).toBe("the visit's time budget was spent");
  });

  test('a process listing that hung saw no Dovecot, and no absence of one either', () => {
    const host = healthyHost();
    const config = hung(['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n'], 5_000);
    host.dovecot = { running: false, config };
    const ps = hung(['ps', '-ww', '-eo', 'pid,user,args'], 5_000);

    expect(reasonFromHost(host, 0, { unanswered: [config, ps] })).toMatchObject({
      source: 'host-commands-unanswered',
      failureClass: 'host-unresponsive',
    });
    expect(reasonFromHost(host, 0, { unanswered: [config] })).toMatchObject({ source: 'host-dovecot-stopped' });
  });

  test('a status that hung does not read as a stopped Postfix, and a check that hung is not called a pass', () => {
    const host = healthyHost();
    host.postfix = {
      ...host.postfix,
      running: false,
      status: hung(['postfix', '-c', '/etc/postfix', 'status'], 5_000),
    };
    expect(reasonFromHost(host, 0, { unanswered: [host.postfix.status as UnansweredRun] })).toMatchObject({
      source: 'host-commands-unanswered',
      rootCause: 'Commands on the mail host do not answer: `postfix -c /etc/postfix status` did not answer within 5 s',
    });

    const stopped = healthyHost();
    const check = hung(['postfix', '-c', '/etc/postfix', 'check'], 15_000);
    stopped.postfix = { ...stopped.postfix, running: false, status: ran(['postfix', 'status'], 1), check };
    expect(reasonFromHost(stopped, 0, { unanswered: [check] })).toMatchObject({
      source: 'host-postfix-stopped',
      actionId: 'none',
      rootCause:
        'Postfix is not running, and whether its configuration is sound is unknown: ' +
        '`postfix -c /etc/postfix check` did not answer within 15 s',
      evidence: expect.arrayContaining([
        'postfix check: `postfix -c /etc/postfix check` did not answer within 15 s',
      ]) as unknown,
    });
  });
});
