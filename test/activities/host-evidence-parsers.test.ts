import {
  countPrintedDots,
  findDovecotMaster,
  parseBackupListing,
  parseConfigValue,
  parseDfPercent,
  parseEpochSeconds,
  parsePidFile,
  parsePostqueueJson,
  parseUtcOffsetMinutes,
  selectMailProcesses,
  selectPackageChanges,
  splitPackageChanges,
  trimDiff,
} from '../../activities/host-evidence-parsers';

const NOW = new Date('2026-03-10T12:00:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;
const DAY_MS = 24 * 60 * 60_000;

function queued(queue: string, arrivedSecondsAgo: number, reasons: string[]): string {
  return JSON.stringify({
    queue_name: queue,
    queue_id: `4Zq${queue.length}${arrivedSecondsAgo}`,
    arrival_time: NOW_SECONDS - arrivedSecondsAgo,
    message_size: 1834,
    forced_expire: false,
    sender: 'alerts@example.org',
    recipients: reasons.map((reason, index) =>
      reason ? { address: `user${index}@example.net`, delay_reason: reason } : { address: `user${index}@example.net` },
    ),
  });
}

describe('parsePostqueueJson', () => {
  const refused = 'connect to relay.example.net[203.0.113.7]:25: Connection refused';
  const timedOut =
    'conversation with mx.example.com[198.51.100.2] timed out while receiving the initial server greeting';

  test('counts deferred and active messages, the oldest deferred age and the reasons by frequency', () => {
    const output = [
      queued('deferred', 600, [timedOut]),
      queued('active', 5, ['']),
      queued('deferred', 7200, [refused, refused]),
      queued('incoming', 1, ['']),
      queued('deferred', 60, [refused]),
      queued('hold', 9000, ['']),
    ].join('\n');

    expect(parsePostqueueJson(`${output}\n`, NOW)).toEqual({
      deferred: 3,
      active: 1,
      oldestDeferredAgeSeconds: 7200,
      delayReasons: [refused, timedOut],
    });
  });

  test('an empty queue prints nothing', () => {
    expect(parsePostqueueJson('', NOW)).toEqual({ deferred: 0, active: 0, delayReasons: [] });
  });

  test('skips warnings and a line cut by output trimming, and keeps five reasons', () => {
    const reasons = ['a', 'b', 'c', 'd', 'e', 'f'].map((host) => `host ${host}.example.net said: 451 4.3.0 try later`);
    const output = [
      'ueue_id": "4Zq1", "arrival_time": 1, "recipients": []}',
      'postqueue: warning: /etc/postfix/main.cf, line 12: overriding earlier entry: relayhost=',
      ...reasons.map((reason, index) => queued('deferred', 100 + index, [reason])),
    ].join('\n');

    const state = parsePostqueueJson(output, NOW);

    expect(state.deferred).toBe(6);
    expect(state.delayReasons).toEqual(reasons.slice(0, 5));
  });
});

test('countPrintedDots counts one dot per queue file', () => {
  expect(countPrintedDots('')).toBe(0);
  expect(countPrintedDots('.......')).toBe(7);
});

test('parsePidFile reads a space-padded Postfix pid and nothing else', () => {
  expect(parsePidFile('       812\n')).toBe(812);
  expect(parsePidFile('1234\n')).toBe(1234);
  expect(parsePidFile('cat: /run/dovecot/master.pid: No such file or directory\n')).toBeUndefined();
  expect(parsePidFile('0\n')).toBeUndefined();
});

test('parseConfigValue drops the program’s own warnings and keeps an empty value empty', () => {
  expect(parseConfigValue('/var/spool/postfix\n', 'postconf')).toBe('/var/spool/postfix');
  expect(
    parseConfigValue(
      'postconf: warning: /etc/postfix/main.cf, line 40: overriding earlier entry: relayhost=\n[smtp.example.net]:587\n',
      'postconf',
    ),
  ).toBe('[smtp.example.net]:587');
  expect(parseConfigValue('\n', 'postconf')).toBe('');
  expect(
    parseConfigValue('doveconf: Warning: please set ssl_dh=</etc/dovecot/dh.pem\n/run/dovecot\n', 'doveconf'),
  ).toBe('/run/dovecot');
});

describe('ps lines', () => {
  const ps = [
    '    PID USER     COMMAND',
    '      1 root     /sbin/init',
    '    412 root     /usr/sbin/sshd -D',
    '    803 root     /usr/sbin/dovecot -F',
    '    810 dovecot  dovecot/anvil',
    '    811 root     dovecot/log',
    '    812 root     /usr/lib/postfix/sbin/master -w',
    '    815 postfix  qmgr -l -t unix -u',
    '    816 postfix  pickup -l -t unix -u -c',
    '   1022 postfix  smtpd -n smtp -t inet -u -c -o stress= -s 2',
    '   1023 postfix  cleanup -z -t unix -u -c',
    '   1101 dovenull dovecot/imap-login',
    '   1200 www-data nginx: master process /usr/sbin/nginx',
    '   1300 root     sshd: root@notty',
    '   1301 root     ps -ww -eo pid,user,args',
  ].join('\n');

  test('keeps Postfix and Dovecot processes only', () => {
    expect(selectMailProcesses(ps).map((process) => process.pid)).toEqual([
      803, 810, 811, 812, 815, 816, 1022, 1023, 1101,
    ]);
    expect(selectMailProcesses(ps)[3]).toEqual({
      pid: 812,
      user: 'root',
      args: '/usr/lib/postfix/sbin/master -w',
      line: '812 root     /usr/lib/postfix/sbin/master -w',
    });
  });

  test('caps the list at 30 lines', () => {
    const many = Array.from({ length: 50 }, (_, index) => `${2000 + index} postfix  smtpd -n smtp -t inet -u -c`);
    expect(selectMailProcesses(many.join('\n'))).toHaveLength(30);
  });

  test('finds the Dovecot master, not its children', () => {
    expect(findDovecotMaster(selectMailProcesses(ps))?.pid).toBe(803);
    expect(findDovecotMaster(selectMailProcesses(ps.replace('/usr/sbin/dovecot -F', 'bash')))).toBeUndefined();
  });
});

describe('parseDfPercent', () => {
  test('reads the capacity of df -P and the inode use of df -Pi', () => {
    const space = [
      'Filesystem     1024-blocks     Used Available Capacity Mounted on',
      '/dev/mapper/vg0-var  20511312 19473408         0     100% /var',
    ].join('\n');
    const inodes = [
      'Filesystem      Inodes  IUsed   IFree IUse% Mounted on',
      '/dev/sda1      1310720 104857 1205863      9% /',
    ].join('\n');
    expect(parseDfPercent(space)).toBe(100);
    expect(parseDfPercent(inodes)).toBe(9);
  });

  test('a filesystem without inode counts reads as 0 %, and an error as unknown', () => {
    expect(parseDfPercent('Filesystem Inodes IUsed IFree IUse% Mounted on\n/dev/sdb2 - - - - /srv/mail\n')).toBe(0);
    expect(parseDfPercent('df: /var/mail: No such file or directory\n')).toBeUndefined();
  });
});

test('trimDiff keeps the first 60 lines of a long diff and says how many it left out', () => {
  const diff = [
    '--- /srv/known-good/postfix/main.cf\t2026-03-01 09:00:00.000000000 +0000',
    '+++ /etc/postfix/main.cf\t2026-03-10 11:40:12.123456789 +0000',
    '@@ -38,7 +38,7 @@',
    ' myhostname = mx.example.org',
    '-relayhost = [relay.example.net]:25',
    '+relayhost = [relay.exmaple.net]:25',
    ' mynetworks = 127.0.0.0/8',
  ];
  expect(trimDiff(`${diff.join('\n')}\n`)).toBe(diff.join('\n'));
  const long = Array.from({ length: 100 }, (_, index) => `+line ${index}`).join('\n');
  const trimmed = trimDiff(long).split('\n');
  expect(trimmed).toHaveLength(61);
  expect(trimmed.at(-1)).toBe('... 40 more lines');
});

test('parseEpochSeconds reads stat -c %Y', () => {
  expect(parseEpochSeconds('1773143412\n')?.toISOString()).toBe('2026-03-10T11:50:12.000Z');
  expect(parseEpochSeconds("stat: cannot statx '/etc/postfix/main.cf': No such file or directory")).toBeUndefined();
});

test('parseBackupListing lists backups newest first', () => {
  const listing = [
    '1772000000.0000000000 /etc/postfix/main.cf~',
    '1773140000.5000000000 /etc/postfix/main.cf.bak-20260310T1113',
    '1772900000.2500000000 /etc/postfix/main.cf.bak-20260307T1613',
  ].join('\n');
  expect(parseBackupListing(`${listing}\n`)).toEqual([
    '/etc/postfix/main.cf.bak-20260310T1113',
    '/etc/postfix/main.cf.bak-20260307T1613',
    '/etc/postfix/main.cf~',
  ]);
});

test('parseUtcOffsetMinutes reads date +%z', () => {
  expect(parseUtcOffsetMinutes('+0000\n')).toBe(0);
  expect(parseUtcOffsetMinutes('+0100\n')).toBe(60);
  expect(parseUtcOffsetMinutes('-0530\n')).toBe(-330);
  expect(parseUtcOffsetMinutes('date: invalid')).toBeUndefined();
});

describe('selectPackageChanges', () => {
  const dpkg = [
    '2026-03-08 06:25:11 upgrade libc6:amd64 2.36-9+deb12u9 2.36-9+deb12u10',
    '2026-03-09 23:10:41 startup archives unpack',
    '2026-03-09 23:10:42 upgrade postfix:amd64 3.7.10-0+deb12u1 3.7.11-0+deb12u1',
    '2026-03-09 23:10:42 status half-configured postfix:amd64 3.7.10-0+deb12u1',
    '2026-03-09 23:10:43 remove postfix-pcre:amd64 3.7.10-0+deb12u1 <none>',
    '2026-03-10 11:02:00 install dovecot-lmtpd:amd64 <none> 1:2.3.19.1+dfsg1-2.1+deb12u1',
    '2026-03-10 11:02:00 configure dovecot-lmtpd:amd64 1:2.3.19.1+dfsg1-2.1+deb12u1 <none>',
  ];
  const history = [
    'Start-Date: 2026-03-08  06:25:01',
    'Commandline: /usr/bin/unattended-upgrade',
    'Upgrade: libc6:amd64 (2.36-9+deb12u9, 2.36-9+deb12u10)',
    'End-Date: 2026-03-08  06:25:30',
    '',
    'Start-Date: 2026-03-09  23:10:40',
    'Commandline: apt-get -y upgrade postfix',
    'Requested-By: ops (1000)',
    'Upgrade: postfix:amd64 (3.7.10-0+deb12u1, 3.7.11-0+deb12u1)',
    'End-Date: 2026-03-09  23:10:50',
  ];

  test('keeps install, upgrade and remove lines and apt runs within the window', () => {
    expect(selectPackageChanges([...dpkg, ...history].join('\n'), NOW, DAY_MS, 0)).toEqual([
      dpkg[2],
      dpkg[4],
      dpkg[5],
      'Start-Date: 2026-03-09  23:10:40',
      'Commandline: apt-get -y upgrade postfix',
    ]);
  });

  test('reads the logs in the host’s local time', () => {
    // At UTC+13, 23:10 local on the 9th is 10:10 UTC: more than a day before noon UTC on the 10th.
    expect(selectPackageChanges(dpkg.join('\n'), NOW, DAY_MS, 13 * 60)).toEqual([dpkg[5]]);
  });

  test('an empty log has no changes', () => {
    expect(selectPackageChanges('', NOW, DAY_MS, 0)).toEqual([]);
  });

  test('only changes to mail packages are suspects; an apt run counts by the packages it names', () => {
    const changes = [
      '2026-03-09 23:10:42 upgrade postfix:amd64 3.7.10-0+deb12u1 3.7.11-0+deb12u1',
      '2026-03-09 23:11:00 install swaks:all <none> 20240103.0-1',
      '2026-03-09 23:11:01 upgrade libssl3:amd64 3.0.15-1~deb12u1 3.0.16-1~deb12u1',
      'Start-Date: 2026-03-09  23:10:59',
      'Commandline: apt-get install swaks monit',
      'Start-Date: 2026-03-09  23:12:00',
      'Commandline: apt-get -y install --only-upgrade dovecot-core',
      'Start-Date: 2026-03-09  23:13:00',
      'Commandline: /usr/bin/unattended-upgrade',
    ];
    expect(splitPackageChanges(changes)).toEqual({
      mail: [changes[0], changes[2], changes[5], changes[6]],
      other: [changes[1], changes[3], changes[4], changes[7], changes[8]],
    });
  });
});
