import { asyncLocalStorage } from '@temporalio/activity';
import type { CheckResult } from '../workflows/messages';
import { inSeconds } from './host-command-timeouts';

/** What a probe gave by the deadline: its result, or nothing yet. */
export type ProbeAnswer<T> = { answered: true; value: T } | { answered: false };

/** One deadline shared by every probe of an assessment, so the report goes out on time with what has answered. */
export interface ProbeDeadline {
  /** How long the probes were given, in ms. */
  readonly ms: number;
  /** Why a probe has no result: `no answer within N s`. */
  readonly noAnswer: string;
  /** Settles when the probe does, or at the deadline, whichever comes first; the probe itself goes on unobserved. */
  within<T>(probe: Promise<T>): Promise<ProbeAnswer<T>>;
  /** How long is left before the deadline, in ms; 0 once it has passed. */
  remainingMs(): number;
  /** What a required check that did not answer reports: true of the port, as far as anyone could see. */
  noAnswerCheck(): CheckResult;
  /** Stops the timer once the report is assembled. */
  clear(): void;
}

/** Kept back from the activity's Temporal timeouts for the report's way back to the server and the clocks' disagreement. */
const TIMEOUT_MARGIN_MS = 1_000;

/**
 * How long this attempt has before it must report: `deadlineMs` from now, but never past the activity's own Temporal
 * timeouts. Schedule-to-close counts from when the activity was first scheduled, not from when this attempt started,
 * so a worker that picked it up late, or a retry, has less. Outside an activity (a test, a CLI) only `deadlineMs`
 * counts.
 *
 * @example const deadline = startProbeDeadline(reportWithinMs(input.deadlineMs));
 */
export function reportWithinMs(deadlineMs: number, now = Date.now()): number {
  const info = asyncLocalStorage.getStore()?.info;
  const limits = [deadlineMs];
  if (info && info.scheduleToCloseTimeoutMs > 0) {
    limits.push(info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs - TIMEOUT_MARGIN_MS - now);
  }
  if (info && info.startToCloseTimeoutMs > 0) limits.push(info.startToCloseTimeoutMs - TIMEOUT_MARGIN_MS);
  return Math.max(0, Math.min(...limits));
}

/**
 * Starts the clock for `ms`.
 *
 * @example const deadline = startProbeDeadline(24_500); const smtp = await deadline.within(probeSmtp(...));
 */
export function startProbeDeadline(ms: number): ProbeDeadline {
  const endsAt = Date.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<{ answered: false }>((resolve) => {
    timer = setTimeout(() => resolve({ answered: false }), ms);
  });
  const noAnswer = `no answer within ${inSeconds(ms)}`;
  return {
    ms,
    noAnswer,
    within: <T>(probe: Promise<T>) =>
      Promise.race([probe.then((value): ProbeAnswer<T> => ({ answered: true, value })), expired]),
    remainingMs: () => Math.max(0, endsAt - Date.now()),
    noAnswerCheck: () => ({ ok: false, latencyMs: ms, detail: noAnswer, errorCode: 'ETIMEDOUT' }),
    clear: () => clearTimeout(timer),
  };
}
