import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { isTemporalUnavailable } from '../platform/temporal/connection';

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
