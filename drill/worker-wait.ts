import type { Client } from '@temporalio/client';
import { getIncidentState } from '../client/incidents';
import { isWorkerGone } from '../client/worker-gone';
import type { IncidentState } from '../workflows/messages';

/** How long, and how often, the drill asks again while no worker answers the incident's queries. */
export interface WorkerWait {
  /** Give up after this long without an answer. */
  budgetMs: number;
  /** Each query's own deadline, so one that hangs on a missing worker is asked again. */
  queryTimeoutMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

const DEFAULT_WORKER_WAIT: WorkerWait = {
  budgetMs: 120_000,
  queryTimeoutMs: 10_000,
  firstDelayMs: 500,
  maxDelayMs: 5_000,
};

/**
 * Reads the incident's state, asking again with backoff while no worker answers (a restart of `npm start` takes a few
 * seconds), and says so once. Gives up after `budgetMs` with the last error; any other error is thrown at once.
 *
 * @example const state = await readStateThroughWorkerRestarts(client, 'lab', console.log);
 */
export async function readStateThroughWorkerRestarts(
  client: Client,
  serverId: string,
  out: (line: string) => void,
  wait: Partial<WorkerWait> = {},
): Promise<IncidentState> {
  const { budgetMs, queryTimeoutMs, firstDelayMs, maxDelayMs } = { ...DEFAULT_WORKER_WAIT, ...wait };
  const startedAt = Date.now();
  let delayMs = firstDelayMs;
  let waiting = false;
  for (;;) {
    try {
      const state = await client.connection.withDeadline(Date.now() + queryTimeoutMs, () =>
        getIncidentState(client, serverId),
      );
      if (waiting) out(`the worker answers again after ${((Date.now() - startedAt) / 1000).toFixed(0)}s`);
      return state;
    } catch (error) {
      if (!isWorkerGone(error) || Date.now() - startedAt + delayMs > budgetMs) throw error;
      if (!waiting) out(`waiting for the worker… (the incident does not answer; up to ${budgetMs / 1000}s)`);
      waiting = true;
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, maxDelayMs);
  }
}
