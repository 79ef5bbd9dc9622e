import {
  isGrpcServiceError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowExecutionInfo,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { mailOutageIncident } from '../workflows';
import {
  alertSignal,
  alertsSignal,
  approveUpdate,
  closeUpdate,
  confirmUpdate,
  incidentWorkflowId,
  noteSignal,
  PHASES,
  rejectUpdate,
  setEtaUpdate,
  stateQuery,
  TASK_QUEUE,
  WORKFLOW_TYPE,
  type AlertBatch,
  type AlertPayload,
  type ApproveSignal,
  type CloseSignal,
  type ConfirmSignal,
  type DecisionReceipt,
  type IncidentInput,
  type IncidentState,
  type NoteSignal,
  type Phase,
  type RejectSignal,
  type SetEtaSignal,
} from '../workflows/messages';
import type { IncidentSearchAttribute } from '../workflows/search-attributes';

/** A command was refused before reaching Temporal because one of its fields is wrong. */
export class IncidentCommandError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field} ${problem}`);
    this.name = 'IncidentCommandError';
  }
}

/** No incident workflow exists for the server; signals also need it to be still open. */
export class IncidentNotFoundError extends Error {
  constructor(
    readonly serverId: string,
    readonly needsOpen: boolean,
    options?: ErrorOptions,
  ) {
    super(
      `no ${needsOpen ? 'open ' : ''}incident for server ${serverId} (workflow ${incidentWorkflowId(serverId)})`,
      options,
    );
    this.name = 'IncidentNotFoundError';
  }
}

/** The incident refused a decision, and said why: not an approver, nothing pending, an ETA in the past, ... */
export class IncidentDecisionRefusedError extends Error {
  constructor(
    readonly serverId: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`the incident on ${serverId} refused: ${reason}`, options);
    this.name = 'IncidentDecisionRefusedError';
  }
}

export interface RaiseAlertOptions {
  /** Tests run their own worker on their own queue; production always uses the default. */
  taskQueue?: string;
}

export interface RaisedAlert {
  workflowId: string;
  /** The run that received the alert; absent when a resolved alert found no open incident. */
  runId?: string;
  delivered: 'opened-or-joined' | 'joined' | 'no-open-incident';
}

/**
 * Delivers an alert to the server's incident. A firing alert opens the incident when none is running; a resolved one
 * only joins an open incident, so a late "resolved" never opens a new one.
 *
 * @example
 * await raiseAlert(client, incidentInputFor(config, 'mx1'), {
 *   source: 'cli', status: 'firing', alertName: 'SmtpDown', labels: { server: 'mx1' }, receivedAt: new Date().toISOString(),
 * });
 */
export async function raiseAlert(
  client: Client,
  input: IncidentInput,
  alert: AlertPayload,
  options: RaiseAlertOptions = {},
): Promise<RaisedAlert> {
  requireText('serverId', input.serverId);
  requireText('alert.alertName', alert.alertName);
  const workflowId = incidentWorkflowId(input.serverId);
  if (alert.status === 'resolved') {
    const handle = client.workflow.getHandle(workflowId);
    try {
      await handle.signal(alertSignal, alert);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return { workflowId, delivered: 'no-open-incident' };
      throw error;
    }
    return { workflowId, delivered: 'joined' };
  }
  const handle = await client.workflow.signalWithStart<typeof mailOutageIncident, [AlertPayload]>(WORKFLOW_TYPE, {
    workflowId,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    args: [input],
    signal: alertSignal,
    signalArgs: [alert],
  });
  return { workflowId, runId: handle.signaledRunId, delivered: 'opened-or-joined' };
}

/**
 * Delivers alerts for one server, in order, as one signal: firing ones open the incident when none is running, and a
 * batch of only resolved alerts only joins an open incident.
 *
 * @example await raiseAlerts(client, incidentInputFor(config, 'mx1'), [firing, resolved]);
 */
export async function raiseAlerts(
  client: Client,
  input: IncidentInput,
  alerts: AlertPayload[],
  options: RaiseAlertOptions = {},
): Promise<RaisedAlert> {
  requireText('serverId', input.serverId);
  if (alerts.length === 0) throw new IncidentCommandError('alerts', 'must not be empty');
  for (const alert of alerts) requireText('alert.alertName', alert.alertName);
  const workflowId = incidentWorkflowId(input.serverId);
  const batch: AlertBatch = { alerts };
  if (alerts.every((alert) => alert.status === 'resolved')) {
    try {
      await client.workflow.getHandle(workflowId).signal(alertsSignal, batch);
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return { workflowId, delivered: 'no-open-incident' };
      throw error;
    }
    return { workflowId, delivered: 'joined' };
  }
  const handle = await client.workflow.signalWithStart<typeof mailOutageIncident, [AlertBatch]>(WORKFLOW_TYPE, {
    workflowId,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    args: [input],
    signal: alertsSignal,
    signalArgs: [batch],
  });
  return { workflowId, runId: handle.signaledRunId, delivered: 'opened-or-joined' };
}

/**
 * Reads the state of a server's incident: through the `state` query while it runs, from its result once it has ended.
 * A query of an ended incident is answered by replaying it on a worker of the version it ran on, which a deploy may
 * since have stopped; its result is the same final state and needs no worker.
 *
 * @example const state = await getIncidentState(client, 'mx1'); console.log(state.phase);
 */
export async function getIncidentState(client: Client, serverId: string): Promise<IncidentState> {
  requireText('serverId', serverId);
  return withIncident(serverId, false, async () => {
    const handle = client.workflow.getHandle<typeof mailOutageIncident>(incidentWorkflowId(serverId));
    const { status } = await handle.describe();
    return status.name === 'COMPLETED' ? handle.result() : handle.query(stateQuery);
  });
}

/**
 * Approves the remediation the incident is waiting for, and resolves once the incident has taken the approval. The
 * incident refuses it ({@link IncidentDecisionRefusedError}) when `by` is not an approver or nothing is pending.
 *
 * `actionId` picks another offered hypothesis's action instead of the recommended one.
 *
 * @example const receipt = await approve(client, 'mx1', { by: 'alice', comment: 'restart is fine now' });
 */
export async function approve(client: Client, serverId: string, approval: ApproveSignal): Promise<DecisionReceipt> {
  const payload: ApproveSignal = { by: requireText('by', approval.by) };
  if (approval.comment !== undefined && approval.comment.trim() !== '') payload.comment = approval.comment.trim();
  if (approval.actionId !== undefined) payload.actionId = requireText('actionId', approval.actionId);
  return decide(client, serverId, () =>
    client.workflow.getHandle(incidentWorkflowId(serverId)).executeUpdate(approveUpdate, { args: [payload] }),
  );
}

/**
 * Rejects the proposed remediation; the reason lands on the incident timeline.
 *
 * @example await reject(client, 'mx1', { by: 'alice', reason: 'not during the board meeting' });
 */
export async function reject(client: Client, serverId: string, rejection: RejectSignal): Promise<DecisionReceipt> {
  const payload: RejectSignal = {
    by: requireText('by', rejection.by),
    reason: requireText('reason', rejection.reason),
  };
  return decide(client, serverId, () =>
    client.workflow.getHandle(incidentWorkflowId(serverId)).executeUpdate(rejectUpdate, { args: [payload] }),
  );
}

/**
 * Confirms, as a user, that mail works again.
 *
 * @example await confirm(client, 'mx1', { by: 'bob' });
 */
export async function confirm(client: Client, serverId: string, confirmation: ConfirmSignal): Promise<DecisionReceipt> {
  const payload: ConfirmSignal = { by: requireText('by', confirmation.by) };
  return decide(client, serverId, () =>
    client.workflow.getHandle(incidentWorkflowId(serverId)).executeUpdate(confirmUpdate, { args: [payload] }),
  );
}

/**
 * Ends the procedure by hand, for an incident people have dealt with outside mailmend or one left open by a drill; the
 * incident still writes its post-incident review. Only approvers may close, and the reason lands on the timeline.
 *
 * @example await close(client, 'mx1', { by: 'alice', reason: 'fixed by hand: postfix restarted from the console' });
 */
export async function close(client: Client, serverId: string, closing: CloseSignal): Promise<DecisionReceipt> {
  const payload: CloseSignal = { by: requireText('by', closing.by), reason: requireText('reason', closing.reason) };
  return decide(client, serverId, () =>
    client.workflow.getHandle(incidentWorkflowId(serverId)).executeUpdate(closeUpdate, { args: [payload] }),
  );
}

/**
 * Adds a free-text note to the incident timeline.
 *
 * @example await addNote(client, 'mx1', { by: 'alice', text: 'vendor ticket #4711 opened' });
 */
export async function addNote(client: Client, serverId: string, note: NoteSignal): Promise<void> {
  const payload: NoteSignal = { by: requireText('by', note.by), text: requireText('text', note.text) };
  await signalIncident(client, serverId, () =>
    client.workflow.getHandle(incidentWorkflowId(serverId)).signal(noteSignal, payload),
  );
}

/**
 * Sets the estimated repair time that update notifications announce. `eta` is an ISO-8601 timestamp in the future;
 * only approvers may set it.
 *
 * @example await setEta(client, 'mx1', { by: 'alice', eta: '2025-03-01T14:30:00Z' });
 */
export async function setEta(client: Client, serverId: string, estimate: SetEtaSignal): Promise<DecisionReceipt> {
  const payload: SetEtaSignal = { by: requireText('by', estimate.by), eta: requireIsoTimestamp('eta', estimate.eta) };
  return decide(client, serverId, () =>
    client.workflow.getHandle(incidentWorkflowId(serverId)).executeUpdate(setEtaUpdate, { args: [payload] }),
  );
}

export interface IncidentSummary {
  workflowId: string;
  runId: string;
  serverId: string;
  status: WorkflowExecutionStatusName;
  startTime: Date;
  closeTime?: Date;
  /** From the `IncidentPhase` search attribute, or the `phase` memo of incidents that predate it. */
  phase?: string;
  severity?: string;
  /** The action waiting for approval, e.g. `start-postfix`; absent when nothing waits. */
  pendingAction?: string;
}

export interface ListIncidentsOptions {
  /** Only incidents still running. */
  openOnly?: boolean;
  /** Only incidents in this phase, as their `IncidentPhase` search attribute says. */
  phase?: Phase;
  /** At most this many, newest first. Default 100. */
  limit?: number;
}

/** The Temporal server does not know a search attribute the list filters on, so it cannot answer the query. */
export class SearchAttributeMissingError extends Error {
  constructor(
    readonly attribute: IncidentSearchAttribute,
    options?: ErrorOptions,
  ) {
    super(
      `Temporal cannot filter on ${attribute}: register the search attribute first, ` +
        `e.g. temporal operator search-attribute create --name ${attribute} --type Keyword`,
      options,
    );
    this.name = 'SearchAttributeMissingError';
  }
}

const searchAttributeKeys = {
  MailServerId: defineSearchAttributeKey('MailServerId', SearchAttributeType.KEYWORD),
  IncidentPhase: defineSearchAttributeKey('IncidentPhase', SearchAttributeType.KEYWORD),
  IncidentSeverity: defineSearchAttributeKey('IncidentSeverity', SearchAttributeType.KEYWORD),
  PendingAction: defineSearchAttributeKey('PendingAction', SearchAttributeType.KEYWORD),
} satisfies Record<IncidentSearchAttribute, unknown>;

/**
 * Lists incidents from Temporal's visibility store, newest first, with each one's phase, severity and pending action
 * as its search attributes say, so no incident is queried. Visibility is eventually consistent, so an incident opened
 * a moment ago may be missing for a second.
 *
 * @example for (const incident of await listIncidents(client, { phase: 'awaiting-approval' })) console.log(incident.serverId);
 */
export async function listIncidents(client: Client, options: ListIncidentsOptions = {}): Promise<IncidentSummary[]> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1) throw new IncidentCommandError('limit', 'must be a positive integer');
  if (options.phase !== undefined && !(PHASES as readonly string[]).includes(options.phase)) {
    throw new IncidentCommandError('phase', `must be one of ${PHASES.join(', ')}`);
  }
  const query = [
    `WorkflowType = '${WORKFLOW_TYPE}'`,
    ...(options.openOnly ? [`ExecutionStatus = 'Running'`] : []),
    ...(options.phase ? [`IncidentPhase = '${options.phase}'`] : []),
  ].join(' AND ');
  const incidents: IncidentSummary[] = [];
  try {
    for await (const execution of client.workflow.list({ query, pageSize: Math.min(limit, 1000) })) {
      incidents.push(summaryOf(execution));
      if (incidents.length >= limit) break;
    }
  } catch (error) {
    if (options.phase && isInvalidArgument(error))
      throw new SearchAttributeMissingError('IncidentPhase', { cause: error });
    throw error;
  }
  return incidents;
}

function summaryOf(execution: WorkflowExecutionInfo): IncidentSummary {
  const attributes = execution.typedSearchAttributes;
  const phase = attributes.get(searchAttributeKeys.IncidentPhase) ?? phaseMemo(execution.memo);
  const severity = attributes.get(searchAttributeKeys.IncidentSeverity);
  const pendingAction = attributes.get(searchAttributeKeys.PendingAction);

  return {
    workflowId: execution.workflowId,
    runId: execution.runId,
    serverId: attributes.get(searchAttributeKeys.MailServerId) ?? serverIdOf(execution.workflowId),
    status: execution.status.name,
    startTime: execution.startTime,
    ...(execution.closeTime ? { closeTime: execution.closeTime } : {}),
    ...(phase ? { phase } : {}),
    ...(severity ? { severity } : {}),
    ...(pendingAction ? { pendingAction } : {}),
  };
}

/** gRPC INVALID_ARGUMENT, which a visibility query gets for an attribute the server does not know. */
function isInvalidArgument(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (isGrpcServiceError(current) && current.code === 3) return true;
  }
  return false;
}

/** Incidents started before the search attributes existed kept their phase in a memo. */
function phaseMemo(memo: Record<string, unknown> | undefined): string | undefined {
  const phase = memo?.phase;
  return typeof phase === 'string' ? phase : undefined;
}

const workflowIdPrefix = incidentWorkflowId('');

function serverIdOf(workflowId: string): string {
  return workflowIdPrefix && workflowId.startsWith(workflowIdPrefix)
    ? workflowId.slice(workflowIdPrefix.length)
    : workflowId;
}

async function signalIncident(client: Client, serverId: string, send: () => Promise<void>): Promise<void> {
  requireText('serverId', serverId);
  await withIncident(serverId, true, send);
}

/** An Update refused by its validator carries the incident's reason as its cause's message. */
async function decide(
  client: Client,
  serverId: string,
  send: () => Promise<DecisionReceipt>,
): Promise<DecisionReceipt> {
  requireText('serverId', serverId);
  try {
    return await withIncident(serverId, true, send);
  } catch (error) {
    if (!(error instanceof WorkflowUpdateFailedError)) throw error;
    const reason = error.cause instanceof Error ? error.cause.message : error.message;
    throw new IncidentDecisionRefusedError(serverId, reason, { cause: error });
  }
}

async function withIncident<T>(serverId: string, needsOpen: boolean, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new IncidentNotFoundError(serverId, needsOpen, { cause: error });
    throw error;
  }
}

function requireText(field: string, value: string | undefined): string {
  if (typeof value !== 'string' || value.trim() === '') throw new IncidentCommandError(field, 'must not be empty');
  return value.trim();
}

const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function requireIsoTimestamp(field: string, value: string | undefined): string {
  const text = requireText(field, value);
  const parsed = new Date(text);
  if (!isoTimestamp.test(text) || Number.isNaN(parsed.getTime())) {
    throw new IncidentCommandError(field, 'must be an ISO-8601 timestamp with a time zone, e.g. 2025-03-01T14:30:00Z');
  }
  return parsed.toISOString();
}
