import { ApplicationFailure, setHandler, type defineSignal, type defineUpdate } from '@temporalio/workflow';
import { describeAlertNews, foldAlerts } from './alert-records';
import type { Incident } from './incident-record';
import {
  alertSignal,
  alertsSignal,
  approveSignal,
  approveUpdate,
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
}

function registerDecision<Payload extends { by: string }>(
  incident: Incident,
  signal: ReturnType<typeof defineSignal<[Payload]>>,
  update: ReturnType<typeof defineUpdate<DecisionReceipt, [Payload]>>,
  route: DecisionRoute<Payload>,
): void {
  const check = (raw: unknown): { ok: true; payload: Payload } | { ok: false; reason: string } => {
    const parsed = route.parse(raw);
    if (!parsed.ok) return { ok: false, reason: `bad payload: ${parsed.reason}` };
    const refusal = route.refusal(parsed.value);
    return refusal === undefined ? { ok: true, payload: parsed.value } : { ok: false, reason: refusal };
  };
  setHandler(signal, (raw: unknown) => {
    const checked = check(raw);
    if (checked.ok) route.apply(checked.payload);
    else incident.record(`${route.name} ignored`, checked.reason, senderOf(raw));
  });
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
}

function approverRefusal(incident: Incident, by: string): string | undefined {
  return incident.input.approvers.includes(by) ? undefined : `${by} is not a listed approver`;
}

function pendingRefusal(incident: Incident): string | undefined {
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
      if (refusal !== undefined || actionId === undefined) return refusal;
      const offered = offeredActions(incident);
      return offered.includes(actionId)
        ? undefined
        : `${actionId} is not among the offered actions (${offered.join(', ')})`;
    },
    apply: ({ by, comment, actionId }) => {
      const chosen = actionId ?? incident.state.pendingApproval?.actionId ?? '';
      incident.acknowledge();
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
      if (!incident.acceptingConfirmations) return 'nothing awaits confirmation';
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
