import path from 'node:path';
import type { HostLayout } from '../config/schema';
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
  selectLogErrors,
  selectMailProcesses,
  selectPackageChanges,
  trimDiff,
  type ProcessLine,
} from './host-evidence-parsers';
import type { CommandRun, ConfigChange, DiskUse, HostEvidence, QueueState } from './host-evidence-types';
import type { SshSession } from './ssh';

// Outputs that are parsed rather than quoted need more than the default tail: a cut listing would miscount.
const LISTING_BYTES = 256 * 1024;
const QUEUE_JSON_BYTES = 16 * 1024 * 1024;
const QUEUE_FILE_DOTS = 1024 * 1024;
const PACKAGE_LOG_BYTES = 64 * 1024;
const LOG_TAIL_LINES = '400';

const remote = path.posix;

async function configValue(
  session: SshSession,
  argv: readonly string[],
  program: 'postconf' | 'doveconf',
): Promise<string | undefined> {
  const run = await session.run(argv);
  return run.exitCode === 0 ? parseConfigValue(run.output, program) : undefined;
}

async function postfixQueueDirectory(session: SshSession, postfixConfigDir: string): Promise<string | undefined> {
  const value = await configValue(session, ['postconf', '-c', postfixConfigDir, '-h', 'queue_directory'], 'postconf');
  return value || undefined;
}

async function postfixMasterPid(session: SshSession, queueDirectory: string | undefined): Promise<number | undefined> {
  if (!queueDirectory) return undefined;
  const run = await session.run(['cat', remote.join(queueDirectory, 'pid', 'master.pid')]);
  return run.exitCode === 0 ? parsePidFile(run.output) : undefined;
}

async function dovecotState(
  session: SshSession,
  layout: HostLayout,
  processes: readonly ProcessLine[],
): Promise<{ running: boolean; masterPid?: number }> {
  const baseDir = await configValue(session, ['doveconf', '-c', layout.dovecotConfig, '-h', 'base_dir'], 'doveconf');
  if (!baseDir) {
    // A config doveconf cannot read does not stop a Dovecot started earlier; ps still sees its master.
    const master = findDovecotMaster(processes);
    return master ? { running: true, masterPid: master.pid } : { running: false };
  }
  const pidFile = await session.run(['cat', remote.join(baseDir, 'master.pid')]);
  const pid = pidFile.exitCode === 0 ? parsePidFile(pidFile.output) : undefined;
  if (pid === undefined) return { running: false };
  const alive = await session.run(['kill', '-0', String(pid)]);
  return alive.exitCode === 0 ? { running: true, masterPid: pid } : { running: false };
}

function failure(run: CommandRun): string {
  const output = run.output.trim().split('\n').slice(-3).join(' | ');
  return `\`${run.argv.join(' ')}\` exited ${run.exitCode}${output ? `: ${output}` : ''}`;
}

/**
 * The Postfix queue: counts and delay reasons from `postqueue -j`, or, when Postfix is down and showq with it, the
 * number of files in the deferred and active queue directories. Pass `queueDirectory` when it is already known.
 */
export async function readQueueState(
  session: SshSession,
  postfixConfigDir: string,
  now: Date,
  queueDirectory?: string,
): Promise<QueueState | { error: string }> {
  const json = await session.run(['postqueue', '-c', postfixConfigDir, '-j'], { maxOutputBytes: QUEUE_JSON_BYTES });
  if (json.exitCode === 0) return parsePostqueueJson(json.output, now);
  // With Postfix down, showq is gone and postqueue -j fails; the queue files themselves still tell the size.
  const directory = queueDirectory ?? (await postfixQueueDirectory(session, postfixConfigDir));
  if (!directory) return { error: `${failure(json)}; queue_directory unknown` };
  const countFiles = (queue: string) =>
    session.run(['find', remote.join(directory, queue), '-type', 'f', '-printf', '.'], {
      maxOutputBytes: QUEUE_FILE_DOTS,
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
    const space = await session.run(['df', '-P', diskPath]);
    const inodes = await session.run(['df', '-Pi', diskPath]);
    const usedPercent = space.exitCode === 0 ? parseDfPercent(space.output) : undefined;
    const inodesUsedPercent = inodes.exitCode === 0 ? parseDfPercent(inodes.output) : undefined;
    if (usedPercent === undefined || inodesUsedPercent === undefined) continue;
    uses.push({ path: diskPath, usedPercent, inodesUsedPercent });
  }
  return uses;
}

async function configChange(
  session: SshSession,
  liveFile: string,
  knownGoodFile: string | undefined,
  now: Date,
  windowMs: number,
): Promise<ConfigChange> {
  const stat = await session.run(['stat', '-c', '%Y', liveFile]);
  const modified = stat.exitCode === 0 ? parseEpochSeconds(stat.output) : undefined;
  let changedSinceKnownGood = false;
  let diff = '';
  if (knownGoodFile) {
    const run = await session.run(['diff', '-u', knownGoodFile, liveFile]);
    if (run.exitCode === 1) {
      changedSinceKnownGood = true;
      diff = trimDiff(run.output);
    } else if (run.exitCode !== 0 && stat.exitCode !== 0) {
      // The live file is gone while a known-good copy may still be there: that is a change too.
      const knownGood = await session.run(['stat', '-c', '%Y', knownGoodFile]);
      changedSinceKnownGood = knownGood.exitCode === 0;
      diff = changedSinceKnownGood ? trimDiff(run.output) : '';
    }
  }
  const directory = remote.dirname(liveFile);
  const name = remote.basename(liveFile);
  // Without the parentheses, -printf would bind to the second -name only.
  const backupPattern = ['(', '-name', `${name}.bak*`, '-o', '-name', `${name}~`, ')'];
  const listing = await session.run(
    ['find', directory, '-maxdepth', '1', '-type', 'f', ...backupPattern, '-printf', '%T@ %p\\n'],
    { maxOutputBytes: LISTING_BYTES },
  );
  const change: ConfigChange = {
    file: liveFile,
    changedSinceKnownGood,
    diff,
    modifiedWithinWindow: modified !== undefined && now.getTime() - modified.getTime() <= windowMs,
    backups: listing.exitCode === 0 ? parseBackupListing(listing.output) : [],
  };
  if (modified) change.modifiedAt = modified.toISOString();
  return change;
}

/**
 * Looks at the mail host over an open SSH session without changing anything: Postfix and Dovecot state, queue,
 * logs, disk, config drift from the known-good copy, and recent package changes. Every command is fixed and built
 * only from `layout` paths. A command that fails becomes evidence; only a broken connection rejects.
 */
export async function collectHostEvidence(session: SshSession, layout: HostLayout, now: Date): Promise<HostEvidence> {
  const postfixDir = layout.postfixConfigDir;
  const status = await session.run(['postfix', '-c', postfixDir, 'status']);
  const queueDirectory = await postfixQueueDirectory(session, postfixDir);
  const postfixRunning = status.exitCode === 0;
  const masterPid = postfixRunning ? await postfixMasterPid(session, queueDirectory) : undefined;
  const check = await session.run(['postfix', '-c', postfixDir, 'check']);

  const dovecotConfig = await session.run(['doveconf', '-c', layout.dovecotConfig, '-n']);
  const ps = await session.run(['ps', '-ww', '-eo', 'pid,user,args'], { maxOutputBytes: LISTING_BYTES });
  const processes = ps.exitCode === 0 ? selectMailProcesses(ps.output) : [];
  const dovecot = await dovecotState(session, layout, processes);

  const queue = await readQueueState(session, postfixDir, now, queueDirectory);
  const relayhost = await configValue(session, ['postconf', '-c', postfixDir, '-h', 'relayhost'], 'postconf');

  const logErrors: HostEvidence['logErrors'] = [];
  for (const file of layout.logFiles) {
    const tail = await session.run(['tail', '-n', LOG_TAIL_LINES, file], { maxOutputBytes: LISTING_BYTES });
    logErrors.push({
      file,
      lines: tail.exitCode === 0 ? selectLogErrors(tail.output) : [`unreadable: ${failure(tail)}`],
    });
  }

  const diskPaths = [...new Set([...(queueDirectory ? [queueDirectory] : []), ...layout.mailDirs])];
  const disk = await diskUse(session, diskPaths);

  const knownGood = (relative: string) =>
    layout.knownGoodDir === undefined ? undefined : remote.join(layout.knownGoodDir, relative);
  const configChanges: ConfigChange[] = [];
  for (const [liveFile, knownGoodFile] of [
    [remote.join(postfixDir, 'main.cf'), knownGood('postfix/main.cf')],
    [remote.join(postfixDir, 'master.cf'), knownGood('postfix/master.cf')],
    [layout.dovecotConfig, knownGood('dovecot/dovecot.conf')],
  ] as const) {
    configChanges.push(await configChange(session, liveFile, knownGoodFile, now, layout.recentChangeWindow));
  }

  const offset = await session.run(['date', '+%z']);
  const utcOffsetMinutes = (offset.exitCode === 0 ? parseUtcOffsetMinutes(offset.output) : undefined) ?? 0;
  const packageChanges: string[] = [];
  for (const file of layout.packageLogs) {
    // grep, not tail: a large upgrade writes hundreds of status lines that would push the changes out of a tail.
    const grep = await session.run(
      ['grep', '-E', '-e', '^(Start-Date|Commandline): ', '-e', ' (install|upgrade|remove|purge) ', file],
      { maxOutputBytes: PACKAGE_LOG_BYTES },
    );
    // grep exits 1 for no match and 2 for a missing log: either way there is nothing to report from that file.
    if (grep.exitCode !== 0) continue;
    packageChanges.push(...selectPackageChanges(grep.output, now, layout.recentChangeWindow, utcOffsetMinutes));
  }

  const evidence: HostEvidence = {
    collectedAt: now.toISOString(),
    postfix: { running: postfixRunning, status, check },
    dovecot: { running: dovecot.running, config: dovecotConfig },
    processes: processes.map((process) => process.line),
    queue,
    logErrors,
    disk,
    configChanges,
    packageChanges,
  };
  if (masterPid !== undefined) evidence.postfix.masterPid = masterPid;
  if (dovecot.masterPid !== undefined) evidence.dovecot.masterPid = dovecot.masterPid;
  if (relayhost !== undefined) evidence.relayhost = relayhost;
  return evidence;
}
