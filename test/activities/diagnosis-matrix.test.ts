import type { Signature } from '../../activities/signatures/catalog';
import type { Diagnosis } from '../../workflows/messages';
import {
  DOVECOT_UP,
  POSTFIX_DOWN,
  POSTFIX_UP,
  SHIPPED,
  diagnoseFixture,
  hungFor,
  refused,
  silent,
  syslogTime,
  type Fixture,
} from './diagnosis-fixtures';

const NOW = new Date();
const at = (minutesAgo: number) => syslogTime(NOW, minutesAgo);

/**
 * What makes a diagnosis contradict its own evidence: a quoted line that matches a fatal signature of a failing daemon
 * while the top hypothesis is neither that signature nor one of the same class (unless quoted evidence refutes that
 * signature's hypothesis), or a root cause that says a check
 * passed while the quoted evidence shows it exiting non-zero.
 */
function contradictions(diagnosis: Diagnosis, failing: ReadonlySet<string>, catalog: readonly Signature[] = SHIPPED) {
  const top = diagnosis.hypotheses?.[0];
  const problems: string[] = [];
  if (!top) return ['no hypotheses'];
  const quoted = [
    ...diagnosis.evidence,
    ...(diagnosis.hypotheses ?? []).flatMap((hypothesis) => [...hypothesis.evidenceFor, ...hypothesis.evidenceAgainst]),
  ];
  for (const line of quoted) {
    // A line whose own hypothesis is refuted by quoted evidence (its harm is gone now) is weighed, not ignored.
    const refuted = (signature: Signature) =>
      (diagnosis.hypotheses ?? []).some((h) => h.source === signature.id && h.evidenceAgainst.length > 0);
    // A line the failing daemon stops on must be explained; a warning (a failed delivery) may be a second problem.
    const explained = catalog.filter(
      (signature) =>
        signature.fatal && failing.has(signature.daemon) && signature.pattern.test(line) && !refuted(signature),
    );
    if (explained.length === 0) continue;
    const fits = explained.some(
      (signature) =>
        signature.id === top.source ||
        (signature.failureClass === top.failureClass && signature.daemon === explained[0]?.daemon),
    );
    if (!fits) problems.push(`top hypothesis ${top.source} ignores ${explained.map((s) => s.id).join('/')}: ${line}`);
  }
  const claims: [RegExp, RegExp][] = [
    [/passes `postfix check`/, /postfix check: `[^`]*` exit [1-9]|`postfix[^`]* check`: /],
    [/`doveconf -n` accepts/, /doveconf -n: `[^`]*` exit [1-9]|Fatal: Error in configuration file/],
  ];
  for (const [claim, refutation] of claims) {
    const refuting = diagnosis.evidence.find((line) => refutation.test(line));
    if (claim.test(diagnosis.rootCause) && refuting) problems.push(`"${diagnosis.rootCause}" against: ${refuting}`);
  }
  return problems;
}

const BIND_CONFLICT = 'postfix/master[7242]: fatal: bind 127.0.0.1 port 2525: Address already in use';
const DOVECOT_CONFIG =
  'Fatal: Error in configuration file /etc/dovecot/dovecot.conf line 5: Unknown setting: frobnicate_mode';
const SS_PYTHON =
  'State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n' +
  'LISTEN 0      128        127.0.0.1:2525      0.0.0.0:*    users:(("python3",pid=7107,fd=3))\n';
const DOVECOT_DOWN_CONFIG_OK = { 'doveconf -c /etc/dovecot/dovecot.conf -h base_dir': { output: '/run/dovecot\n' } };
const KNOWN_GOOD_DOVECOT_DIFFERS = {
  'diff -u /srv/known-good/dovecot/dovecot.conf /etc/dovecot/dovecot.conf': {
    exitCode: 1,
    output: '--- a\n+++ b\n@@ -5 +5 @@\n-protocols = imap\n+frobnicate_mode = yes\n',
  },
};

interface Case extends Fixture {
  failing: string[];
  expect: { source: string; actionId: string; rootCause: RegExp };
}

const MATRIX: Case[] = [
  {
    name: 'real failure 1: Postfix down, bind conflict in the log',
    script: { ...POSTFIX_DOWN, ...DOVECOT_UP, 'ss -ltnp': { output: SS_PYTHON } },
    log: [`${at(3)} mx postfix/postfix-script[7240]: starting the Postfix mail system`, `${at(3)} mx ${BIND_CONFLICT}`],
    probes: { tcpSmtp: refused, smtp: refused },
    failing: ['postfix'],
    expect: {
      source: 'postfix-bind-conflict',
      actionId: 'none',
      rootCause: /^Postfix cannot start: 127\.0\.0\.1 port 2525 is already in use by python3 \(pid 7107\)/,
    },
  },
  {
    name: 'real failure 2: Dovecot down, config error in the log, known-good differs',
    script: { ...POSTFIX_UP, ...DOVECOT_DOWN_CONFIG_OK, ...KNOWN_GOOD_DOVECOT_DIFFERS },
    log: [`${at(2)} mx dovecot: doveconf: ${DOVECOT_CONFIG}`],
    imapUp: false,
    failing: ['dovecot'],
    expect: {
      source: 'dovecot-config-error',
      actionId: 'restore-dovecot-config',
      rootCause:
        /^Dovecot refuses its configuration: \/etc\/dovecot\/dovecot\.conf line 5: Unknown setting: frobnicate_mode/,
    },
  },
  {
    name: 'Dovecot config error from doveconf itself, nothing differing to restore',
    script: {
      ...POSTFIX_UP,
      'doveconf -c /etc/dovecot/dovecot.conf -n': { exitCode: 89, output: `doveconf: ${DOVECOT_CONFIG}\n` },
      'doveconf -c /etc/dovecot/dovecot.conf -h base_dir': { exitCode: 89, output: `doveconf: ${DOVECOT_CONFIG}\n` },
    },
    imapUp: false,
    failing: ['dovecot'],
    expect: { source: 'dovecot-config-error', actionId: 'none', rootCause: /line 5: Unknown setting/ },
  },
  {
    name: 'Postfix answers EHLO but cannot write its queue',
    script: { ...POSTFIX_UP, ...DOVECOT_UP },
    log: [
      `${at(4)} mx postfix/cleanup[8707]: warning: mail_queue_enter: create file incoming/525628.8707: Permission denied`,
      `${at(3)} mx postfix/cleanup[8707]: warning: mail_queue_enter: create file incoming/529093.8707: Permission denied`,
    ],
    failing: [],
    expect: {
      source: 'postfix-queue-create-denied',
      actionId: 'postfix-set-permissions',
      rootCause: /^Postfix cannot write its queue: creating incoming\/529093\.8707 is denied/,
    },
  },
  {
    name: 'Maildir permission denied under a configured mail root with an owner',
    script: { ...POSTFIX_UP, ...DOVECOT_UP },
    host: { mailDirs: ['/var/mail/vhosts'], mailOwner: 'vmail:vmail' },
    log: [
      `${at(1)} mx postfix/virtual[8708]: warning: maildir access problem for UID/GID=999/995: create maildir file /var/mail/vhosts/lab.test/canary/tmp/1795961168.P8708.vm: Permission denied`,
    ],
    failing: [],
    expect: {
      source: 'postfix-maildir-permission',
      actionId: 'fix-mailbox-ownership',
      rootCause:
        /^Postfix cannot deliver into the mailbox: creating \/var\/mail\/vhosts\/lab\.test\/canary\/tmp\/\S+ is denied to UID\/GID 999\/995/,
    },
  },
  {
    name: 'Maildir permission denied without host.mailOwner: handed over',
    script: { ...POSTFIX_UP, ...DOVECOT_UP },
    host: { mailDirs: ['/var/mail/vhosts'] },
    log: [
      `${at(1)} imap(canary@lab.test)<8704><0atAy2phBuJ/AAAB>: Error: chdir(/var/mail/vhosts/lab.test/canary/) failed: Permission denied (euid=999(vmail) egid=995(vmail) missing +x perm: /var/mail/vhosts/lab.test/canary, dir owned by 0:0 mode=0700)`,
    ],
    failing: [],
    expect: { source: 'dovecot-mailbox-permission', actionId: 'none', rootCause: /^Dovecot cannot open the mailbox/ },
  },
  {
    name: 'passdb unreadable',
    script: {
      ...POSTFIX_UP,
      ...DOVECOT_UP,
      'stat -c %U:%G %a %n /etc/dovecot/users /etc/dovecot /etc': {
        output: 'root:root 0 /etc/dovecot/users\nroot:root 755 /etc/dovecot\nroot:root 755 /etc\n',
      },
    },
    log: [
      `${at(1)} auth: Error: passwd-file /etc/dovecot/users:open(/etc/dovecot/users) failed: Permission denied (euid=104(dovecot) egid=107(dovecot) missing +r perm: /etc/dovecot/users, dir owned by 0:0 mode=0755)`,
    ],
    probes: { imapLogin: { ok: false, latencyMs: 3, detail: 'NO [UNAVAILABLE] Temporary authentication failure.' } },
    failing: [],
    expect: {
      source: 'dovecot-passdb-unreadable',
      actionId: 'none',
      rootCause:
        /^Dovecot cannot read its password file \/etc\/dovecot\/users: permission denied to dovecot \(root:root 0 \/etc\/dovecot\/users/,
    },
  },
];

const FULL_QUEUE_DISK = {
  'df -P /var/spool/postfix': {
    output: 'Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vdb 1000 1000 0 100% /var/spool\n',
  },
  'df -Pi /var/spool/postfix': {
    output: 'Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/vdb 6400 300 6100 5% /var/spool\n',
  },
  'find /var/spool -xdev -type f -mmin -30 -printf %s %p\\n': {
    output: '1024 /var/spool/postfix/deferred/A/ABC\n5368709120 /var/spool/backup/dump.tar\n',
  },
};
const STOPPED_POSTFIX_MASTER = {
  'ps -o pid,stat,wchan,args -p 812': {
    output: '  PID STAT WCHAN  COMMAND\n  812 Ts   do_sig /usr/lib/postfix/sbin/master -w\n',
  },
};
const STOPPED_DOVECOT_MASTER = {
  'ps -o pid,stat,wchan,args -p 803': { output: '  PID STAT WCHAN  COMMAND\n  803 T    do_sig /usr/sbin/dovecot\n' },
};
const POSTQUEUE_HUNG = { 'postqueue -c /etc/postfix -j': hungFor(10_000) };
const DOVEADM_HUNG = { 'doveadm -c /etc/dovecot/dovecot.conf process status': hungFor(10_000) };

MATRIX.push(
  {
    name: 'disk full: names the largest recent files',
    script: { ...POSTFIX_UP, ...DOVECOT_UP, ...FULL_QUEUE_DISK },
    log: [`${at(2)} mx postfix/cleanup[900]: warning: 4ZqA1: write queue file: No space left on device`],
    failing: [],
    expect: {
      source: 'host-disk-full',
      actionId: 'none',
      rootCause:
        /^The filesystem under \/var\/spool\/postfix \(\/var\/spool\) is full .*\/var\/spool\/backup\/dump\.tar \(5\.0 GiB\)/,
    },
  },
  {
    name: 'expired SMTP certificate: the configured file and its dates',
    script: {
      ...POSTFIX_UP,
      ...DOVECOT_UP,
      'postconf -c /etc/postfix -h smtpd_tls_cert_file': { output: '/etc/ssl/certs/mx.pem\n' },
      'openssl x509 -noout -subject -enddate -in /etc/ssl/certs/mx.pem': {
        output: 'subject=CN = mx.example.net\nnotAfter=Jan  1 00:00:00 2020 GMT\n',
      },
    },
    probes: {
      smtpTls: {
        ok: false,
        latencyMs: 9,
        detail: 'certificate expired on 2020-01-01T00:00:00.000Z',
        errorCode: 'CERT_EXPIRED',
      },
    },
    failing: [],
    expect: {
      source: 'host-smtp-certificate-expired',
      actionId: 'none',
      rootCause:
        /^The SMTP TLS certificate has expired .*Postfix serves \/etc\/ssl\/certs\/mx\.pem: subject=CN = mx\.example\.net, notAfter=Jan {2}1 00:00:00 2020 GMT \(expired\)/,
    },
  },
  {
    name: 'frozen Postfix: connects, no banner, master stopped',
    script: { ...POSTFIX_UP, ...DOVECOT_UP, ...STOPPED_POSTFIX_MASTER },
    probes: { smtp: silent },
    failing: ['postfix'],
    expect: {
      source: 'host-postfix-frozen',
      actionId: 'resume-postfix',
      rootCause: /^Postfix is frozen: its master process \(pid 812\) is stopped \(ps state Ts\)/,
    },
  },
  {
    name: 'frozen Postfix whose postqueue timed out: the hang is quoted in the cause',
    script: { ...POSTFIX_UP, ...DOVECOT_UP, ...STOPPED_POSTFIX_MASTER, ...POSTQUEUE_HUNG },
    probes: { smtp: silent },
    failing: ['postfix'],
    expect: {
      source: 'host-postfix-frozen',
      actionId: 'resume-postfix',
      rootCause:
        /^Postfix is frozen: its master process \(pid 812\) is stopped \(ps state Ts\), .*; `postqueue -c \/etc\/postfix -j` did not answer within 10 s$/,
    },
  },
  {
    name: 'frozen Dovecot',
    script: { ...POSTFIX_UP, ...DOVECOT_UP, ...STOPPED_DOVECOT_MASTER },
    probes: { imap: silent },
    failing: ['dovecot'],
    expect: {
      source: 'host-dovecot-frozen',
      actionId: 'resume-dovecot',
      rootCause: /^Dovecot is frozen: its master process \(pid 803\) is stopped \(ps state T\)/,
    },
  },
  {
    name: 'frozen Dovecot whose doveadm timed out: the hang is quoted in the cause',
    script: { ...POSTFIX_UP, ...DOVECOT_UP, ...STOPPED_DOVECOT_MASTER, ...DOVEADM_HUNG },
    probes: { imap: silent },
    failing: ['dovecot'],
    expect: {
      source: 'host-dovecot-frozen',
      actionId: 'resume-dovecot',
      rootCause:
        /^Dovecot is frozen: .*\(ps state T\).*; `doveadm -c \/etc\/dovecot\/dovecot\.conf process status` did not answer within 10 s$/,
    },
  },
  {
    name: 'Postfix runs (master sleeping) but postqueue times out: it does not answer, and is restarted',
    script: { ...POSTFIX_UP, ...DOVECOT_UP, ...POSTQUEUE_HUNG },
    probes: { smtp: silent },
    failing: ['postfix'],
    expect: {
      source: 'host-postfix-unresponsive',
      actionId: 'restart-postfix',
      rootCause:
        /^Postfix does not answer: `postqueue -c \/etc\/postfix -j` did not answer within 10 s, while its master process \(pid 812\) is alive and not stopped \(ps state Ss\)$/,
    },
  },
  {
    name: 'Dovecot runs (master sleeping) but doveadm times out: it does not answer, and people restart it',
    script: { ...POSTFIX_UP, ...DOVECOT_UP, ...DOVEADM_HUNG },
    probes: { imap: silent },
    failing: ['dovecot'],
    expect: {
      source: 'host-dovecot-unresponsive',
      actionId: 'none',
      rootCause: /^Dovecot does not answer: `doveadm .*` did not answer within 10 s, while .*\(ps state Ss\)$/,
    },
  },
  {
    name: 'a bind conflict from an earlier incident, outside the window, does not drive this one',
    script: { ...POSTFIX_DOWN, ...DOVECOT_UP, 'ss -ltnp': { output: SS_PYTHON } },
    log: [
      `${at(120)} mx ${BIND_CONFLICT}`,
      `${at(1)} mx postfix/postfix-script[7072]: stopping the Postfix mail system`,
    ],
    probes: { tcpSmtp: refused, smtp: refused },
    failing: ['postfix'],
    expect: { source: 'host-postfix-stopped', actionId: 'start-postfix', rootCause: /^Postfix is not running/ },
  },
  {
    name: 'a bind conflict inside the window that a later start outlived does not drive this one',
    script: { ...POSTFIX_DOWN, ...DOVECOT_UP },
    log: [
      `${at(20)} mx ${BIND_CONFLICT}`,
      `${at(15)} mx postfix/master[7300]: daemon started -- version 3.7.11, configuration /etc/postfix`,
      `${at(1)} mx postfix/postfix-script[7072]: stopping the Postfix mail system`,
    ],
    probes: { tcpSmtp: refused, smtp: refused },
    failing: ['postfix'],
    expect: { source: 'host-postfix-stopped', actionId: 'start-postfix', rootCause: /^Postfix is not running/ },
  },
  {
    name: 'lab postfix-config-broken: drift from the known-good copy is restored',
    script: {
      ...POSTFIX_DOWN,
      ...DOVECOT_UP,
      'postfix -c /etc/postfix check': {
        exitCode: 1,
        output: 'postfix: fatal: chdir(/usr/libexec/postfix): No such file or directory\n',
      },
      'diff -u /srv/known-good/postfix/main.cf /etc/postfix/main.cf': {
        exitCode: 1,
        output:
          '--- a\n+++ b\n@@ -1 +1 @@\n-daemon_directory = /usr/lib/postfix/sbin\n+daemon_directory = /usr/libexec/postfix\n',
      },
    },
    probes: { tcpSmtp: refused, smtp: refused },
    failing: ['postfix'],
    expect: {
      source: 'host-postfix-stopped',
      actionId: 'restore-postfix-config',
      rootCause: /^Postfix refuses to start: its configuration changed since the known-good copy/,
    },
  },
  {
    name: 'lab dovecot-stopped',
    script: { ...POSTFIX_UP, ...DOVECOT_DOWN_CONFIG_OK },
    log: [`${at(1)} master: Warning: Killed with signal 15 (by pid=8396 uid=0 code=kill)`],
    imapUp: false,
    failing: ['dovecot'],
    expect: { source: 'host-dovecot-stopped', actionId: 'start-dovecot', rootCause: /^Dovecot is not running/ },
  },
  {
    name: 'a full queue that delivery no longer meets is history: the unreadable passdb is the cause',
    script: {
      ...POSTFIX_UP,
      ...DOVECOT_UP,
      'stat -c %U:%G %a %n /etc/dovecot/users /etc/dovecot /etc': {
        output: 'root:root 0 /etc/dovecot/users\nroot:root 755 /etc/dovecot\nroot:root 755 /etc\n',
      },
    },
    log: [
      `${at(6)} mx postfix/smtpd[8801]: warning: not enough free space in mail queue: 8151040 bytes < 1.5*message_size_limit`,
      `${at(1)} auth: Error: passwd-file /etc/dovecot/users:open(/etc/dovecot/users) failed: Permission denied (euid=104(dovecot) egid=107(dovecot) missing +r perm: /etc/dovecot/users, dir owned by 0:0 mode=0755)`,
    ],
    probes: {
      smtpDelivery: { ok: true, latencyMs: 40, detail: '250 2.0.0 Ok: queued as 4ZqB7' },
      imapLogin: { ok: false, latencyMs: 3, detail: 'NO [UNAVAILABLE] Temporary authentication failure.' },
    },
    failing: [],
    expect: {
      source: 'dovecot-passdb-unreadable',
      actionId: 'none',
      rootCause: /^Dovecot cannot read its password file/,
    },
  },
  {
    name: 'an unreachable relay the drained queue no longer shows is history: Postfix is simply stopped',
    script: { ...POSTFIX_DOWN, ...DOVECOT_UP },
    log: [
      `${at(8)} mx postfix/smtp[8810]: 4ZqC1: to=<someone@remote.test>, relay=none, delay=5, status=deferred (connect to 127.0.0.1[127.0.0.1]:2526: Connection refused)`,
      `${at(1)} mx postfix/postfix-script[7072]: stopping the Postfix mail system`,
    ],
    probes: {
      tcpSmtp: refused,
      smtp: refused,
      deferredQueue: { ok: true, latencyMs: 30, detail: '0 deferred (threshold 0)' },
    },
    failing: ['postfix'],
    expect: { source: 'host-postfix-stopped', actionId: 'start-postfix', rootCause: /^Postfix is not running/ },
  },
  {
    name: 'passdb unreadable, as logged on a login attempt',
    script: {
      ...POSTFIX_UP,
      ...DOVECOT_UP,
      'stat -c %U:%G %a %n /etc/dovecot/users /etc/dovecot /etc': {
        output: 'root:root 600 /etc/dovecot/users\nroot:root 755 /etc/dovecot\nroot:root 755 /etc\n',
      },
    },
    log: [
      `${at(1)} auth: Error: passwd-file(canary@lab.test,127.0.0.1,<3L+x3Wthcp5/AAAB>): open(/etc/dovecot/users) failed: Permission denied (euid=104(dovecot) egid=107(dovecot) missing +r perm: /etc/dovecot/users, dir owned by 0:0 mode=0755)`,
    ],
    probes: {
      imapLogin: { ok: false, latencyMs: 3000, detail: 'no answer within 3000 ms waiting for the canary login' },
    },
    failing: [],
    expect: {
      source: 'dovecot-passdb-unreadable',
      actionId: 'none',
      rootCause: /^Dovecot cannot read its password file \/etc\/dovecot\/users: permission denied to dovecot/,
    },
  },
  {
    name: 'a token never sent proves nothing about delivery: the Maildir permission line still counts',
    script: { ...POSTFIX_UP, ...DOVECOT_UP },
    host: { mailDirs: ['/var/mail/vhosts'], mailOwner: 'vmail:vmail' },
    log: [
      `${at(1)} mx postfix/virtual[8708]: warning: maildir access problem for UID/GID=999/995: create maildir file /var/mail/vhosts/lab.test/canary/tmp/1795961168.P8708.vm: Permission denied`,
    ],
    probes: {
      smtpDelivery: { ok: false, latencyMs: 5000, detail: 'no answer within 5000ms waiting for the RCPT TO reply' },
      imapLogin: { ok: true, latencyMs: 40, detail: 'canary logged in and selected INBOX; no token was sent' },
    },
    failing: [],
    expect: {
      source: 'postfix-maildir-permission',
      actionId: 'fix-mailbox-ownership',
      rootCause: /^Postfix cannot deliver/,
    },
  },
  {
    name: 'frozen Postfix: an earlier warning about a Maildir does not explain the silence',
    script: { ...POSTFIX_UP, ...DOVECOT_UP, ...STOPPED_POSTFIX_MASTER },
    host: { mailDirs: ['/var/mail/vhosts'], mailOwner: 'vmail:vmail' },
    log: [
      `${at(1)} mx postfix/virtual[8708]: warning: maildir access problem for UID/GID=999/995: create maildir file /var/mail/vhosts/lab.test/canary/tmp/1795961168.P8708.vm: Permission denied`,
    ],
    probes: { smtp: silent },
    failing: ['postfix'],
    expect: { source: 'host-postfix-frozen', actionId: 'resume-postfix', rootCause: /^Postfix is frozen/ },
  },
  {
    name: 'a hang beside the cause: a stopped Postfix is started, and the df that hung is quoted all the same',
    script: { ...POSTFIX_DOWN, ...DOVECOT_UP, 'df -P /var/mail': hungFor(5_000) },
    probes: { tcpSmtp: refused, smtp: refused },
    failing: ['postfix'],
    expect: { source: 'host-postfix-stopped', actionId: 'start-postfix', rootCause: /^Postfix is not running/ },
  },
  {
    name: 'a healthy host',
    script: { ...POSTFIX_UP, ...DOVECOT_UP },
    failing: [],
    expect: { source: 'network-no-known-fault', actionId: 'none', rootCause: /^Every service answers/ },
  },
);

describe('diagnosis over a matrix of recorded hosts', () => {
  test.each(MATRIX)('$name', async (fixture) => {
    const { diagnosis } = await diagnoseFixture(fixture, NOW);
    const top = diagnosis.hypotheses?.[0];

    expect({ source: top?.source, actionId: diagnosis.recommendation.actionId }).toEqual({
      source: fixture.expect.source,
      actionId: fixture.expect.actionId,
    });
    expect(diagnosis.rootCause).toMatch(fixture.expect.rootCause);
    expect(diagnosis.rootCause).toBe(top?.cause);
    expect(top?.evidenceAgainst).toEqual([]);
    expect(contradictions(diagnosis, new Set(fixture.failing))).toEqual([]);
    if (diagnosis.recommendation.actionId === 'none' && top?.source !== 'network-no-known-fault') {
      expect(diagnosis.handover?.reason).toEqual(expect.any(String));
    }
    const hangs = Object.entries(fixture.script)
      .filter(([, answer]) => answer?.timedOutAfterMs !== undefined)
      .map(([argv, answer]) => `\`${argv}\` did not answer within ${(answer?.timedOutAfterMs ?? 0) / 1000} s`);
    for (const hang of hangs) expect(diagnosis.evidence).toContain(hang);
  });

  test('real failure 1: the generic "not running" is offered, but below, with the fatal line against it', async () => {
    const { diagnosis, ran } = await diagnoseFixture(MATRIX[0] as Fixture, NOW);
    const notRunning = diagnosis.hypotheses?.find((hypothesis) => hypothesis.source === 'host-postfix-stopped');

    expect(notRunning?.evidenceAgainst.join('\n')).toContain(BIND_CONFLICT);
    expect(diagnosis.handover?.suggestedCommands).toEqual([
      "'ss' '-ltnp' 'sport = :2525'",
      "'ps' '-o' 'pid,user,lstart,args' '-p' '7107'",
      "'postfix' '-c' '/etc/postfix' 'start'",
    ]);
    expect(diagnosis.evidence).toContain(`/var/log/mail.log: ${at(3)} mx ${BIND_CONFLICT}`);
    expect(ran).toContain('ss -ltnp');
  });

  test('real failure 2 without a known-good copy that differs hands over with the file and line', async () => {
    const { diagnosis } = await diagnoseFixture(
      { ...(MATRIX[1] as Fixture), script: { ...POSTFIX_UP, ...DOVECOT_DOWN_CONFIG_OK } },
      NOW,
    );
    expect(diagnosis.hypotheses?.[0]?.source).toBe('dovecot-config-error');
    expect(diagnosis.recommendation.actionId).toBe('none');
    expect(diagnosis.handover?.reason).toBe(
      'Fix /etc/dovecot/dovecot.conf line 5 by hand: there is no known-good copy that differs to restore',
    );
    expect(diagnosis.handover?.suggestedCommands).toContain("'sed' '-n' '5p' '/etc/dovecot/dovecot.conf'");
  });
});

describe('the consistency check itself', () => {
  const oldBindConflictDiagnosis: Diagnosis = {
    rootCause: 'Postfix is not running: no master process, while its configuration passes `postfix check`',
    evidence: [
      'postfix status: `postfix -c /etc/postfix status` exit 1: postfix/postfix-script: the Postfix mail system is not running',
      'postfix check: `postfix -c /etc/postfix check` exit 0',
      `/var/log/mail.log: Nov 29 14:04:37 mx ${BIND_CONFLICT}`,
    ],
    recommendation: { actionId: 'start-postfix', description: 'Start Postfix', risk: 'low', rollback: '' },
    hypotheses: [
      {
        cause: 'Postfix is not running: no master process, while its configuration passes `postfix check`',
        failureClass: 'not-running',
        source: 'host-postfix-stopped',
        evidenceFor: [],
        evidenceAgainst: [],
        confidence: 0.5,
        actionId: 'start-postfix',
      },
    ],
    diagnosedAt: NOW.toISOString(),
  };

  test('fails the old conclusions of both real failures', () => {
    expect(contradictions(oldBindConflictDiagnosis, new Set(['postfix']))).toEqual([
      expect.stringMatching(/^top hypothesis host-postfix-stopped ignores postfix-bind-conflict/),
    ]);
    const oldDovecot: Diagnosis = {
      ...oldBindConflictDiagnosis,
      rootCause: 'Dovecot is not running: no master process, while `doveconf -n` accepts its configuration',
      evidence: [
        'doveconf -n: `doveconf -c /etc/dovecot/dovecot.conf -n` exit 0',
        `/var/log/mail.log: ${DOVECOT_CONFIG}`,
      ],
      hypotheses: [{ ...oldBindConflictDiagnosis.hypotheses![0]!, source: 'host-dovecot-stopped' }],
    };
    expect(contradictions(oldDovecot, new Set(['dovecot']))).toEqual([
      expect.stringMatching(/ignores dovecot-config-error/),
      expect.stringMatching(/`doveconf -n` accepts its configuration" against: .*Fatal: Error in configuration file/),
    ]);
  });
});
