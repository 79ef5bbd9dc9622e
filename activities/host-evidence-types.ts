/** One command run on the mail host: the argv as sent, and what it answered. */
export interface CommandRun {
  argv: string[];
  exitCode: number;
  /** stdout and stderr together, trimmed to the last few KiB. */
  output: string;
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
  /** Unified diff against the known-good copy, trimmed; empty when unchanged or no copy exists. */
  diff: string;
  modifiedWithinWindow: boolean;
  modifiedAt?: string;
  /** Timestamped backups beside the file (`main.cf.bak-20260101T1200`, `main.cf~`), newest first. */
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
  logErrors: { file: string; lines: string[] }[];
  disk: DiskUse[];
  configChanges: ConfigChange[];
  /** Recent install/upgrade/remove lines from the dpkg and apt logs within the change window. */
  packageChanges: string[];
}
