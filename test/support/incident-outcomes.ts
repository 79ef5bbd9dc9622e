import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type ProtoFailure,
  type WorkflowExecutionStatusName,
  type WorkflowHandle,
} from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { closeUpdate, WORKFLOW_TYPE, type CloseSignal } from '../../workflows/messages';

/** The incidents a test run started: every run on its task queues, and every run of its workflow ids. */
export interface RunIncidents {
  taskQueues?: readonly string[];
  workflowIds?: readonly string[];
}

/** How one run of an incident workflow ended, as `describe()` reports it. */
export interface IncidentEnd {
  workflowId: string;
  runId: string;
  status: WorkflowExecutionStatusName;
  /** For a bad end: the failure chain or termination reason from the close event, or why a running one did not end. */
  failure?: string;
}

export interface ClosingOptions {
  /** Who closes an incident still open at the end; the close Update refuses anyone who is not an approver. */
  by?: string;
  /** How long a close may take, from the Update to the workflow's end. */
  timeoutMs?: number;
}

/** The name of each e2e file's last test. */
export const NO_BAD_INCIDENT_ENDS = 'no incident ended Failed or Terminated';

// An incident may end only closed, false-alarm or escalated, all of which complete the workflow.
const BAD_STATUSES: readonly WorkflowExecutionStatusName[] = ['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'];
const CLOSE_REASON = 'the test run ended with the incident still open';
const DEFAULT_CLOSING: Required<ClosingOptions> = { by: 'alice', timeoutMs: 60_000 };

/**
 * Closes every incident of the run that is still open, as an approver would with `incidents close`, then fails
 * naming each run that ended Failed, Terminated, TimedOut or Canceled, or that the close did not end; it also fails
 * when it finds no run at all. Call it while the run's workers still poll: the workflow carries out a close. Returns
 * every run found.
 *
 * @example await expectNoIncidentEndedBadly(client, { taskQueues: [taskQueue] });
 */
export async function expectNoIncidentEndedBadly(
  client: Client,
  incidents: RunIncidents,
  closing: ClosingOptions = {},
): Promise<IncidentEnd[]> {
  const notEnded = await closeOpenIncidents(client, incidents, closing);
  const ends = (await incidentEnds(client, incidents)).map((end) =>
    end.status === 'RUNNING' ? { ...end, failure: notEnded.get(end.workflowId) ?? 'still running' } : end,
  );
  // A scope that finds nothing checked nothing: it names the wrong task queues or workflow ids.
  if (ends.length === 0) throw new Error(`no incident runs found for ${JSON.stringify(incidents)}`);
  const bad = ends.filter((end) => end.status === 'RUNNING' || BAD_STATUSES.includes(end.status));
  if (bad.length > 0) {
    const lines = bad.map((end) => `  ${end.workflowId} (run ${end.runId}): ${end.status}: ${end.failure}`);
    throw new Error(`${bad.length} of ${ends.length} incident runs ended badly:\n${lines.join('\n')}`);
  }
  return ends;
}

/**
 * Registers the file's last test: every incident of the run ended closed, false-alarm or escalated. Declare it after
 * the file's other tests; `scope` is read when it runs, before `afterAll` stops the workers.
 */
export function testNoIncidentEndedBadly(
  scope: () => { client: Client; incidents: RunIncidents },
  closing: ClosingOptions = {},
): void {
  test(
    NO_BAD_INCIDENT_ENDS,
    async () => {
      const { client, incidents } = scope();
      await expectNoIncidentEndedBadly(client, incidents, closing);
    },
    (closing.timeoutMs ?? DEFAULT_CLOSING.timeoutMs) + 30_000,
  );
}

/**
 * Sends the close Update to every open incident of the run and waits for each to end. Returns, by workflow id, why
 * an incident did not end in time (a refusal, a workflow task that keeps failing, no worker polling).
 */
export async function closeOpenIncidents(
  client: Client,
  incidents: RunIncidents,
  closing: ClosingOptions = {},
): Promise<Map<string, string>> {
  const open = (await incidentEnds(client, incidents)).filter((end) => end.status === 'RUNNING');
  const notEnded = new Map<string, string>();
  await Promise.all(
    open.map(async ({ workflowId }) => {
      const problem = await closeAndAwaitEnd(client, workflowId, { ...DEFAULT_CLOSING, ...closing });
      if (problem !== undefined) notEnded.set(workflowId, problem);
    }),
  );
  return notEnded;
}

/** Every run of the run's incidents with its status from `describe()`, which visibility may lag behind. */
export async function incidentEnds(client: Client, incidents: RunIncidents): Promise<IncidentEnd[]> {
  const runs = (await incidentRuns(client, incidents)).sort((a, b) => a.workflowId.localeCompare(b.workflowId));
  return Promise.all(
    runs.map(async ({ workflowId, runId }) => {
      const { status } = await client.workflow.getHandle(workflowId, runId).describe();
      if (!BAD_STATUSES.includes(status.name)) return { workflowId, runId, status: status.name };
      return { workflowId, runId, status: status.name, failure: await closeEventFailure(client, workflowId, runId) };
    }),
  );
}

async function incidentRuns(client: Client, { taskQueues = [], workflowIds = [] }: RunIncidents) {
  const runs = new Map<string, { workflowId: string; runId: string }>();
  const matches = [
    ...taskQueues.map((taskQueue) => `TaskQueue = ${quoted(taskQueue)}`),
    ...workflowIds.map((workflowId) => `WorkflowId = ${quoted(workflowId)}`),
  ];
  if (matches.length === 0) throw new Error('name the task queues or workflow ids of the incidents to check');
  const query = `WorkflowType = ${quoted(WORKFLOW_TYPE)} AND (${matches.join(' OR ')})`;
  for await (const { workflowId, runId } of client.workflow.list({ query })) runs.set(runId, { workflowId, runId });
  // An incident started moments ago may not be listed yet; its latest run is found by id.
  for (const workflowId of workflowIds) {
    try {
      const { runId, type } = await client.workflow.getHandle(workflowId).describe();
      if (type === WORKFLOW_TYPE) runs.set(runId, { workflowId, runId });
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return [...runs.values()];
}

function quoted(value: string): string {
  if (value.includes("'")) throw new Error(`${value} holds a quote, which a visibility query cannot take here`);
  return `'${value}'`;
}

/** Closes as a person would and waits for the end; returns why it did not end, or undefined once it has. */
async function closeAndAwaitEnd(
  client: Client,
  workflowId: string,
  { by, timeoutMs }: Required<ClosingOptions>,
): Promise<string | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  const request: CloseSignal = { by, reason: CLOSE_REASON };
  let refusal: string | undefined;
  try {
    await client.withDeadline(Date.now() + timeoutMs, async () => {
      try {
        await handle.executeUpdate(closeUpdate, { args: [request] });
      } catch (error) {
        // Refused because it is already ending (resolved, escalating): waiting for that end is all a person would do.
        if (!(error instanceof WorkflowUpdateFailedError)) throw error;
        refusal = error.cause?.message ?? error.message;
      }
      await handle.result().catch((error: unknown) => {
        // A run that fails here is reported from its close event, like any other.
        if (!(error instanceof WorkflowFailedError)) throw error;
      });
    });
    return undefined;
  } catch (error) {
    const stuck = await lastWorkflowTaskFailure(client, workflowId);
    const waiting = await whatItWaitsOn(handle);
    return [
      `did not end within ${timeoutMs / 1000} s of the close Update (${describeError(error)})`,
      ...(waiting ? [waiting] : []),
      ...(refusal ? [`the close was refused: ${refusal}`] : []),
      ...(stuck ? [`its last workflow task failed: ${stuck}`] : []),
    ].join('; ');
  }
}

const EVENT_TYPES = temporal.api.enums.v1.EventType;

/** Where a run that does not end stands: its phase, its pending activities and workflow task, its last events. */
async function whatItWaitsOn(handle: WorkflowHandle): Promise<string | undefined> {
  try {
    const { raw } = await handle.describe();
    const activities = (raw.pendingActivities ?? []).map(
      (activity) => `${activity.activityType?.name ?? '?'} (attempt ${activity.attempt ?? 1})`,
    );
    const task = raw.pendingWorkflowTask ? `a workflow task (attempt ${raw.pendingWorkflowTask.attempt ?? 1})` : '';
    const { events } = await handle.fetchHistory();
    const last = (events ?? []).slice(-4).map((event) => EVENT_TYPES[event.eventType ?? 0] ?? String(event.eventType));
    return `pending: ${[...activities, task].filter(Boolean).join(', ') || 'nothing'}; last events: ${last.join(', ')}`;
  } catch {
    return undefined;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The failure and each of its causes, outermost first, with the application failure types. */
function failureChain(failure: ProtoFailure | null | undefined): string {
  const links: string[] = [];
  for (let link = failure; link; link = link.cause) {
    const type = link.applicationFailureInfo?.type;
    links.push(type ? `${type}: ${link.message}` : (link.message ?? 'no message'));
  }
  return links.join(' <- caused by <- ');
}

/** Why a closed run ended badly, from its close event: the failure chain, the termination reason, the timeout. */
async function closeEventFailure(client: Client, workflowId: string, runId: string): Promise<string> {
  const { events } = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const event = events?.at(-1);
  if (event?.workflowExecutionFailedEventAttributes) {
    return failureChain(event.workflowExecutionFailedEventAttributes.failure);
  }
  if (event?.workflowExecutionTerminatedEventAttributes) {
    const { reason, identity } = event.workflowExecutionTerminatedEventAttributes;
    return `terminated by ${identity || 'an unnamed client'}: ${reason || 'no reason given'}`;
  }
  if (event?.workflowExecutionTimedOutEventAttributes) return 'its workflow execution or run timeout passed';
  if (event?.workflowExecutionCanceledEventAttributes) return 'canceled at the request of a client';
  return `its last event (${event?.eventId ?? 'none'}) is not a close event`;
}

/** The latest workflow task failure of a run that does not end, e.g. a non-determinism error. */
async function lastWorkflowTaskFailure(client: Client, workflowId: string): Promise<string | undefined> {
  // Only detail for a failure already being reported: a history that cannot be read adds none.
  const { events } = await client.workflow
    .getHandle(workflowId)
    .fetchHistory()
    .catch(() => ({ events: [] }));
  const failed = [...(events ?? [])].reverse().find((event) => event.workflowTaskFailedEventAttributes);
  return failed ? failureChain(failed.workflowTaskFailedEventAttributes?.failure) : undefined;
}
