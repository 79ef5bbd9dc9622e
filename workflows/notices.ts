import type {
  AudienceName,
  EscalationCause,
  IncidentState,
  ItAction,
  NotificationKind,
  NotificationMessage,
  SentNotification,
  UncheckedProbe,
  UndeliveredNotice,
} from './messages';

/** What one notice says beyond the incident's state. */
export interface NoticeDetails {
  reason?: string;
  escalation?: EscalationCause;
  closedBy?: string;
  unchecked?: UncheckedProbe[];
  undelivered?: UndeliveredNotice[];
}

/** Where the procedure stands, as far as what people are asked to do depends on it. */
export interface NoticeContext {
  state: IncidentState;
  /** A fix waits for approvals. */
  awaitingApproval: boolean;
  /** The fix passed the automated checks and waits for people to confirm. */
  awaitingConfirmations: boolean;
  checksPassed: boolean;
  /** The last notice this audience got. */
  previous: SentNotification | undefined;
}

/**
 * The message one audience gets. Only the IT team is asked to act, and only while something waits for them; every
 * audience is told whether its ETA moved since its last message.
 */
export function noticeFor(
  context: NoticeContext,
  audience: AudienceName,
  kind: NotificationKind,
  details: NoticeDetails,
): NotificationMessage {
  const { state, previous } = context;
  const actionNeeded = audience === 'itTeam' ? itAction(context) : undefined;
  const causeClass = state.diagnosis?.hypotheses?.[0]?.failureClass;
  const etaChanged = previous !== undefined && state.eta !== undefined && previous.message.eta !== state.eta;
  return {
    kind,
    incidentId: state.incidentId,
    serverId: state.serverId,
    severity: state.severity,
    scope: state.scope,
    phase: state.phase,
    openedAt: state.openedAt,
    ...(state.eta !== undefined ? { eta: state.eta } : {}),
    ...(state.diagnosis ? { rootCause: state.diagnosis.rootCause } : {}),
    ...(state.remediations.length > 0
      ? { actionsTaken: state.remediations.map((result) => `${result.actionId} (exit ${result.exitCode})`) }
      : {}),
    ...(kind === 'resolved' && state.diagnosis
      ? { prevention: state.diagnosis.prevention ?? [`Guard against: ${state.diagnosis.rootCause}`] }
      : {}),
    ...(details.reason !== undefined ? { reason: details.reason } : {}),
    ...(state.pendingApproval?.hypotheses ? { hypotheses: state.pendingApproval.hypotheses } : {}),
    ...(kind === 'certificate-expiry' && state.assessment?.certificateWarnings
      ? { certificates: state.assessment.certificateWarnings }
      : {}),
    ...(actionNeeded ? { actionNeeded } : {}),
    ...(context.checksPassed ? { checksPassed: true } : {}),
    ...(causeClass !== undefined ? { causeClass } : {}),
    ...(details.escalation !== undefined ? { escalation: details.escalation } : {}),
    ...(etaChanged ? { etaChanged: true } : {}),
    ...(details.closedBy !== undefined ? { closedBy: details.closedBy } : {}),
    ...(details.unchecked?.length ? { unchecked: details.unchecked } : {}),
    ...(details.undelivered?.length ? { undelivered: details.undelivered } : {}),
  };
}

function itAction({ state, awaitingApproval, awaitingConfirmations }: NoticeContext): ItAction | undefined {
  const pending = state.pendingApproval;
  if (awaitingApproval && pending) {
    return {
      kind: 'approve',
      actionId: pending.actionId,
      description: pending.description,
      risk: pending.risk,
      required: pending.required ?? 1,
      approvedBy: [...(pending.approvedBy ?? [])],
    };
  }
  if (awaitingConfirmations) {
    return {
      kind: 'confirm',
      required: state.confirmationsRequired,
      confirmedBy: state.confirmations.map((confirmation) => confirmation.by),
    };
  }
  return undefined;
}

/**
 * Only routine updates are held back. A reminder is the nudge its timeout policy asks for, and an escalation, a
 * resolution or a close must reach people however alike an earlier message was.
 */
const MAY_BE_HELD_BACK: readonly NotificationKind[] = ['update'];

/**
 * True when `message` says nothing the audience's last message, sent less than `intervalMs` ago, did not already say.
 * Whether the ETA moved is relative to that last message, so it is left out of the comparison.
 */
export function isUnchangedRepeat(
  message: NotificationMessage,
  previous: SentNotification | undefined,
  now: number,
  intervalMs: number,
): boolean {
  if (!previous || !MAY_BE_HELD_BACK.includes(message.kind)) return false;
  if (now - Date.parse(previous.at) >= intervalMs) return false;
  return JSON.stringify(withoutRelativeFields(message)) === JSON.stringify(withoutRelativeFields(previous.message));
}

function withoutRelativeFields(message: NotificationMessage): NotificationMessage {
  return { ...message, etaChanged: undefined };
}
