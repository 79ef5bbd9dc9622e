import path from 'node:path';
import type { HostLayout } from '../config/schema';
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
    { maxOutputBytes: BACKUP_LISTING_BYTES },
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
  return packageChanges;
}
