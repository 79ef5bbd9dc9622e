import { NO_CATALOG_ACTION } from '../workflows/messages';
import { PREVENTION, type Finding } from './diagnosis-rules';
import type { CommandRun, ConfigChange, HostEvidence, QueueState } from './host-evidence-types';

const DISK_FULL_PERCENT = 95;
const QUOTED_LINES = 4;

function firstLines(text: string, count = QUOTED_LINES): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .slice(0, count);
}

function quoteRun(label: string, run: CommandRun): string {
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
  return `${change.file} differs from the known-good copy${when}${backups}: ${changedLines(change).join(' ')}`;
}

function fatalLogLines(host: HostEvidence, pattern: RegExp): string[] {
  return host.logErrors.flatMap(({ file, lines }) =>
    lines
      .filter((line) => pattern.test(line))
      .slice(-QUOTED_LINES)
      .map((line) => `${file}: ${line}`),
  );
}

function isQueue(queue: HostEvidence['queue']): queue is QueueState {
  return !('error' in queue);
}

function firstLine(run: CommandRun): string | undefined {
  return firstLines(run.output, 1)[0];
}

function recentPackageChanges(host: HostEvidence): string[] {
  return host.packageChanges.slice(-2).map((line) => `recent package change: ${line}`);
}

/** A full disk comes first: no start or restart helps while Postfix and Dovecot cannot write. */
function fullDisk(host: HostEvidence): Finding | undefined {
  const full = host.disk.filter(
    (disk) => disk.usedPercent >= DISK_FULL_PERCENT || disk.inodesUsedPercent >= DISK_FULL_PERCENT,
  );
  if (full.length === 0) return undefined;
  return {
    rootCause: `The disk under ${full.map((disk) => disk.path).join(', ')} is full, so Postfix and Dovecot cannot write mail`,
    evidence: full.map((disk) => `df ${disk.path}: ${disk.usedPercent}% space, ${disk.inodesUsedPercent}% inodes used`),
    actionId: NO_CATALOG_ACTION,
  };
}

/** Postfix is down: a config that fails its check is restored when it drifted from the known-good copy. */
function stoppedPostfix(host: HostEvidence): Finding | undefined {
  if (host.postfix.running) return undefined;
  const drifted = host.configChanges.filter(
    (change) => change.changedSinceKnownGood && !change.file.endsWith('dovecot.conf'),
  );
  const evidence = [
    quoteRun('postfix status', host.postfix.status),
    quoteRun('postfix check', host.postfix.check),
    ...drifted.map(describeChange),
    ...fatalLogLines(host, /fatal|panic/i),
    ...recentPackageChanges(host),
  ];
  if (host.postfix.check.exitCode === 0) {
    return {
      rootCause: 'Postfix is not running: no master process, while its configuration passes `postfix check`',
      evidence,
      actionId: 'start-postfix',
      prevention: [...PREVENTION.serviceStopped('Postfix')],
    };
  }
  const checkError = firstLine(host.postfix.check) ?? 'no output';
  if (drifted.length === 0) {
    return brokenConfig(
      `Postfix refuses to start and \`postfix check\` fails, with no known-good copy that differs to restore: ${checkError}`,
      evidence,
    );
  }
  return {
    rootCause:
      `Postfix refuses to start: its configuration changed since the known-good copy ` +
      `(${drifted.map((change) => change.file).join(', ')}) and \`postfix check\` fails: ${checkError}`,
    evidence,
    actionId: 'restore-postfix-config',
    prevention: [...PREVENTION.configChange],
  };
}

/** Dovecot is down: started when `doveconf -n` accepts its configuration, handed over when it does not. */
function stoppedDovecot(host: HostEvidence): Finding | undefined {
  if (host.dovecot.running) return undefined;
  const evidence = [
    quoteRun('doveconf -n', host.dovecot.config),
    ...fatalLogLines(host, /fatal|error/i),
    ...recentPackageChanges(host),
  ];
  if (host.dovecot.config.exitCode !== 0) {
    return brokenConfig(
      `Dovecot is not running and its configuration does not parse: ${firstLine(host.dovecot.config) ?? ''}`,
      evidence,
    );
  }
  return {
    rootCause: 'Dovecot is not running: no master process, while `doveconf -n` accepts its configuration',
    evidence,
    actionId: 'start-dovecot',
    prevention: [...PREVENTION.serviceStopped('Dovecot')],
  };
}

/** A configuration that no catalog action can repair: people fix it by hand. */
function brokenConfig(rootCause: string, evidence: string[]): Finding {
  return { rootCause, evidence, actionId: NO_CATALOG_ACTION, prevention: [...PREVENTION.configChange] };
}

/** More deferred mail than the threshold: flushed, and blamed on the relay when the delay reasons say so. */
function deferredBacklog(host: HostEvidence, deferredThreshold: number): Finding | undefined {
  const { queue } = host;
  if (!isQueue(queue) || queue.deferred <= deferredThreshold) return undefined;
  const age = queue.oldestDeferredAgeSeconds !== undefined ? `, oldest ${queue.oldestDeferredAgeSeconds}s` : '';
  const relayProblem = queue.delayReasons.some((reason) => /refused|timed out|unreachable|no route/i.test(reason));
  const relay = host.relayhost ? `the relay ${host.relayhost}` : 'the next hop';
  return {
    rootCause: relayProblem
      ? `Mail piles up in the deferred queue (${queue.deferred} messages${age}) because ${relay} cannot be reached: ${queue.delayReasons[0] ?? ''}`
      : `Mail piles up in the deferred queue (${queue.deferred} messages${age}): ${queue.delayReasons[0] ?? 'no delay reason recorded'}`,
    evidence: [
      `postqueue -j: ${queue.deferred} deferred, ${queue.active} active${age}`,
      ...queue.delayReasons.slice(0, QUOTED_LINES).map((reason) => `delay reason: ${reason}`),
      ...(host.relayhost ? [`relayhost = ${host.relayhost}`] : []),
      ...fatalLogLines(host, /deferred|refused|timed out/i),
    ],
    actionId: 'flush-postfix-queue',
    prevention: relayProblem ? [...PREVENTION.relayDown] : [PREVENTION.relayDown[1]],
  };
}

/**
 * Reasons from what the mail host itself shows: processes, config checks, config changes, queue, disk, logs. Returns
 * undefined when the host shows nothing wrong, so the network evidence decides. The disk comes first, then Postfix,
 * so mail is accepted again before it can be read.
 */
export function reasonFromHost(host: HostEvidence, deferredThreshold: number): Finding | undefined {
  return fullDisk(host) ?? stoppedPostfix(host) ?? stoppedDovecot(host) ?? deferredBacklog(host, deferredThreshold);
}
