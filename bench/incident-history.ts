import type { Client } from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import { incidentWorkflowId } from '../workflows/messages';

/** An incident's history across its runs: a run that continued as new names the next one. */
export interface IncidentHistory {
  /** Events per run, first run first. */
  eventsPerRun: number[];
  totalEvents: number;
}

/**
 * Follows the incident from its first run through every continue-as-new, counting each run's history events.
 *
 * @example const { totalEvents, eventsPerRun } = await incidentHistory(client, 'mx1');
 */
export async function incidentHistory(client: Client, serverId: string): Promise<IncidentHistory> {
  const workflowId = incidentWorkflowId(serverId);
  const description = await client.workflow.getHandle(workflowId).describe();
  let runId: string | undefined = description.raw.workflowExecutionInfo?.firstRunId || description.runId;
  const eventsPerRun: number[] = [];
  while (runId) {
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events = history.events ?? [];
    eventsPerRun.push(events.length);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return { eventsPerRun, totalEvents: eventsPerRun.reduce((sum, events) => sum + events, 0) };
}
