/**
 * How long each kind of command on the mail host may run before it is killed with its process group and recorded as
 * not answering. Each is chosen for what the command does: long enough for a slow but healthy host, short enough that
 * a hang is noticed while the step it belongs to still has time to report it.
 */
export const HOST_COMMAND_TIMEOUTS = {
  /** cat, kill -0, date, stat, ps, df, ss: read a file or ask the kernel; only a stuck host takes seconds. */
  quickRead: 5_000,
  /** postconf, doveconf, openssl x509: parse files on disk without asking any daemon. */
  configRead: 5_000,
  /** `postfix check` runs postconf and walks the owners and modes of the whole queue and its programs. */
  configCheck: 15_000,
  /** postqueue and doveadm need the running daemon's answer; a healthy one gives it within a second. */
  daemonAnswer: 10_000,
  /** Log tails, diffs, greps of package logs, find over a directory: they grow with the files they read. */
  listing: 15_000,
  /** An action's read-only checks and snapshots: some walk every mailbox (ownership) or ask a daemon. */
  remediationCheck: 30_000,
  /** An action's step: `postfix stop` waits for the master to exit, a start for it to run, chown -R every mailbox. */
  remediationStep: 120_000,
} as const;

/**
 * A timeout as a person reads it, in seconds with at most one decimal.
 *
 * @example inSeconds(10_000) // => '10 s'
 */
export function inSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
