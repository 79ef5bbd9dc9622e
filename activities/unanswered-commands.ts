import path from 'node:path';
import { inSeconds } from './host-command-timeouts';
import type { CommandRun } from './host-evidence-types';
import type { SshSession } from './ssh';

// A command that hangs on the mail host is evidence, never a stall: it is killed at its timeout, and the visit keeps
// it here so the diagnosis can quote it.

export type UnansweredRun = CommandRun & { timedOutAfterMs: number };

/** Programs that wait for the running daemon to answer them, so their hang speaks about that daemon. */
const DAEMON_CLIENTS: Readonly<Record<string, 'postfix' | 'dovecot'>> = { postqueue: 'postfix', doveadm: 'dovecot' };

/** The shortest time a command still gets once the visit's budget is spent: enough for a host that answers at all. */
const MIN_TIMEOUT_PAST_BUDGET_MS = 1_000;

export function isUnanswered(run: CommandRun): run is UnansweredRun {
  return run.timedOutAfterMs !== undefined;
}

/**
 * How a command that hung is quoted, everywhere: the argv as run and the time it was given.
 *
 * @example describeUnanswered(run) // => '`postqueue -c /etc/postfix -j` did not answer within 10 s'
 */
export function describeUnanswered(run: UnansweredRun): string {
  return `\`${run.argv.join(' ')}\` did not answer within ${inSeconds(run.timedOutAfterMs)}`;
}

/** The daemon whose answer the command waited for, if it is one of the daemons' own clients. */
export function daemonAskedBy(run: CommandRun): 'postfix' | 'dovecot' | undefined {
  return DAEMON_CLIENTS[path.posix.basename(run.argv[0] ?? '')];
}

export interface RecordingSession {
  session: SshSession;
  /** Every command that outlived its timeout, in the order they ran. */
  unanswered: UnansweredRun[];
}

/**
 * Wraps a session so that every command that times out is kept as evidence. With `budgetMs`, a visit to a host where
 * command after command hangs still ends: once the budget is spent, each command gets what is left of it, and at
 * least a second.
 *
 * @example const { session, unanswered } = recordUnanswered(raw, 120_000);
 */
export function recordUnanswered(inner: SshSession, budgetMs?: number): RecordingSession {
  const unanswered: UnansweredRun[] = [];
  const endsAt = budgetMs === undefined ? undefined : Date.now() + budgetMs;
  const session: SshSession = {
    async run(argv, options) {
      const left = endsAt === undefined ? undefined : Math.max(endsAt - Date.now(), MIN_TIMEOUT_PAST_BUDGET_MS);
      const timeoutMs =
        left === undefined ? options?.timeoutMs : Math.min(options?.timeoutMs ?? Number.POSITIVE_INFINITY, left);
      const run = await inner.run(argv, { ...options, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
      if (isUnanswered(run)) unanswered.push(run);
      return run;
    },
  };
  return { session, unanswered };
}
