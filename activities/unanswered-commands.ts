import path from 'node:path';
import { inSeconds } from './host-command-timeouts';
import type { CommandRun } from './host-evidence-types';
import { COMMAND_KILL_WAIT_MS, type SshSession } from './ssh';

// A command that hangs on the mail host is evidence, never a stall: it is killed at its timeout, and the visit keeps
// it here so the diagnosis can quote it. A visit has a time budget too: what it had no time left to run is said to be
// not run, which is no evidence of a hang.

/**
 * A command killed at its timeout. `cutShortByBudget` when the visit's budget gave it less than its own limit: its
 * silence then says little about what it asked.
 */
export type UnansweredRun = CommandRun & { timedOutAfterMs: number; cutShortByBudget?: true };

/** A command the visit did not run because its time budget was spent; it says nothing about the host. */
export type NotRunCommand = CommandRun & { notRun: string };

/** Programs that wait for the running daemon to answer them, so their hang speaks about that daemon. */
const DAEMON_CLIENTS: Readonly<Record<string, 'postfix' | 'dovecot'>> = { postqueue: 'postfix', doveadm: 'dovecot' };

/** Less than this left of the budget, beside the kill's wait, and a command is not started: a host answering at all answers in a second. */
const MIN_COMMAND_TIME_MS = 1_000;
const BUDGET_SPENT = "the visit's time budget was spent";

export function isUnanswered(run: CommandRun): run is UnansweredRun {
  return run.timedOutAfterMs !== undefined;
}

export function wasNotRun(run: CommandRun): run is NotRunCommand {
  return 'notRun' in run;
}

/** A command that hung or was not run: its exit code and output tell nothing about what it asked. */
export function gaveNoAnswer(run: CommandRun): run is UnansweredRun | NotRunCommand {
  return isUnanswered(run) || wasNotRun(run);
}

/** A hang that speaks about the command's target: it had its whole named limit, not what a spent budget left it. */
export function hadItsFullLimit(run: UnansweredRun): boolean {
  return run.cutShortByBudget === undefined;
}

/**
 * How a command that hung is quoted, everywhere: the argv as run and the time it was given.
 *
 * @example describeUnanswered(run) // => '`postqueue -c /etc/postfix -j` did not answer within 10 s'
 */
export function describeUnanswered(run: UnansweredRun): string {
  const within = `did not answer within ${inSeconds(run.timedOutAfterMs)}`;
  return `\`${run.argv.join(' ')}\` ${within}${hadItsFullLimit(run) ? '' : `, all the visit's time budget had left`}`;
}

/**
 * How a command the visit had no time for is quoted.
 *
 * @example describeNotRun(run) // => "`df -P /var/mail` not run: the visit's time budget was spent"
 */
export function describeNotRun(run: NotRunCommand): string {
  return `\`${run.argv.join(' ')}\` not run: ${run.notRun}`;
}

/**
 * The commands a visit had no time for, as one line of evidence; none when it ran everything.
 *
 * @example summarizeNotRun(notRun) // => ["not run, as the visit's time budget was spent: `df -P /var/mail`; `date +%z`"]
 */
export function summarizeNotRun(runs: readonly NotRunCommand[]): string[] {
  if (runs.length === 0) return [];
  return [`not run, as ${BUDGET_SPENT}: ${runs.map((run) => `\`${run.argv.join(' ')}\``).join('; ')}`];
}

/** How a command without an answer is quoted: hung, or not run. */
export function describeNoAnswer(run: UnansweredRun | NotRunCommand): string {
  return wasNotRun(run) ? describeNotRun(run) : describeUnanswered(run);
}

/** The daemon whose answer the command waited for, if it is one of the daemons' own clients. */
export function daemonAskedBy(run: CommandRun): 'postfix' | 'dovecot' | undefined {
  return DAEMON_CLIENTS[path.posix.basename(run.argv[0] ?? '')];
}

export interface RecordingSession {
  session: SshSession;
  /** Every command that outlived its timeout, in the order they ran. */
  unanswered: UnansweredRun[];
  /** Every command the visit did not run because its time budget was spent, in the order they were asked for. */
  notRun: NotRunCommand[];
}

/**
 * Wraps a session so that every command that times out is kept as evidence. With `budgetMs`, a visit to a host where
 * command after command hangs ends within it: each command gets its own limit or what is left of the budget after
 * the wait for a kill, whichever is less, and once too little is left, commands are not run and are kept as not run.
 *
 * @example const { session, unanswered, notRun } = recordUnanswered(raw, 120_000);
 */
export function recordUnanswered(inner: SshSession, budgetMs?: number): RecordingSession {
  const unanswered: UnansweredRun[] = [];
  const notRun: NotRunCommand[] = [];
  const endsAt = budgetMs === undefined ? undefined : Date.now() + budgetMs;
  const session: SshSession = {
    async run(argv, options) {
      const left = endsAt === undefined ? Number.POSITIVE_INFINITY : endsAt - Date.now() - COMMAND_KILL_WAIT_MS;
      if (left < MIN_COMMAND_TIME_MS) {
        const skipped: NotRunCommand = {
          argv: [...argv],
          exitCode: -1,
          output: `not run: ${BUDGET_SPENT}`,
          notRun: BUDGET_SPENT,
        };
        notRun.push(skipped);
        return skipped;
      }
      const cutShort = left < (options?.timeoutMs ?? Number.POSITIVE_INFINITY);
      const run = await inner.run(argv, cutShort ? { ...options, timeoutMs: Math.floor(left) } : options);
      if (!isUnanswered(run)) return run;
      const hung: UnansweredRun = cutShort ? { ...run, cutShortByBudget: true } : run;
      unanswered.push(hung);
      return hung;
    },
  };
  return { session, unanswered, notRun };
}
