import { NO_CATALOG_ACTION } from '../workflows/messages';
import { PREVENTION, type Finding } from './diagnosis-rules';
import type { DiagnosisEvidence } from './diagnosis-evidence';
import type { FollowUpResult } from './follow-up-evidence';
import type { CommandRun, ConfigChange, HostEvidence, QueueState } from './host-evidence-types';
import { splitPackageChanges } from './host-evidence-parsers';
import { processGroupListing } from './remediation-host-commands';
import { shellQuote } from './ssh';
import { MAIL_PROCESS_LISTING } from './host-evidence';
import {
  daemonAskedBy,
  describeNoAnswer,
  describeUnanswered,
  gaveNoAnswer,
  hadItsFullLimit,
  wasNotRun,
  type NotRunCommand,
  type UnansweredRun,
} from './unanswered-commands';

// The rules that read what the mail host itself shows: processes, config checks, config changes, queue, disk. Each
// gives a finding with a base confidence; the ranking in hypotheses.ts weighs them against the log signatures.

export const DISK_FULL_PERCENT = 95;
const QUOTED_LINES = 4;

function firstLines(text: string, count = QUOTED_LINES): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .slice(0, count);
}

/**
 * How a command run is quoted: `label: \`argv\` exit N: first lines`, `label: \`argv\` did not answer within N s`,
 * or `label: \`argv\` not run: ...`.
 */
export function quoteRun(label: string, run: CommandRun): string {
  if (gaveNoAnswer(run)) return `${label}: ${describeNoAnswer(run)}`;
  const output = firstLines(run.output, 2).join(' | ');
  return `${label}: \`${run.argv.join(' ')}\` exit ${run.exitCode}${output ? `: ${output}` : ''}`;
}

function changedLines(change: ConfigChange): string[] {
  return change.diff
    .split('\n')
    .filter((line) => /^[-+][^-+]/.test(line))
    .slice(0, QUOTED_LINES);
}

function describeChange(change: ConfigChange): string {
  const when = change.modifiedAt ? ` (modified ${change.modifiedAt})` : '';
  const backups = change.backups.length > 0 ? `; backup ${change.backups[0]}` : '';
  const baseline = change.changedSinceKnownGood ? 'the known-good copy' : `its backup ${change.comparedWith ?? ''}`;
  return `${change.file} differs from ${baseline}${when}${backups}: ${changedLines(change).join(' ')}`;
}

function isQueue(queue: HostEvidence['queue']): queue is QueueState {
  return !('error' in queue);
}

function firstLine(run: CommandRun): string | undefined {
  return firstLines(run.output, 1)[0];
}

/** Changes to mail packages are suspects; the others are named apart, so nobody mistakes them for a cause. */
function recentPackageChanges(host: HostEvidence): string[] {
  const { mail, other } = splitPackageChanges(host.packageChanges);
  const unrelated = other.filter((line) => !line.startsWith('Start-Date: '));
  return [
    ...mail.slice(-2).map((line) => `recent package change: ${line}`),
    ...(unrelated.length > 0
      ? [`package changes unrelated to mail, not suspects: ${unrelated.slice(-2).join('; ')}`]
      : []),
  ];
}

function followUp(followUps: readonly FollowUpResult[], kind: string, key: string | number) {
  return followUps.find(({ request }) => request.kind === kind && Object.values(request).includes(key));
}

/** The Postfix files (main.cf, master.cf) or dovecot.conf that differ from their known-good copy. */
export function driftedConfig(host: HostEvidence, daemon: 'postfix' | 'dovecot'): ConfigChange[] {
  return host.configChanges.filter(
    (change) => change.changedSinceKnownGood && change.file.endsWith('dovecot.conf') === (daemon === 'dovecot'),
  );
}

/** A full filesystem (space or inodes): no start or restart helps while Postfix and Dovecot cannot write. */
function fullDisks({ host, followUps }: DiagnosisEvidence): Finding[] {
  return host.disk
    .filter((disk) => disk.usedPercent >= DISK_FULL_PERCENT || disk.inodesUsedPercent >= DISK_FULL_PERCENT)
    .map((disk) => {
      const inodes = disk.inodesUsedPercent >= DISK_FULL_PERCENT && disk.usedPercent < DISK_FULL_PERCENT;
      const largest = followUp(followUps, 'largest-recent-files', disk.path);
      const files = largest?.values.largestFiles ?? 'unknown';
      const mount = largest?.values.mount ?? disk.path;
      return {
        rootCause:
          `The filesystem under ${disk.path} (${mount}) is ${inodes ? 'out of inodes' : 'full'} ` +
          `(${disk.usedPercent}% space, ${disk.inodesUsedPercent}% inodes used), so Postfix and Dovecot cannot write ` +
          `mail; the largest files written there recently: ${files}`,
        evidence: [
          `df ${disk.path}: ${disk.usedPercent}% space, ${disk.inodesUsedPercent}% inodes used`,
          ...(largest?.runs.map((run) => quoteRun('largest recent files', run)) ?? []),
        ],
        actionId: NO_CATALOG_ACTION,
        prevention: [...PREVENTION.diskFull],
        failureClass: inodes ? 'inodes-exhausted' : 'disk-full',
        source: 'host-disk-full',
        // Measured by df, so surer than a log line about the same disk.
        confidence: 0.95,
        daemon: 'system' as const,
        handover: {
          reason: `${mount} is ${inodes ? 'out of inodes' : 'full'}; mailmend does not delete files`,
          suggestedCommands: [
            ['df', '-h', mount],
            ['df', '-i', mount],
          ].map(shellQuote),
        },
      };
    });
}

/** Postfix is down: started when its check passes, restored when it drifted from the known-good copy. */
function stoppedPostfix({ host }: DiagnosisEvidence): Finding[] {
  // A status that hung or was not run says nothing about whether Postfix runs; the rule for hangs quotes a hang.
  if (host.postfix.running || gaveNoAnswer(host.postfix.status)) return [];
  const drifted = driftedConfig(host, 'postfix');
  const evidence = [
    quoteRun('postfix status', host.postfix.status),
    quoteRun('postfix check', host.postfix.check),
    ...drifted.map(describeChange),
    ...recentPackageChanges(host),
  ];
  const base = { evidence, daemon: 'postfix' as const, source: 'host-postfix-stopped' };
  if (gaveNoAnswer(host.postfix.check)) return [uncheckedConfig(base, 'Postfix', host.postfix.check)];
  if (host.postfix.check.exitCode === 0) {
    return [
      {
        ...base,
        rootCause: 'Postfix is not running: no master process, while its configuration passes `postfix check`',
        actionId: 'start-postfix',
        prevention: [...PREVENTION.serviceStopped('Postfix')],
        failureClass: 'not-running',
        confidence: 0.5,
      },
    ];
  }
  const checkError = firstLine(host.postfix.check) ?? 'no output';
  if (drifted.length === 0) {
    return [
      brokenConfig(
        base,
        `Postfix refuses to start and \`postfix check\` fails, with no known-good copy that differs to restore: ${checkError}`,
      ),
    ];
  }
  return [
    {
      ...base,
      rootCause:
        `Postfix refuses to start: its configuration changed since the known-good copy ` +
        `(${drifted.map((change) => change.file).join(', ')}) and \`postfix check\` fails: ${checkError}`,
      actionId: 'restore-postfix-config',
      prevention: [...PREVENTION.configChange],
      failureClass: 'config-drift',
      confidence: 0.75,
    },
  ];
}

/** A configuration that no catalog action can repair: people fix it by hand. */
function brokenConfig(base: Pick<Finding, 'evidence' | 'daemon' | 'source'>, rootCause: string): Finding {
  return {
    ...base,
    rootCause,
    actionId: NO_CATALOG_ACTION,
    prevention: [...PREVENTION.configChange],
    failureClass: 'config-error',
    confidence: 0.6,
  };
}

/** A stopped daemon whose config check hung or was not run: nobody knows whether starting it would work. */
function uncheckedConfig(
  base: Pick<Finding, 'evidence' | 'daemon' | 'source'>,
  name: 'Postfix' | 'Dovecot',
  check: UnansweredRun | NotRunCommand,
): Finding {
  const why = wasNotRun(check) ? 'was not run in time' : 'hangs on the host';
  return {
    ...base,
    rootCause: `${name} is not running, and whether its configuration is sound is unknown: ${describeNoAnswer(check)}`,
    actionId: NO_CATALOG_ACTION,
    prevention: [...PREVENTION.serviceStopped(name)],
    failureClass: 'not-running',
    confidence: 0.5,
    handover: {
      reason: `The configuration check ${why}, so mailmend does not start ${name} on a configuration nobody checked`,
      suggestedCommands: [shellQuote(check.argv)],
    },
  };
}

/**
 * Dovecot is down: started when `doveconf -n` accepts its configuration, restored or handed over when it does not. A
 * process listing that did not answer saw no Dovecot, but no absence either: no finding then.
 */
function stoppedDovecot({ host, unanswered }: DiagnosisEvidence): Finding[] {
  if (host.dovecot.running || unanswered.some((run) => sameArgv(run.argv, MAIL_PROCESS_LISTING))) return [];
  const drifted = driftedConfig(host, 'dovecot');
  const evidence = [
    quoteRun('doveconf -n', host.dovecot.config),
    ...drifted.map(describeChange),
    ...recentPackageChanges(host),
  ];
  const base = { evidence, daemon: 'dovecot' as const, source: 'host-dovecot-stopped' };
  if (gaveNoAnswer(host.dovecot.config)) return [uncheckedConfig(base, 'Dovecot', host.dovecot.config)];
  if (host.dovecot.config.exitCode === 0) {
    return [
      {
        ...base,
        rootCause: 'Dovecot is not running: no master process, while `doveconf -n` accepts its configuration',
        actionId: 'start-dovecot',
        prevention: [...PREVENTION.serviceStopped('Dovecot')],
        failureClass: 'not-running',
        confidence: 0.5,
      },
    ];
  }
  const parseError = firstLine(host.dovecot.config) ?? '';
  if (drifted.length === 0) {
    return [brokenConfig(base, `Dovecot is not running and its configuration does not parse: ${parseError}`)];
  }
  return [
    {
      ...base,
      rootCause: `Dovecot is not running: its configuration changed since the known-good copy and does not parse: ${parseError}`,
      actionId: 'restore-dovecot-config',
      prevention: [...PREVENTION.configChange],
      failureClass: 'config-drift',
      confidence: 0.75,
    },
  ];
}

/** More deferred mail than the threshold: flushed, and blamed on the relay when the delay reasons say so. */
function deferredBacklog({ host, server }: DiagnosisEvidence): Finding[] {
  const { queue } = host;
  if (!isQueue(queue) || queue.deferred <= server.host.deferredThreshold) return [];
  const age = queue.oldestDeferredAgeSeconds !== undefined ? `, oldest ${queue.oldestDeferredAgeSeconds}s` : '';
  const relayProblem = queue.delayReasons.some((reason) => /refused|timed out|unreachable|no route/i.test(reason));
  const relay = host.relayhost ? `the relay ${host.relayhost}` : 'the next hop';
  return [
    {
      rootCause: relayProblem
        ? `Mail piles up in the deferred queue (${queue.deferred} messages${age}) because ${relay} cannot be reached: ${queue.delayReasons[0] ?? ''}`
        : `Mail piles up in the deferred queue (${queue.deferred} messages${age}): ${queue.delayReasons[0] ?? 'no delay reason recorded'}`,
      evidence: [
        `postqueue -j: ${queue.deferred} deferred, ${queue.active} active${age}`,
        ...queue.delayReasons.slice(0, QUOTED_LINES).map((reason) => `delay reason: ${reason}`),
        ...(host.relayhost ? [`relayhost = ${host.relayhost}`] : []),
      ],
      actionId: 'flush-postfix-queue',
      prevention: relayProblem ? [...PREVENTION.relayDown] : [PREVENTION.relayDown[1]],
      failureClass: relayProblem ? 'relay-unreachable' : 'deferred-backlog',
      source: 'host-deferred-backlog',
      confidence: 0.7,
      daemon: 'postfix',
    },
  ];
}

const RESUME = { postfix: 'resume-postfix', dovecot: 'resume-dovecot' } as const;
const NAMES = { postfix: 'Postfix', dovecot: 'Dovecot' } as const;
const DAEMONS = ['postfix', 'dovecot'] as const;
/** ps states of a master that cannot answer: stopped (`T`, e.g. SIGSTOP; `t`, traced) or in uninterruptible I/O. */
const CANNOT_ANSWER_STATE = /^[TtD]/;

/** The master's `ps` row from the process-state follow-up, with its state column. */
function masterState(followUps: readonly FollowUpResult[], pid: number) {
  const state = followUp(followUps, 'process-state', pid);
  const row = state?.values.processState;
  if (!state || !row) return undefined;
  return { row, stat: row.split(/\s+/)[1] ?? '', runs: state.runs };
}

/**
 * The commands of the visit that waited for this daemon's answer for their whole limit and got none, as quoted. One
 * that a spent visit budget cut short says nothing about the daemon.
 */
function hangsOf(unanswered: readonly UnansweredRun[], daemon: 'postfix' | 'dovecot'): string[] {
  return unanswered.filter((run) => daemonAskedBy(run) === daemon && hadItsFullLimit(run)).map(describeUnanswered);
}

function sameArgv(argv: readonly string[], other: readonly string[]): boolean {
  return argv.length === other.length && argv.every((element, index) => element === other[index]);
}

/**
 * A master process that is alive but stopped (`T`, e.g. SIGSTOP) or stuck in uninterruptible I/O (`D`): the port
 * still accepts connections, but nothing answers on them, and neither do the daemon's own clients.
 */
function frozenDaemons({ host, followUps, unanswered }: DiagnosisEvidence): Finding[] {
  return DAEMONS.flatMap((daemon): Finding[] => {
    const pid = host[daemon].masterPid;
    const state = pid === undefined ? undefined : masterState(followUps, pid);
    if (!state || !CANNOT_ANSWER_STATE.test(state.stat)) return [];
    const { row, stat } = state;
    const stopped = /^[Tt]/.test(stat);
    const name = NAMES[daemon];
    const hangs = hangsOf(unanswered, daemon);
    const unansweredClients = hangs.length > 0 ? `; ${hangs.join('; ')}` : '';
    return [
      {
        rootCause: stopped
          ? `${name} is frozen: its master process (pid ${pid}) is stopped (ps state ${stat}), so connections are accepted but never answered${unansweredClients}`
          : `${name} hangs: its master process (pid ${pid}) is blocked in uninterruptible I/O (ps state ${stat}: ${row})${unansweredClients}`,
        evidence: [...state.runs.map((run) => quoteRun('master process', run)), ...hangs],
        actionId: stopped ? RESUME[daemon] : NO_CATALOG_ACTION,
        failureClass: 'frozen',
        source: `host-${daemon}-frozen`,
        confidence: stopped ? 0.9 : 0.7,
        daemon,
        ...(stopped
          ? {}
          : {
              handover: {
                reason: `${name}'s master is blocked in the kernel; find the storage or NFS mount it waits on`,
                suggestedCommands: [shellQuote(['cat', `/proc/${pid}/stack`])],
              },
            }),
      },
    ];
  });
}

/** The client whose answer shows that a daemon answers, as the prevention advice names it. */
const CLIENT_NAMES = { postfix: 'postqueue', dovecot: 'doveadm' } as const;

/**
 * A daemon's own client waited for it in vain while its master is alive and neither stopped nor blocked: the daemon
 * runs but does not answer. Postfix is restarted (stop and start signal the master, they need no answer from it); the
 * catalog has no restart of Dovecot that does without the master's answer, so people take over.
 */
function unresponsiveDaemons({ host, followUps, unanswered, server }: DiagnosisEvidence): Finding[] {
  return DAEMONS.flatMap((daemon): Finding[] => {
    const pid = host[daemon].masterPid;
    const hangs = hangsOf(unanswered, daemon);
    const state = pid === undefined || hangs.length === 0 ? undefined : masterState(followUps, pid);
    if (pid === undefined || !state || CANNOT_ANSWER_STATE.test(state.stat)) return [];
    const name = NAMES[daemon];
    const base = {
      rootCause: `${name} does not answer: ${hangs.join('; ')}, while its master process (pid ${pid}) is alive and not stopped (ps state ${state.stat})`,
      evidence: [...hangs, ...state.runs.map((run) => quoteRun('master process', run))],
      prevention: [...PREVENTION.daemonUnresponsive(name, CLIENT_NAMES[daemon])],
      failureClass: 'not-answering',
      source: `host-${daemon}-unresponsive`,
      // Two measurements agree: the daemon's own client timed out, and ps shows its master alive.
      confidence: 0.8,
      daemon,
    };
    if (daemon === 'postfix') return [{ ...base, actionId: 'restart-postfix' }];
    return [
      {
        ...base,
        actionId: NO_CATALOG_ACTION,
        handover: {
          reason: `Dovecot's master (pid ${pid}) is alive but does not answer; \`doveadm reload\` would wait on it too, so restart Dovecot by hand`,
          suggestedCommands: [
            processGroupListing(String(pid)),
            ['kill', '-TERM', String(pid)],
            ['dovecot', '-c', server.host.dovecotConfig],
          ].map(shellQuote),
        },
      },
    ];
  });
}

/**
 * Commands that hung and that no finding about a frozen or unresponsive daemon explains: a stuck filesystem, a host
 * under too much load, a daemon whose state could not be read. Quoted so no conclusion passes over them.
 */
function unexplainedHangs(evidence: DiagnosisEvidence, explained: ReadonlySet<string>): Finding[] {
  const hangs = evidence.unanswered.filter((run) => {
    const daemon = daemonAskedBy(run);
    return daemon === undefined || !explained.has(daemon);
  });
  if (hangs.length === 0) return [];
  const quoted = hangs.map(describeUnanswered);
  return [
    {
      rootCause: `Commands on the mail host do not answer: ${quoted.join('; ')}`,
      evidence: quoted,
      actionId: NO_CATALOG_ACTION,
      failureClass: 'host-unresponsive',
      source: 'host-commands-unanswered',
      confidence: 0.4,
      daemon: 'system',
      handover: {
        reason:
          'Commands hang on the mail host; find what they wait on (a stuck filesystem, a daemon that does not answer)',
        suggestedCommands: [shellQuote(['ps', '-eo', 'pid,stat,wchan:32,args']), shellQuote(['cat', '/proc/loadavg'])],
      },
    },
  ];
}

function certificateExpired(check: { ok: boolean; detail: string; errorCode?: string } | undefined): boolean {
  return check !== undefined && !check.ok && /expired/i.test(`${check.errorCode ?? ''} ${check.detail}`);
}

/** The TLS probe met an expired certificate: the dates of the file the daemon is configured with say which one. */
function expiredCertificates({ probes, certificateFiles, followUps, server }: DiagnosisEvidence): Finding[] {
  const services = [
    { service: 'smtp', daemon: 'postfix', check: probes.smtpTls, file: certificateFiles.smtp },
    { service: 'imap', daemon: 'dovecot', check: probes.imapTls, file: certificateFiles.imap },
  ] as const;
  return services
    .filter(({ check }) => certificateExpired(check))
    .map(({ service, daemon, check, file }): Finding => {
      const dates = file ? followUp(followUps, 'certificate-dates', file) : undefined;
      const read = dates?.values.certificateDates ?? 'not read';
      const reload =
        daemon === 'postfix'
          ? ['postfix', '-c', server.host.postfixConfigDir, 'reload']
          : ['doveadm', '-c', server.host.dovecotConfig, 'reload'];
      return {
        rootCause: `The ${service.toUpperCase()} TLS certificate has expired (${check?.detail ?? ''}); ${NAMES[daemon]} serves ${file ?? 'a file mailmend could not find'}: ${read}`,
        evidence: [
          `${service} tls: failed: ${check?.detail ?? ''}`,
          ...(dates?.runs.map((run) => quoteRun('certificate file', run)) ?? []),
        ],
        actionId: NO_CATALOG_ACTION,
        failureClass: 'tls-expired',
        source: `host-${service}-certificate-expired`,
        confidence: 0.85,
        daemon,
        handover: {
          reason: `Renew the certificate in ${file ?? 'the configured file'}; mailmend does not issue certificates`,
          suggestedCommands: [
            ...(file ? [shellQuote(['openssl', 'x509', '-noout', '-subject', '-enddate', '-in', file])] : []),
            shellQuote(reload),
          ],
        },
      };
    });
}

/**
 * Every finding the mail host's own state supports: a full disk, a stopped, frozen or unresponsive daemon, commands
 * that hung, a configuration that drifted or does not parse, a deferred backlog, an expired certificate. Empty when
 * the host shows nothing wrong.
 */
export function hostFindings(evidence: DiagnosisEvidence): Finding[] {
  const silentDaemons = [...frozenDaemons(evidence), ...unresponsiveDaemons(evidence)];
  const explained = new Set(silentDaemons.map((finding) => finding.daemon ?? 'system'));
  return [
    ...fullDisks(evidence),
    ...silentDaemons,
    ...unexplainedHangs(evidence, explained),
    ...stoppedPostfix(evidence),
    ...stoppedDovecot(evidence),
    ...deferredBacklog(evidence),
    ...expiredCertificates(evidence),
  ];
}
