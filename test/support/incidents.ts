import {
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithSignaledRunId,
} from '@temporalio/client';
import type { mailOutageIncident } from '../../workflows';
import {
  alertSignal,
  incidentWorkflowId,
  stateQuery,
  type AlertPayload,
  type IncidentInput,
  type IncidentPolicies,
  type IncidentState,
} from '../../workflows/messages';

const APPROVERS = ['alice', 'bob'];

export function testInput(serverId: string, policies: Partial<IncidentPolicies> = {}): IncidentInput {
  return {
    serverId,
    approvers: APPROVERS,
    audiences: { itTeam: ['ops-mail', 'ops-chat'], management: ['mgmt-mail'], users: ['users-mail'] },
    policies: {
      updateIntervalMs: 60_000,
      approvalTimeoutMs: 60_000,
      confirmationTimeoutMs: 60_000,
      confirmationsRequired: 2,
      responseTimeTargetMs: 3_600_000,
      maxVerificationAttempts: 2,
      maxRejections: 2,
      ...policies,
    },
  };
}

export function testAlert(overrides: Partial<AlertPayload> = {}): AlertPayload {
  return {
    source: 'alertmanager',
    status: 'firing',
    alertName: 'MailServerDown',
    summary: 'SMTP probe failing',
    labels: { alertname: 'MailServerDown' },
    startsAt: new Date(Date.now() - 60_000).toISOString(),
    receivedAt: new Date().toISOString(),
    ...overrides,
  };
}

export async function raiseTestIncident(
  client: Client,
  taskQueue: string,
  input: IncidentInput,
  alert: AlertPayload = testAlert(),
): Promise<WorkflowHandleWithSignaledRunId<typeof mailOutageIncident>> {
  return client.workflow.signalWithStart<typeof mailOutageIncident, [AlertPayload]>('mailOutageIncident', {
    workflowId: incidentWorkflowId(input.serverId),
    taskQueue,
    args: [input],
    signal: alertSignal,
    signalArgs: [alert],
  });
}

/** Polls the `state` query until the predicate holds; the failure message shows the last state seen. */
export async function waitForState(
  handle: WorkflowHandle,
  predicate: (state: IncidentState) => boolean,
  timeoutMs = 30_000,
): Promise<IncidentState> {
  const deadline = Date.now() + timeoutMs;
  let last: IncidentState | undefined;
  while (Date.now() < deadline) {
    try {
      last = await handle.query(stateQuery);
      if (predicate(last)) return last;
    } catch (error) {
      if (Date.now() + 200 >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `state did not reach the expected condition in ${timeoutMs} ms; last phase ${last?.phase}, timeline:\n${last?.timeline
      .map((entry) => `  ${entry.phase} ${entry.actor}: ${entry.event} -> ${entry.outcome}`)
      .join('\n')}`,
  );
}

export function phasesVisited(state: IncidentState): string[] {
  return state.timeline.filter((entry) => entry.event.startsWith('entered ')).map((entry) => entry.phase);
}

/** The reason an Update's validator gave for refusing it; fails when the Update was accepted. */
export async function refusalOf(update: Promise<unknown>): Promise<string> {
  try {
    await update;
  } catch (error) {
    if (!(error instanceof WorkflowUpdateFailedError)) throw error;
    return error.cause instanceof Error ? error.cause.message : String(error.cause);
  }
  throw new Error('the Update was accepted, not refused');
}
