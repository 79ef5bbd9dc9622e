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
  /** What a required check that did not answer reports: true of the port, as far as anyone could see. */
  noAnswerCheck(): CheckResult;
  /** Stops the timer once the report is assembled. */
  clear(): void;
}

/**
 * Starts the clock for `ms`.
 *
 * @example const deadline = startProbeDeadline(24_500); const smtp = await deadline.within(probeSmtp(...));
 */
export function startProbeDeadline(ms: number): ProbeDeadline {
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
    noAnswerCheck: () => ({ ok: false, latencyMs: ms, detail: noAnswer, errorCode: 'ETIMEDOUT' }),
    clear: () => clearTimeout(timer),
  };
}
