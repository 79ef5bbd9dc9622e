import { ApplicationFailure, setHandler, type defineSignal, type defineUpdate } from '@temporalio/workflow';
import { describeAlertNews, foldAlerts } from './alert-records';
import { approvalRefusal, countApproval } from './approvals';
import type { Incident } from './incident-record';
import {
  alertSignal,
  alertsSignal,
  approveSignal,
  approveUpdate,
  closeUpdate,
  confirmSignal,
  confirmUpdate,
  NO_CATALOG_ACTION,
  noteSignal,
  rejectSignal,
  rejectUpdate,
  setEtaSignal,
  setEtaUpdate,
  stateQuery,
  type AlertPayload,
  type ApproveSignal,
  type CloseSignal,
  type ConfirmSignal,
  type DecisionReceipt,
  type Phase,
  type RejectSignal,
  type SetEtaSignal,
} from './messages';
import {
  parseAlert,
  parseAlertBatch,
  parseApprove,
  parseClose,
  parseConfirm,
  parseNote,
  parseReject,
  parseSetEta,
  senderOf,
  type Parsed,
} from './signal-payloads';

/** A decision a person sends, checked alike whether it comes as a signal (the UI) or an Update (the CLI). */
interface DecisionRoute<Payload extends { by: string }> {
  name: string;
  parse(raw: unknown): Parsed<Payload>;
  /** Why the incident cannot take this decision now, or nothing when it can. */
  refusal(payload: Payload): string | undefined;
  apply(payload: Payload): DecisionReceipt;
}

const RESOLVED_PHASES: readonly Phase[] = ['resolution-notice', 'review', 'closed', 'false-alarm', 'escalated'];
const ENDED_PHASES: readonly Phase[] = ['review', 'closed', 'false-alarm', 'escalated'];

/**
 * Registers every query, signal and Update of the incident. Every payload is checked first: a signal a handler cannot
 * use is recorded and ignored, never thrown on, and an Update's validator refuses it with the reason.
 */
export function registerIncidentHandlers(incident: Incident): void {
  setHandler(stateQuery, () => incident.state);
  setHandler(alertSignal, (raw: unknown) => {
    const parsed = parseAlert(raw);
    if (parsed.ok) receiveAlerts(incident, [parsed.value]);
    else incident.record('alert ignored', `bad payload: ${parsed.reason}`, senderOf(raw));
  });
  setHandler(alertsSignal, (raw: unknown) => {
    const parsed = parseAlertBatch(raw);
    if (!parsed.ok) {
      incident.record('alerts ignored', `bad payload: ${parsed.reason}`, senderOf(raw));
      return;
    }
    receiveAlerts(incident, parsed.value.alerts);
    if (parsed.value.problems.length > 0) {
      incident.record('alerts ignored', `bad payload: ${parsed.value.problems.join('; ')}`, senderOf(raw));
    }
  });
  setHandler(noteSignal, (raw: unknown) => {
    const parsed = parseNote(raw);
    if (!parsed.ok) {
      incident.record('note ignored', `bad payload: ${parsed.reason}`, senderOf(raw));
      return;
    }
    incident.acknowledge();
    incident.record('note', parsed.value.text, parsed.value.by);
  });
  registerDecision(incident, approveSignal, approveUpdate, approveRoute(incident));
  registerDecision(incident, rejectSignal, rejectUpdate, rejectRoute(incident));
  registerDecision(incident, confirmSignal, confirmUpdate, confirmRoute(incident));
  registerDecision(incident, setEtaSignal, setEtaUpdate, setEtaRoute(incident));
  registerDecision(incident, undefined, closeUpdate, closeRoute(incident));
}

/** `signal` is undefined for a decision that people may only send as an Update, which tells them the outcome. */
function registerDecision<Payload extends { by: string }>(
  incident: Incident,
  signal: ReturnType<typeof defineSignal<[Payload]>> | undefined,
  update: ReturnType<typeof defineUpdate<DecisionReceipt, [Payload]>>,
  route: DecisionRoute<Payload>,
): void {
  const check = (raw: unknown): { ok: true; payload: Payload } | { ok: false; reason: string } => {
    const parsed = route.parse(raw);
    if (!parsed.ok) return { ok: false, reason: `bad payload: ${parsed.reason}` };
    const refusal = route.refusal(parsed.value);
    return refusal === undefined ? { ok: true, payload: parsed.value } : { ok: false, reason: refusal };
  };
  if (signal) {
    setHandler(signal, (raw: unknown) => {
      const checked = check(raw);
      if (checked.ok) route.apply(checked.payload);
      else incident.record(`${route.name} ignored`, checked.reason, senderOf(raw));
    });
  }
  setHandler(
    update,
    (raw: unknown) => {
      // The validator ran in this same activation, so this only fails if the payload changed under it.
      const checked = check(raw);
      if (!checked.ok) {
        throw ApplicationFailure.create({ type: 'DecisionRefused', message: checked.reason, nonRetryable: true });
      }
      return route.apply(checked.payload);
    },
    {
      validator: (raw: unknown) => {
        const checked = check(raw);
        if (!checked.ok) throw new Error(checked.reason);
      },
    },
  );
}

function receiveAlerts(incident: Incident, alerts: AlertPayload[]): void {
  const now = new Date().toISOString();
  const news = foldAlerts(incident.state, alerts, now);
  const detected = alerts.find((alert) => alert.startsAt !== undefined && !Number.isNaN(Date.parse(alert.startsAt)));
  if (incident.milestones.detectedAt === undefined && detected?.startsAt) {
    incident.milestones.detectedAt = detected.startsAt;
  }
  // A resolved alert is only evidence: the incident closes after verification, never because monitoring calmed down.
  if (news.length > 0) {
    const { event, outcome, actor } = describeAlertNews(news);
    incident.record(event, outcome, actor);
  }
  if (news.some((alert) => alert.status === 'firing')) incident.noteFiringAlert();
}

function approverRefusal(incident: Incident, by: string): string | undefined {
  return incident.input.approvers.includes(by) ? undefined : `${by} is not a listed approver`;
}

function pendingRefusal(incident: Incident): string | undefined {
  if (incident.closeRequest) return `the incident is being closed by ${incident.closeRequest.by}`;
  const awaiting = incident.state.phase === 'awaiting-approval' && incident.decision === undefined;
  return awaiting ? undefined : 'no fix is awaiting approval';
}

/** The actions an approver may choose: the recommended one and those of the hypotheses shown with it. */
function offeredActions(incident: Incident): string[] {
  const pending = incident.state.pendingApproval;
  if (!pending) return [];
  const offered = [pending.actionId, ...(pending.hypotheses ?? []).map((hypothesis) => hypothesis.actionId)];
  return [...new Set(offered)].filter((actionId) => actionId !== NO_CATALOG_ACTION);
}

function approveRoute(incident: Incident): DecisionRoute<ApproveSignal> {
  return {
    name: 'approve',
    parse: parseApprove,
    refusal: ({ by, actionId }) => {
      const refusal = approverRefusal(incident, by) ?? pendingRefusal(incident);
      if (refusal !== undefined) return refusal;
      const offered = offeredActions(incident);
      if (actionId !== undefined && !offered.includes(actionId)) {
        return `${actionId} is not among the offered actions (${offered.join(', ')})`;
      }
      const pending = incident.state.pendingApproval;
      if (!incident.countsDistinctApprovers || !pending) return undefined;
      return approvalRefusal(pending, incident.input.approvers, by, actionId ?? pending.actionId);
    },
    apply: ({ by, comment, actionId }) => {
      const chosen = actionId ?? incident.state.pendingApproval?.actionId ?? '';
      incident.acknowledge();
      const pending = incident.state.pendingApproval;
      if (incident.countsDistinctApprovers && pending) {
        const required = pending.required ?? 1;
        const { approvedBy, requested } = countApproval(pending, by, chosen);
        if (requested || approvedBy.length < required) {
          const tally = requested
            ? `asked for ${chosen} instead of ${pending.actionId}: it needs ${required} approval(s) from others`
            : `${chosen}: ${approvedBy.length} of ${required} approvals`;
          incident.record(requested ? 'requested another action' : 'approval recorded', tally, by);
          return { decision: 'approval-recorded', by, actionId: chosen, approvals: [...approvedBy], required };
        }
      }
      incident.decision = { kind: 'approved', by, ...(actionId !== undefined ? { actionId } : {}) };
      incident.state.approvedBy = by;
      incident.milestones.approvedAt ??= new Date().toISOString();
      incident.record('approved', comment ? `${chosen}: ${comment}` : chosen, by);
      return { decision: 'approved', by, actionId: chosen };
    },
  };
}

function rejectRoute(incident: Incident): DecisionRoute<RejectSignal> {
  return {
    name: 'reject',
    parse: parseReject,
    refusal: ({ by }) => approverRefusal(incident, by) ?? pendingRefusal(incident),
    apply: ({ by, reason }) => {
      const actionId = incident.state.pendingApproval?.actionId ?? '';
      incident.acknowledge();
      incident.decision = { kind: 'rejected', by, reason };
      incident.record('rejected', `${actionId}: ${reason}`, by);
      return {
        decision: 'rejected',
        by,
        rejections: incident.state.rejections + 1,
        maxRejections: incident.input.policies.maxRejections,
      };
    },
  };
}

function confirmRoute(incident: Incident): DecisionRoute<ConfirmSignal> {
  return {
    name: 'confirm',
    parse: parseConfirm,
    refusal: ({ by }) => {
      if (!incident.acceptingConfirmations || incident.closeRequest) return 'nothing awaits confirmation';
      const already = incident.state.confirmations.some((confirmation) => confirmation.by === by);
      return already ? 'already confirmed by this person' : undefined;
    },
    apply: ({ by }) => {
      incident.state.confirmations.push({ by, at: new Date().toISOString() });
      const required = incident.input.policies.confirmationsRequired;
      const confirmations = incident.state.confirmations.length;
      incident.record('confirmed the fix', `${confirmations}/${required}`, by);
      return { decision: 'confirmed', by, confirmations, required };
    },
  };
}

function closeRoute(incident: Incident): DecisionRoute<CloseSignal> {
  return {
    name: 'close',
    parse: parseClose,
    refusal: ({ by }) => {
      const refusal = approverRefusal(incident, by);
      if (refusal !== undefined) return refusal;
      if (incident.closeRequest) return `the incident is already being closed by ${incident.closeRequest.by}`;
      const { phase } = incident.state;
      if (ENDED_PHASES.includes(phase) || incident.finishing) return `the incident has already ended (${phase})`;
      // Users were just told mail works again: a close now would only contradict that and overwrite the outcome.
      if (RESOLVED_PHASES.includes(phase)) return 'the incident is already resolved and closes after its review';
      return undefined;
    },
    apply: ({ by, reason }) => {
      incident.acknowledge();
      incident.closeRequest = { by, reason };
      incident.record('closed by a person', reason, by);
      return { decision: 'closed', by, reason };
    },
  };
}

function setEtaRoute(incident: Incident): DecisionRoute<SetEtaSignal> {
  return {
    name: 'setEta',
    parse: (raw) => parseSetEta(raw, Date.now()),
    refusal: ({ by }) => {
      if (!incident.etaFromApproversOnly) return undefined;
      if (!incident.input.approvers.includes(by)) return `${by} may not set the ETA: only listed approvers may`;
      return RESOLVED_PHASES.includes(incident.state.phase) ? 'the incident is already resolved' : undefined;
    },
    apply: ({ by, eta }) => {
      incident.acknowledge();
      incident.state.eta = new Date(Date.parse(eta)).toISOString();
      incident.etaChanged = true;
      incident.record('set the ETA', incident.state.eta, by);
      return { decision: 'eta-set', by, eta: incident.state.eta };
    },
  };
}
