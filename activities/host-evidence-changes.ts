import path from 'node:path';
import type { HostLayout } from '../config/schema';
import { HOST_COMMAND_TIMEOUTS } from './host-command-timeouts';
import {
  parseBackupListing,
  parseEpochSeconds,
  parseUtcOffsetMinutes,
  selectPackageChanges,
  trimDiff,
} from './host-evidence-parsers';
import type { ConfigChange } from './host-evidence-types';
import type { SshSession } from './ssh';

// What changed on the mail host recently: config drift from the known-good copy, backups beside the live files, and
// package installs. Read-only, like all host evidence.

// Parsed rather than quoted, so a cut listing would lose backups.
const BACKUP_LISTING_BYTES = 256 * 1024;
const PACKAGE_LOG_BYTES = 64 * 1024;

const remote = path.posix;
const TIMEOUTS = HOST_COMMAND_TIMEOUTS;

/** Backups editors and package tools leave beside a file: `main.cf~`, `.orig`, `.bak`, `.bak-<stamp>`, `.dpkg-old`. */
async function listBackups(session: SshSession, liveFile: string): Promise<string[]> {
  const name = remote.basename(liveFile);
  const names = [`${name}.bak*`, `${name}~`, `${name}.orig`, `${name}.dpkg-old`];
  // Without the parentheses, -printf would bind to the last -name only.
  const pattern = ['(', ...names.flatMap((backup, index) => [...(index > 0 ? ['-o'] : []), '-name', backup]), ')'];
  const listing = await session.run(
    ['find', remote.dirname(liveFile), '-maxdepth', '1', '-type', 'f', ...pattern, '-printf', '%T@ %p\\n'],
    { maxOutputBytes: BACKUP_LISTING_BYTES, timeoutMs: TIMEOUTS.listing },
  );
  return listing.exitCode === 0 ? parseBackupListing(listing.output) : [];
}

interface Comparison {
  changed: boolean;
  diff: string;
  /** False when there was nothing to compare with: no such baseline file. */
  usable: boolean;
}

async function compare(
  session: SshSession,
  baseline: string,
  liveFile: string,
  liveExists: boolean,
): Promise<Comparison> {
  const run = await session.run(['diff', '-u', baseline, liveFile], { timeoutMs: TIMEOUTS.listing });
  if (run.exitCode === 0) return { changed: false, diff: '', usable: true };
  if (run.exitCode === 1) return { changed: true, diff: trimDiff(run.output), usable: true };
  if (liveExists) return { changed: false, diff: '', usable: false };
  // The live file is gone while the baseline may still be there: that is a change too.
  const baselineStat = await session.run(['stat', '-c', '%Y', baseline], { timeoutMs: TIMEOUTS.quickRead });
  const usable = baselineStat.exitCode === 0;
  return { changed: usable, diff: usable ? trimDiff(run.output) : '', usable };
}

async function configChange(
  session: SshSession,
  liveFile: string,
  knownGoodFile: string | undefined,
  now: Date,
  windowMs: number,
): Promise<ConfigChange> {
  const stat = await session.run(['stat', '-c', '%Y', liveFile], { timeoutMs: TIMEOUTS.quickRead });
  const modified = stat.exitCode === 0 ? parseEpochSeconds(stat.output) : undefined;
  const backups = await listBackups(session, liveFile);
  const knownGood = knownGoodFile ? await compare(session, knownGoodFile, liveFile, stat.exitCode === 0) : undefined;
  // Without a usable known-good copy, the newest backup is the next best account of what the file was.
  const newestBackup = knownGood?.usable ? undefined : backups[0];
  const fromBackup = newestBackup ? await compare(session, newestBackup, liveFile, stat.exitCode === 0) : undefined;
  const change: ConfigChange = {
    file: liveFile,
    changedSinceKnownGood: knownGood?.changed ?? false,
    changedSinceBackup: fromBackup?.changed ?? false,
    diff: knownGood?.changed ? knownGood.diff : (fromBackup?.diff ?? ''),
    modifiedWithinWindow: modified !== undefined && now.getTime() - modified.getTime() <= windowMs,
    backups,
  };
  if (knownGood?.changed && knownGoodFile) change.comparedWith = knownGoodFile;
  else if (fromBackup?.changed && newestBackup) change.comparedWith = newestBackup;
  if (modified) change.modifiedAt = modified.toISOString();
  return change;
}

/** Each live config file (Postfix main.cf and master.cf, dovecot.conf) against its known-good copy, if there is one. */
export async function readConfigChanges(session: SshSession, layout: HostLayout, now: Date): Promise<ConfigChange[]> {
  const knownGood = (relative: string) =>
    layout.knownGoodDir === undefined ? undefined : remote.join(layout.knownGoodDir, relative);
  const changes: ConfigChange[] = [];
  for (const [liveFile, knownGoodFile] of [
    [remote.join(layout.postfixConfigDir, 'main.cf'), knownGood('postfix/main.cf')],
    [remote.join(layout.postfixConfigDir, 'master.cf'), knownGood('postfix/master.cf')],
    [layout.dovecotConfig, knownGood('dovecot/dovecot.conf')],
  ] as const) {
    changes.push(await configChange(session, liveFile, knownGoodFile, now, layout.recentChangeWindow));
  }
  return changes;
}

/** Installs, upgrades and removals in the dpkg and apt logs within the change window, in the host's local time. */
export async function readPackageChanges(session: SshSession, layout: HostLayout, now: Date): Promise<string[]> {
  const offset = await session.run(['date', '+%z'], { timeoutMs: TIMEOUTS.quickRead });
  const utcOffsetMinutes = (offset.exitCode === 0 ? parseUtcOffsetMinutes(offset.output) : undefined) ?? 0;
  const packageChanges: string[] = [];
  for (const file of layout.packageLogs) {
    // grep, not tail: a large upgrade writes hundreds of status lines that would push the changes out of a tail.
    const grep = await session.run(
      ['grep', '-E', '-e', '^(Start-Date|Commandline): ', '-e', ' (install|upgrade|remove|purge) ', file],
      { maxOutputBytes: PACKAGE_LOG_BYTES, timeoutMs: TIMEOUTS.listing },
    );
    // grep exits 1 for no match and 2 for a missing log: either way there is nothing to report from that file.
    if (grep.exitCode !== 0) continue;
    packageChanges.push(...selectPackageChanges(grep.output, now, layout.recentChangeWindow, utcOffsetMinutes));
  }
  return packageChanges;
}
