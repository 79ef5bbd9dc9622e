import type { WindowLine } from './log-window';

/** One command run on the mail host: the argv as sent, and what it answered. */
export interface CommandRun {
  argv: string[];
  exitCode: number;
  /** stdout and stderr together, trimmed to the last few KiB. */
  output: string;
  /** Set when the command outlived its timeout and was killed: it did not answer within this many ms. */
  timedOutAfterMs?: number;
}

export interface QueueState {
  deferred: number;
  active: number;
  oldestDeferredAgeSeconds?: number;
  /** Distinct delay reasons of deferred recipients, most frequent first. */
  delayReasons: string[];
}

export interface DiskUse {
  path: string;
  usedPercent: number;
  inodesUsedPercent: number;
}

export interface ConfigChange {
  /** Path of the live file. */
  file: string;
  changedSinceKnownGood: boolean;
  /** Without a usable known-good copy: whether the file differs from its newest backup. */
  changedSinceBackup: boolean;
  /** The file the diff compares with: the known-good copy, or the newest backup; absent when nothing differs. */
  comparedWith?: string;
  /** Unified diff against `comparedWith`, trimmed; empty when unchanged or nothing to compare with. */
  diff: string;
  modifiedWithinWindow: boolean;
  modifiedAt?: string;
  /** Backups beside the file (`main.cf.bak-20260101T1200`, `main.cf~`, `.orig`, `.dpkg-old`), newest first. */
  backups: string[];
}

/** What one SSH visit to the mail host saw. Collected read-only: no command here changes anything. */
export interface HostEvidence {
  collectedAt: string;
  postfix: { running: boolean; masterPid?: number; status: CommandRun; check: CommandRun };
  dovecot: { running: boolean; masterPid?: number; config: CommandRun };
  /** `ps` lines of the mail services (master, smtpd, dovecot, imap-login...). */
  processes: string[];
  queue: QueueState | { error: string };
  relayhost?: string;
  /** Postfix's queue_directory, when postconf could tell. */
  queueDirectory?: string;
  /** The mail logs' lines written within the log window, oldest first; `unreadable` when the log could not be read. */
  logs: LogWindowFile[];
  /** The window in host time (ISO), and the host's clock against the worker's when it was read. */
  logWindow: { since: string; until: string; hostClockSkewMs?: number };
  disk: DiskUse[];
  configChanges: ConfigChange[];
  /** Recent install/upgrade/remove lines from the dpkg and apt logs within the change window. */
  packageChanges: string[];
}

export interface LogWindowFile {
  file: string;
  lines: WindowLine[];
  unreadable?: string;
}
