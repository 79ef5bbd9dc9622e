import { isGrpcServiceError, ServiceError, type Client } from '@temporalio/client';
import { getIncidentState } from '../client/incidents';
import { isTemporalUnavailable } from '../platform/temporal/connection';
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

// FAILED_PRECONDITION joins DEADLINE_EXCEEDED and UNAVAILABLE: the server's answer while no poller serves the queue.
const NO_WORKER_CODES = new Set<number>([9]);

/**
 * True when a query failed because nothing answered for the workflow: the worker is restarting or Temporal is, not
 * because the incident is unknown (that is `IncidentNotFoundError`) or refused the query.
 */
export function isWorkerGone(error: unknown): boolean {
  if (isTemporalUnavailable(error)) return true;
  const seen = new Set<unknown>();
  for (let current = error; current instanceof Error && !seen.has(current); current = current.cause) {
    seen.add(current);
    if (current instanceof ServiceError && current.message.startsWith('Failed to query Workflow')) return true;
    if (isGrpcServiceError(current) && NO_WORKER_CODES.has(current.code)) return true;
    if (/no poller/i.test(current.message)) return true;
  }
  return false;
}

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
