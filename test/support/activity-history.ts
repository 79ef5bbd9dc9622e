import type { ProtoFailure, WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * One scheduled activity as the run's history tells it. A retried activity keeps only its last attempt: the history
 * has one started event, with that attempt's number and worker and the failure that ended the attempt before it.
 */
export interface ActivityRun {
  scheduledEventId: number;
  scheduledAt: number;
  started?: {
    attempt: number;
    identity: string;
    at: number;
    /** The previous attempt's failure, e.g. `timeout HEARTBEAT: activity Heartbeat timeout`. */
    previousAttemptFailure?: string;
  };
  closed?: { kind: 'completed' | 'failed' | 'timed-out' | 'canceled'; at: number; failure?: string };
  /** The completed activity's result, decoded from JSON. */
  result?: unknown;
}

function eventTimeMs(event: HistoryEvent): number {
  const { seconds, nanos } = event.eventTime ?? {};
  return Number(seconds ?? 0) * 1000 + Math.floor((nanos ?? 0) / 1e6);
}

/** The failure and its causes, outermost first: the application type, or the timeout type, then the message. */
export function describeFailure(failure: ProtoFailure | null | undefined): string | undefined {
  const links: string[] = [];
  for (let link = failure; link; link = link.cause) {
    const timeoutType = link.timeoutFailureInfo?.timeoutType;
    const kind = link.applicationFailureInfo?.type ?? (timeoutType ? `timeout ${TIMEOUT_TYPES[timeoutType]}` : '');
    links.push(kind ? `${kind}: ${link.message}` : (link.message ?? ''));
  }
  return links.length > 0 ? links.join(' <- ') : undefined;
}

const TIMEOUT_TYPES: Record<number, string> = {
  1: 'START_TO_CLOSE',
  2: 'SCHEDULE_TO_START',
  3: 'SCHEDULE_TO_CLOSE',
  4: 'HEARTBEAT',
};

function decodedResult(payloads: temporal.api.common.v1.IPayloads | null | undefined): unknown {
  const data = payloads?.payloads?.[0]?.data;
  return data ? JSON.parse(Buffer.from(data).toString('utf8')) : undefined;
}

/** Every run of activity `activityType` in the workflow's history, in the order they were scheduled. */
export async function activityRuns(handle: WorkflowHandle, activityType: string): Promise<ActivityRun[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const runs = new Map<number, ActivityRun>();
  for (const event of events) {
    const eventId = Number(event.eventId);
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name === activityType) {
      runs.set(eventId, { scheduledEventId: eventId, scheduledAt: eventTimeMs(event) });
      continue;
    }
    const started = event.activityTaskStartedEventAttributes;
    const run = runs.get(
      Number(
        started?.scheduledEventId ??
          event.activityTaskCompletedEventAttributes?.scheduledEventId ??
          event.activityTaskFailedEventAttributes?.scheduledEventId ??
          event.activityTaskTimedOutEventAttributes?.scheduledEventId ??
          event.activityTaskCanceledEventAttributes?.scheduledEventId ??
          -1,
      ),
    );
    if (!run) continue;
    const at = eventTimeMs(event);
    if (started) {
      const previousAttemptFailure = describeFailure(started.lastFailure);
      run.started = {
        attempt: started.attempt ?? 1,
        identity: started.identity ?? '',
        at,
        ...(previousAttemptFailure ? { previousAttemptFailure } : {}),
      };
    } else if (event.activityTaskCompletedEventAttributes) {
      run.closed = { kind: 'completed', at };
      run.result = decodedResult(event.activityTaskCompletedEventAttributes.result);
    } else if (event.activityTaskFailedEventAttributes) {
      run.closed = { kind: 'failed', at, failure: describeFailure(event.activityTaskFailedEventAttributes.failure) };
    } else if (event.activityTaskTimedOutEventAttributes) {
      run.closed = {
        kind: 'timed-out',
        at,
        failure: describeFailure(event.activityTaskTimedOutEventAttributes.failure),
      };
    } else if (event.activityTaskCanceledEventAttributes) {
      run.closed = { kind: 'canceled', at };
    }
  }
  return [...runs.values()];
}
