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

/**
 * Reasons from what the mail host itself shows: processes, config checks, config changes, queue, disk, logs. Returns
 * undefined when the host shows nothing wrong, so the network evidence decides.
 */
export function reasonFromHost(host: HostEvidence, deferredThreshold: number): Finding | undefined {
  const recentPackages = host.packageChanges.slice(-2).map((line) => `recent package change: ${line}`);

  const fullDisk = host.disk.filter(
    (disk) => disk.usedPercent >= DISK_FULL_PERCENT || disk.inodesUsedPercent >= DISK_FULL_PERCENT,
  );
  if (fullDisk.length > 0) {
    return {
      rootCause: `The disk under ${fullDisk.map((disk) => disk.path).join(', ')} is full, so Postfix and Dovecot cannot write mail`,
      evidence: fullDisk.map(
        (disk) => `df ${disk.path}: ${disk.usedPercent}% space, ${disk.inodesUsedPercent}% inodes used`,
      ),
      actionId: NO_CATALOG_ACTION,
    };
  }

  if (!host.postfix.running) {
    const checkFails = host.postfix.check.exitCode !== 0;
    const postfixChanges = host.configChanges.filter(
      (change) => change.changedSinceKnownGood && !change.file.endsWith('dovecot.conf'),
    );
    const fatal = fatalLogLines(host, /fatal|panic/i);
    const evidence = [
      quoteRun('postfix status', host.postfix.status),
      quoteRun('postfix check', host.postfix.check),
      ...postfixChanges.map(describeChange),
      ...fatal,
      ...recentPackages,
    ];
    if (checkFails && postfixChanges.length > 0) {
      return {
        rootCause:
          `Postfix refuses to start: its configuration changed since the known-good copy ` +
          `(${postfixChanges.map((change) => change.file).join(', ')}) and \`postfix check\` fails: ` +
          `${firstLines(host.postfix.check.output, 1)[0] ?? 'no output'}`,
        evidence,
        actionId: 'restore-postfix-config',
        prevention: [...PREVENTION.configChange],
      };
    }
    if (checkFails) {
      return {
        rootCause: `Postfix refuses to start and \`postfix check\` fails, with no known-good copy that differs to restore: ${firstLines(host.postfix.check.output, 1)[0] ?? 'no output'}`,
        evidence,
        actionId: NO_CATALOG_ACTION,
        prevention: [...PREVENTION.configChange],
      };
    }
    return {
      rootCause: 'Postfix is not running: no master process, while its configuration passes `postfix check`',
      evidence,
      actionId: 'start-postfix',
      prevention: [...PREVENTION.serviceStopped('Postfix')],
    };
  }

  if (!host.dovecot.running) {
    const evidence = [
      quoteRun('doveconf -n', host.dovecot.config),
      ...fatalLogLines(host, /fatal|error/i),
      ...recentPackages,
    ];
    if (host.dovecot.config.exitCode !== 0) {
      return {
        rootCause: `Dovecot is not running and its configuration does not parse: ${firstLines(host.dovecot.config.output, 1)[0] ?? ''}`,
        evidence,
        actionId: NO_CATALOG_ACTION,
        prevention: [...PREVENTION.configChange],
      };
    }
    return {
      rootCause: 'Dovecot is not running: no master process, while `doveconf -n` accepts its configuration',
      evidence,
      actionId: 'start-dovecot',
      prevention: [...PREVENTION.serviceStopped('Dovecot')],
    };
  }

  const { queue } = host;
  if (isQueue(queue) && queue.deferred > deferredThreshold) {
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
  return undefined;
}
