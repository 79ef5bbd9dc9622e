import path from 'node:path';
import type { HostLayout } from '../config/schema';
import { HOST_COMMAND_TIMEOUTS } from './host-command-timeouts';
import { readConfigChanges, readPackageChanges } from './host-evidence-changes';
import {
  countPrintedDots,
  findDovecotMaster,
  parseConfigValue,
  parseDfPercent,
  parsePidFile,
  parsePostqueueJson,
  selectMailProcesses,
  type ProcessLine,
} from './host-evidence-parsers';
import type { CommandRun, DiskUse, HostEvidence, LogWindowFile, QueueState } from './host-evidence-types';
import { HOST_CLOCK_COMMAND, linesInWindow, parseHostClock, windowStart } from './log-window';
import type { SshSession } from './ssh';
import { describeNoAnswer, gaveNoAnswer } from './unanswered-commands';

// Outputs that are parsed rather than quoted need more than the default tail: a cut listing would miscount.
const LISTING_BYTES = 256 * 1024;
const QUEUE_JSON_BYTES = 16 * 1024 * 1024;
const QUEUE_FILE_DOTS = 1024 * 1024;
// The window is cut from the end of each log: a host logging more than this in the window shows only its newest lines.
const LOG_TAIL_LINES = '20000';
const LOG_TAIL_BYTES = 4 * 1024 * 1024;
const MAX_WINDOW_LINES = 5000;

const remote = path.posix;
const TIMEOUTS = HOST_COMMAND_TIMEOUTS;

/** Every process with its full command line, from which the mail services' are picked. */
export const MAIL_PROCESS_LISTING: readonly string[] = ['ps', '-ww', '-eo', 'pid,user,args'];

async function configValue(
  session: SshSession,
  argv: readonly string[],
  program: 'postconf' | 'doveconf',
): Promise<string | undefined> {
  const run = await session.run(argv, { timeoutMs: TIMEOUTS.configRead });
  return run.exitCode === 0 ? parseConfigValue(run.output, program) : undefined;
}

async function postfixQueueDirectory(session: SshSession, postfixConfigDir: string): Promise<string | undefined> {
  return (await askQueueDirectory(session, postfixConfigDir)).directory;
}

/** Postfix's queue_directory from postconf, and the run that told it, for a caller that quotes why it is unknown. */
async function askQueueDirectory(session: SshSession, postfixConfigDir: string) {
  const run = await session.run(['postconf', '-c', postfixConfigDir, '-h', 'queue_directory'], {
    timeoutMs: TIMEOUTS.configRead,
  });
  const directory = (run.exitCode === 0 ? parseConfigValue(run.output, 'postconf') : undefined) || undefined;
  return { directory, run };
}

async function postfixMasterPid(session: SshSession, queueDirectory: string | undefined): Promise<number | undefined> {
  if (!queueDirectory) return undefined;
  const run = await session.run(['cat', remote.join(queueDirectory, 'pid', 'master.pid')], {
    timeoutMs: TIMEOUTS.quickRead,
  });
  return run.exitCode === 0 ? parsePidFile(run.output) : undefined;
}

/** Asks the running Dovecot master itself, over its socket: a frozen or wedged master never answers. */
function dovecotAnswerCommand(layout: HostLayout): string[] {
  return ['doveadm', '-c', layout.dovecotConfig, 'process', 'status'];
}

async function dovecotState(
  session: SshSession,
  layout: HostLayout,
  processes: readonly ProcessLine[],
): Promise<{ running: boolean; masterPid?: number }> {
  // A config doveconf cannot read, or a pid file that does not come back, does not stop a Dovecot started earlier; ps
  // still sees its master.
  const seenByPs = () => {
    const master = findDovecotMaster(processes);
    return master ? { running: true, masterPid: master.pid } : { running: false };
  };
  const baseDir = await configValue(session, ['doveconf', '-c', layout.dovecotConfig, '-h', 'base_dir'], 'doveconf');
  if (!baseDir) return seenByPs();
  const pidFile = await session.run(['cat', remote.join(baseDir, 'master.pid')], { timeoutMs: TIMEOUTS.quickRead });
  if (gaveNoAnswer(pidFile)) return seenByPs();
  const pid = pidFile.exitCode === 0 ? parsePidFile(pidFile.output) : undefined;
  if (pid === undefined) return { running: false };
  const alive = await session.run(['kill', '-0', String(pid)], { timeoutMs: TIMEOUTS.quickRead });
  if (gaveNoAnswer(alive)) return seenByPs();
  if (alive.exitCode !== 0) return { running: false };
  // Asked for its hang, not its answer: a master that does not answer is recorded by the visit as unanswered.
  await session.run(dovecotAnswerCommand(layout), { timeoutMs: TIMEOUTS.daemonAnswer });
  return { running: true, masterPid: pid };
}

function failure(run: CommandRun): string {
  if (gaveNoAnswer(run)) return describeNoAnswer(run);
  const output = run.output.trim().split('\n').slice(-3).join(' | ');
  return `\`${run.argv.join(' ')}\` exited ${run.exitCode}${output ? `: ${output}` : ''}`;
}

/**
 * The Postfix queue: counts and delay reasons from `postqueue -j`, or, when Postfix is down or does not answer (and
 * showq with it), the number of files in the deferred and active queue directories. A postqueue that hung is killed at
 * its timeout and stays on the session's record. Pass `queueDirectory` when it is already known.
 */
export async function readQueueState(
  session: SshSession,
  postfixConfigDir: string,
  now: Date,
  queueDirectory?: string,
): Promise<QueueState | { error: string }> {
  const json = await session.run(['postqueue', '-c', postfixConfigDir, '-j'], {
    maxOutputBytes: QUEUE_JSON_BYTES,
    timeoutMs: TIMEOUTS.daemonAnswer,
  });
  if (json.exitCode === 0) return parsePostqueueJson(json.output, now);
  // Without an answer from showq, the queue files themselves still tell the size.
  const asked = queueDirectory === undefined ? await askQueueDirectory(session, postfixConfigDir) : undefined;
  const directory = queueDirectory ?? asked?.directory;
  if (!directory) {
    const why = asked && gaveNoAnswer(asked.run) ? ` (${describeNoAnswer(asked.run)})` : '';
    return { error: `${failure(json)}; queue_directory unknown${why}` };
  }
  const countFiles = (queue: string) =>
    session.run(['find', remote.join(directory, queue), '-type', 'f', '-printf', '.'], {
      maxOutputBytes: QUEUE_FILE_DOTS,
      timeoutMs: TIMEOUTS.listing,
    });
  const deferred = await countFiles('deferred');
  if (deferred.exitCode !== 0) return { error: `${failure(json)}; ${failure(deferred)}` };
  const active = await countFiles('active');
  return {
    deferred: countPrintedDots(deferred.output),
    active: active.exitCode === 0 ? countPrintedDots(active.output) : 0,
    delayReasons: [],
  };
}

async function diskUse(session: SshSession, paths: readonly string[]): Promise<DiskUse[]> {
  const uses: DiskUse[] = [];
  for (const diskPath of paths) {
    const space = await session.run(['df', '-P', diskPath], { timeoutMs: TIMEOUTS.quickRead });
    const inodes = await session.run(['df', '-Pi', diskPath], { timeoutMs: TIMEOUTS.quickRead });
    const usedPercent = space.exitCode === 0 ? parseDfPercent(space.output) : undefined;
    const inodesUsedPercent = inodes.exitCode === 0 ? parseDfPercent(inodes.output) : undefined;
    if (usedPercent === undefined || inodesUsedPercent === undefined) continue;
    uses.push({ path: diskPath, usedPercent, inodesUsedPercent });
  }
  return uses;
}

interface PostfixState {
  status: CommandRun;
  check: CommandRun;
  running: boolean;
  masterPid?: number;
  /** Where Postfix keeps its queue, from `postconf`; undefined when postconf cannot tell. */
  queueDirectory?: string;
}

async function postfixState(session: SshSession, postfixDir: string): Promise<PostfixState> {
  // postfix-script reads the master's pid file and signals it with kill -0; it does not wait for the master to answer.
  const status = await session.run(['postfix', '-c', postfixDir, 'status'], { timeoutMs: TIMEOUTS.quickRead });
  const queueDirectory = await postfixQueueDirectory(session, postfixDir);
  const running = status.exitCode === 0;
  const masterPid = running ? await postfixMasterPid(session, queueDirectory) : undefined;
  const check = await session.run(['postfix', '-c', postfixDir, 'check'], { timeoutMs: TIMEOUTS.configCheck });
  return {
    running,
    status,
    check,
    ...(masterPid !== undefined ? { masterPid } : {}),
    ...(queueDirectory !== undefined ? { queueDirectory } : {}),
  };
}

/**
 * The mail logs' lines since the window start: the host's clock first, since syslog timestamps are in its local time
 * and the window is counted back from the alert on the worker's clock.
 */
async function readLogWindow(
  session: SshSession,
  layout: HostLayout,
  reference: Date,
): Promise<Pick<HostEvidence, 'logs' | 'logWindow'>> {
  const workerNow = new Date();
  const date = await session.run(HOST_CLOCK_COMMAND, { timeoutMs: TIMEOUTS.quickRead });
  const clock = (date.exitCode === 0 ? parseHostClock(date.output) : undefined) ?? {
    now: workerNow,
    utcOffsetMinutes: 0,
  };
  const since = windowStart(reference, layout.logWindow, clock, workerNow);
  const logs: LogWindowFile[] = [];
  for (const file of layout.logFiles) {
    const tail = await session.run(['tail', '-n', LOG_TAIL_LINES, file], {
      maxOutputBytes: LOG_TAIL_BYTES,
      timeoutMs: TIMEOUTS.listing,
    });
    if (tail.exitCode !== 0) {
      logs.push({ file, lines: [], unreadable: failure(tail) });
      continue;
    }
    logs.push({ file, lines: linesInWindow(tail.output, clock, since).slice(-MAX_WINDOW_LINES) });
  }
  const logWindow: HostEvidence['logWindow'] = {
    since: new Date(since).toISOString(),
    until: clock.now.toISOString(),
  };
  if (date.exitCode === 0) logWindow.hostClockSkewMs = clock.now.getTime() - workerNow.getTime();
  return { logs, logWindow };
}

/**
 * Looks at the mail host over an open SSH session without changing anything: Postfix and Dovecot state (and whether
 * each answers its own client), queue, the mail logs' lines within `layout.logWindow` before `reference` (the alert),
 * disk, config drift from the known-good copy, and recent package changes. Every command is fixed, built only from
 * `layout` paths, and bounded by its HOST_COMMAND_TIMEOUTS limit. A command that fails or hangs becomes evidence (wrap
 * the session with recordUnanswered to keep the hangs); only a broken connection rejects.
 */
export async function collectHostEvidence(
  session: SshSession,
  layout: HostLayout,
  now: Date,
  reference: Date = now,
): Promise<HostEvidence> {
  const postfixDir = layout.postfixConfigDir;
  const { queueDirectory, ...postfix } = await postfixState(session, postfixDir);

  const dovecotConfig = await session.run(['doveconf', '-c', layout.dovecotConfig, '-n'], {
    timeoutMs: TIMEOUTS.configRead,
  });
  const ps = await session.run(MAIL_PROCESS_LISTING, {
    maxOutputBytes: LISTING_BYTES,
    timeoutMs: TIMEOUTS.quickRead,
  });
  const processes = ps.exitCode === 0 ? selectMailProcesses(ps.output) : [];
  const dovecot = await dovecotState(session, layout, processes);

  const queue = await readQueueState(session, postfixDir, now, queueDirectory);
  const relayhost = await configValue(session, ['postconf', '-c', postfixDir, '-h', 'relayhost'], 'postconf');
  const { logs, logWindow } = await readLogWindow(session, layout, reference);
  const diskPaths = [...new Set([...(queueDirectory ? [queueDirectory] : []), ...layout.mailDirs])];
  const disk = await diskUse(session, diskPaths);
  const configChanges = await readConfigChanges(session, layout, now);
  const packageChanges = await readPackageChanges(session, layout, now);

  const evidence: HostEvidence = {
    collectedAt: now.toISOString(),
    postfix,
    dovecot: { running: dovecot.running, config: dovecotConfig },
    processes: processes.map((process) => process.line),
    queue,
    logs,
    logWindow,
    disk,
    configChanges,
    packageChanges,
  };
  if (dovecot.masterPid !== undefined) evidence.dovecot.masterPid = dovecot.masterPid;
  if (relayhost !== undefined) evidence.relayhost = relayhost;
  if (queueDirectory !== undefined) evidence.queueDirectory = queueDirectory;
  return evidence;
}
