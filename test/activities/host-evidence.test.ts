import { collectHostEvidence, readQueueState } from '../../activities/host-evidence';
import type { CommandRun } from '../../activities/host-evidence-types';
import { COMMAND_KILL_WAIT_MS, type SshSession } from '../../activities/ssh';
import { describeUnanswered, recordUnanswered, type UnansweredRun } from '../../activities/unanswered-commands';
import { layoutOf } from '../support/host-layout';

describe('collectHostEvidence with a scripted session', () => {
  const NOW = new Date('2026-03-10T12:00:00Z');
  const layout = layoutOf({
    knownGoodDir: '/srv/known-good',
    logFiles: ['/var/log/mail.log'],
    mailDirs: ['/var/mail'],
  });

  /** Answers each command from `answers` by its joined argv, and 127 "not found" otherwise. */
  function scriptedSession(answers: Record<string, Partial<CommandRun>>): SshSession & { ran: string[] } {
    const ran: string[] = [];
    return {
      ran,
      async run(argv) {
        const key = argv.join(' ');
        ran.push(key);
        const answer = answers[key] ?? { exitCode: 127, output: `sh: 1: ${argv[0]}: not found\n` };
        const timedOut = answer.timedOutAfterMs !== undefined ? { timedOutAfterMs: answer.timedOutAfterMs } : {};
        return { argv: [...argv], exitCode: answer.exitCode ?? 0, output: answer.output ?? '', ...timedOut };
      },
    };
  }

  test('a host where every command fails still yields evidence', async () => {
    const session = scriptedSession({});

    const evidence = await collectHostEvidence(session, layout, NOW);

    expect(evidence).toEqual({
      collectedAt: NOW.toISOString(),
      postfix: {
        running: false,
        status: {
          argv: ['postfix', '-c', '/etc/postfix', 'status'],
          exitCode: 127,
          output: 'sh: 1: postfix: not found\n',
        },
        check: {
          argv: ['postfix', '-c', '/etc/postfix', 'check'],
          exitCode: 127,
          output: 'sh: 1: postfix: not found\n',
        },
      },
      dovecot: {
        running: false,
        config: {
          argv: ['doveconf', '-c', '/etc/dovecot/dovecot.conf', '-n'],
          exitCode: 127,
          output: 'sh: 1: doveconf: not found\n',
        },
      },
      processes: [],
      queue: {
        error: '`postqueue -c /etc/postfix -j` exited 127: sh: 1: postqueue: not found; queue_directory unknown',
      },
      logs: [
        {
          file: '/var/log/mail.log',
          lines: [],
          unreadable: '`tail -n 20000 /var/log/mail.log` exited 127: sh: 1: tail: not found',
        },
      ],
      logWindow: { since: new Date(NOW.getTime() - 30 * 60_000).toISOString(), until: expect.any(String) },
      disk: [],
      configChanges: ['/etc/postfix/main.cf', '/etc/postfix/master.cf', '/etc/dovecot/dovecot.conf'].map((file) => ({
        file,
        changedSinceKnownGood: false,
        changedSinceBackup: false,
        diff: '',
        modifiedWithinWindow: false,
        backups: [],
      })),
      packageChanges: [],
    });
  });

  test('runs a fixed list of read-only commands built from the layout', async () => {
    const queue = '/var/spool/postfix';
    const session = scriptedSession({
      'postfix -c /etc/postfix status': { exitCode: 0 },
      'postconf -c /etc/postfix -h queue_directory': { output: `${queue}\n` },
      [`cat ${queue}/pid/master.pid`]: { output: '       812\n' },
      'doveconf -c /etc/dovecot/dovecot.conf -h base_dir': { output: '/run/dovecot\n' },
      'cat /run/dovecot/master.pid': { output: '803\n' },
      'kill -0 803': {},
      'ps -ww -eo pid,user,args': {
        output:
          '    PID USER     COMMAND\n    803 root     /usr/sbin/dovecot\n    812 root     /usr/lib/postfix/sbin/master -w\n',
      },
      'postqueue -c /etc/postfix -j': {
        exitCode: 69,
        output:
          'postqueue: warning: Mail system is down -- accessing queue directly\npostqueue: fatal: malformed showq server response\n',
      },
      [`find ${queue}/deferred -type f -printf .`]: { output: '....' },
      [`find ${queue}/active -type f -printf .`]: { output: '.' },
      'stat -c %Y /etc/postfix/main.cf': { output: '1773140000\n' },
      'stat -c %Y /etc/postfix/master.cf': { output: '1773000000\n' },
      'stat -c %Y /etc/dovecot/dovecot.conf': { output: '1773000000\n' },
      'date +%z': { output: '+0100\n' },
    });

    const evidence = await collectHostEvidence(session, layout, NOW);

    expect(evidence.postfix).toMatchObject({ running: true, masterPid: 812 });
    expect(evidence.dovecot).toMatchObject({ running: true, masterPid: 803 });
    expect(evidence.processes).toEqual([
      '803 root     /usr/sbin/dovecot',
      '812 root     /usr/lib/postfix/sbin/master -w',
    ]);
    expect(evidence.queue).toEqual({ deferred: 4, active: 1, delayReasons: [] });
    expect(session.ran).toEqual([
      'postfix -c /etc/postfix status',
      'postconf -c /etc/postfix -h queue_directory',
      'cat /var/spool/postfix/pid/master.pid',
      'postfix -c /etc/postfix check',
      'doveconf -c /etc/dovecot/dovecot.conf -n',
      'ps -ww -eo pid,user,args',
      'doveconf -c /etc/dovecot/dovecot.conf -h base_dir',
      'cat /run/dovecot/master.pid',
      'kill -0 803',
      'doveadm -c /etc/dovecot/dovecot.conf process status',
      'postqueue -c /etc/postfix -j',
      'find /var/spool/postfix/deferred -type f -printf .',
      'find /var/spool/postfix/active -type f -printf .',
      'postconf -c /etc/postfix -h relayhost',
      'date +%Y-%m-%dT%H:%M:%S%z',
      'tail -n 20000 /var/log/mail.log',
      'df -P /var/spool/postfix',
      'df -Pi /var/spool/postfix',
      'df -P /var/mail',
      'df -Pi /var/mail',
      'stat -c %Y /etc/postfix/main.cf',
      'find /etc/postfix -maxdepth 1 -type f ( -name main.cf.bak* -o -name main.cf~ -o -name main.cf.orig -o -name main.cf.dpkg-old ) -printf %T@ %p\\n',
      'diff -u /srv/known-good/postfix/main.cf /etc/postfix/main.cf',
      'stat -c %Y /etc/postfix/master.cf',
      'find /etc/postfix -maxdepth 1 -type f ( -name master.cf.bak* -o -name master.cf~ -o -name master.cf.orig -o -name master.cf.dpkg-old ) -printf %T@ %p\\n',
      'diff -u /srv/known-good/postfix/master.cf /etc/postfix/master.cf',
      'stat -c %Y /etc/dovecot/dovecot.conf',
      'find /etc/dovecot -maxdepth 1 -type f ( -name dovecot.conf.bak* -o -name dovecot.conf~ -o -name dovecot.conf.orig -o -name dovecot.conf.dpkg-old ) -printf %T@ %p\\n',
      'diff -u /srv/known-good/dovecot/dovecot.conf /etc/dovecot/dovecot.conf',
      'date +%z',
      'grep -E -e ^(Start-Date|Commandline):  -e  (install|upgrade|remove|purge)  /var/log/dpkg.log',
      'grep -E -e ^(Start-Date|Commandline):  -e  (install|upgrade|remove|purge)  /var/log/apt/history.log',
    ]);
  });
  test('a postqueue that hangs is kept as evidence, and the queue files are counted instead', async () => {
    const queue = '/var/spool/postfix';
    const hung = { exitCode: -1, output: 'timed out after 10000 ms', timedOutAfterMs: 10_000 };
    const scripted = scriptedSession({
      'postconf -c /etc/postfix -h queue_directory': { output: `${queue}\n` },
      'postqueue -c /etc/postfix -j': hung,
      [`find ${queue}/deferred -type f -printf .`]: { output: '...' },
      [`find ${queue}/active -type f -printf .`]: { output: '' },
    });
    const { session, unanswered } = recordUnanswered(scripted);

    expect(await readQueueState(session, '/etc/postfix', NOW)).toEqual({ deferred: 3, active: 0, delayReasons: [] });
    expect(unanswered.map(describeUnanswered)).toEqual(['`postqueue -c /etc/postfix -j` did not answer within 10 s']);
  });

  test('a queue that cannot be read says which command did not answer', async () => {
    const scripted = scriptedSession({
      'postconf -c /etc/postfix -h queue_directory': { output: '/var/spool/postfix\n' },
      'postqueue -c /etc/postfix -j': { exitCode: -1, output: 'timed out after 10000 ms', timedOutAfterMs: 10_000 },
      'find /var/spool/postfix/deferred -type f -printf .': {
        exitCode: -1,
        output: 'timed out after 15000 ms',
        timedOutAfterMs: 15_000,
      },
    });

    expect(await readQueueState(scripted, '/etc/postfix', NOW)).toEqual({
      error:
        '`postqueue -c /etc/postfix -j` did not answer within 10 s; ' +
        '`find /var/spool/postfix/deferred -type f -printf .` did not answer within 15 s',
    });
  });

  test('a running Dovecot is asked over its master socket, and a doveadm that hangs is recorded', async () => {
    const scripted = scriptedSession({
      'doveconf -c /etc/dovecot/dovecot.conf -h base_dir': { output: '/run/dovecot\n' },
      'cat /run/dovecot/master.pid': { output: '803\n' },
      'kill -0 803': {},
      'doveadm -c /etc/dovecot/dovecot.conf process status': {
        exitCode: -1,
        output: 'timed out after 10000 ms',
        timedOutAfterMs: 10_000,
      },
    });
    const { session, unanswered } = recordUnanswered(scripted);

    const evidence = await collectHostEvidence(session, layout, NOW);

    expect(evidence.dovecot).toMatchObject({ running: true, masterPid: 803 });
    expect(unanswered.map(describeUnanswered)).toEqual([
      '`doveadm -c /etc/dovecot/dovecot.conf process status` did not answer within 10 s',
    ]);
  });

  test('a visit keeps the wait for a kill inside its budget, and runs nothing once the budget is spent', async () => {
    const asked: (number | undefined)[] = [];
    const hangs: SshSession = {
      async run(argv, options) {
        asked.push(options?.timeoutMs);
        const timedOutAfterMs = options?.timeoutMs ?? 0;
        return { argv: [...argv], exitCode: -1, output: `timed out after ${timedOutAfterMs} ms`, timedOutAfterMs };
      },
    };
    const roomy = recordUnanswered(hangs, 60_000);
    await roomy.session.run(['df', '-P', '/'], { timeoutMs: 5_000 });
    const tight = recordUnanswered(hangs, COMMAND_KILL_WAIT_MS + 3_000);
    await tight.session.run(['postqueue', '-c', '/etc/postfix', '-j'], { timeoutMs: 10_000 });
    const spent = recordUnanswered(hangs, COMMAND_KILL_WAIT_MS + 500);
    const skipped = await spent.session.run(['date', '+%z'], { timeoutMs: 5_000 });

    expect(asked).toEqual([5_000, expect.any(Number)]);
    expect(asked[1]).toBeGreaterThan(2_900);
    expect(asked[1]).toBeLessThanOrEqual(3_000);
    expect(roomy.unanswered.map(describeUnanswered)).toEqual(['`df -P /` did not answer within 5 s']);
    expect(tight.unanswered).toEqual([expect.objectContaining({ cutShortByBudget: true })]);
    expect(describeUnanswered(tight.unanswered[0] as UnansweredRun)).toMatch(
      /^`postqueue -c \/etc\/postfix -j` did not answer within (2\.9|3) s, all the visit's time budget had left$/,
    );
    expect(skipped).toEqual({
      argv: ['date', '+%z'],
      exitCode: -1,
      output: "not run: the visit's time budget was spent",
      notRun: "the visit's time budget was spent",
    });
    expect(spent.notRun).toEqual([skipped]);
    expect(spent.unanswered).toEqual([]);
  });
});
