import { ActivityFailure, ApplicationFailure, log, setHandler, workflowInfo } from '@temporalio/workflow';
import { notifications } from './activity-groups';
import type { FailureTypeName } from './failure-types';
import {
  alertSignal,
  approveSignal,
  confirmSignal,
  NO_CATALOG_ACTION,
  noteSignal,
  rejectSignal,
  setEtaSignal,
  stateQuery,
  type AlertPayload,
  type AudienceName,
  type IncidentInput,
  type IncidentState,
  type IncidentStepContext,
  type NotificationKind,
  type NotificationMessage,
  type Phase,
} from './messages';
import type { Milestones } from './review';
import {
  parseAlert,
  parseApprove,
  parseConfirm,
  parseNote,
  parseReject,
  parseSetEta,
  senderOf,
  type Parsed,
} from './signal-payloads';

export type Decision =
  { kind: 'approved'; by: string; actionId?: string } | { kind: 'rejected'; by: string; reason: string };

/** Thrown by a step that cannot go on without people; the procedure hands over with its reason. */
export class Escalation extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export function failureType(error: unknown): string | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** The incident's state and its message handlers, registered before the first await. */
export class Incident {
  readonly state: IncidentState;
  readonly milestones: Milestones;
  decision: Decision | undefined;
  acceptingConfirmations = false;
  userUpdatesStopped = false;
  etaChanged = false;

  constructor(readonly input: IncidentInput) {
    const openedAt = new Date().toISOString();
    this.milestones = { openedAt };
    this.state = {
      incidentId: workflowInfo().workflowId,
      serverId: input.serverId,
      phase: 'assessment',
      severity: 'none',
      scope: 'none',
      openedAt,
      remediations: [],
      confirmations: [],
      confirmationsRequired: input.policies.confirmationsRequired,
      rejections: 0,
      verificationAttempts: 0,
      alerts: [],
      notifications: [],
      timeline: [],
    };
    setHandler(stateQuery, () => this.state);
    // Every payload is checked first: one a handler cannot use is recorded and ignored, and never throws.
    setHandler(alertSignal, (raw: unknown) =>
      this.accept('alert', parseAlert(raw), raw, (alert) => this.onAlert(alert)),
    );
    setHandler(approveSignal, (raw: unknown) =>
      this.accept('approve', parseApprove(raw), raw, ({ by, comment, actionId }) =>
        this.decide({ kind: 'approved', by, ...(actionId !== undefined ? { actionId } : {}) }, comment ?? ''),
      ),
    );
    setHandler(rejectSignal, (raw: unknown) =>
      this.accept('reject', parseReject(raw), raw, ({ by, reason }) =>
        this.decide({ kind: 'rejected', by, reason }, reason),
      ),
    );
    setHandler(confirmSignal, (raw: unknown) =>
      this.accept('confirm', parseConfirm(raw), raw, ({ by }) => this.onConfirm(by)),
    );
    setHandler(noteSignal, (raw: unknown) =>
      this.accept('note', parseNote(raw), raw, ({ by, text }) => {
        this.acknowledge();
        this.record('note', text, by);
      }),
    );
    setHandler(setEtaSignal, (raw: unknown) =>
      this.accept('setEta', parseSetEta(raw, Date.now()), raw, ({ by, eta }) => this.onSetEta(by, eta)),
    );
  }

  private accept<T>(signal: string, parsed: Parsed<T>, raw: unknown, handle: (payload: T) => void): void {
    if (parsed.ok) {
      handle(parsed.value);
      return;
    }
    this.record(`${signal} ignored`, `bad payload: ${parsed.reason}`, senderOf(raw));
  }

  context(): IncidentStepContext {
    return { incidentId: this.state.incidentId, serverId: this.state.serverId, step: this.state.phase };
  }

  alertedMailbox(): string | undefined {
    return this.state.alerts.find((alert) => alert.mailbox !== undefined)?.mailbox;
  }

  enter(phase: Phase): void {
    this.state.phase = phase;
    this.record(`entered ${phase}`, 'ok');
  }

  record(event: string, outcome: string, actor = 'mailmend'): void {
    this.state.timeline.push({ at: new Date().toISOString(), phase: this.state.phase, actor, event, outcome });
    log.info(event, { ...this.context(), actor, outcome });
  }

  stopUserUpdates(): void {
    this.userUpdatesStopped = true;
  }

  /** Runs a step and turns the listed failure types into an escalation, keeping every other failure as it is. */
  async escalateOn<T>(types: FailureTypeName[], step: () => Promise<T>): Promise<T> {
    try {
      return await step();
    } catch (error) {
      const type = failureType(error);
      if (type !== undefined && (types as string[]).includes(type))
        throw new Escalation(`${type}: ${causeMessage(error)}`);
      throw error;
    }
  }

  /** Sends one notification per channel; a failed channel is recorded and never stops the procedure. */
  async notify(audiences: readonly AudienceName[], kind: NotificationKind, reason?: string): Promise<void> {
    const message = this.notificationMessage(kind, reason);
    const sends = audiences.flatMap((audience) =>
      this.input.audiences[audience].map(async (channel) => {
        try {
          const sent = await notifications.sendNotification({ context: this.context(), audience, channel, message });
          this.state.notifications.push(sent);
        } catch (error) {
          const failure = failureType(error) ?? 'delivery failed';
          this.state.notifications.push({
            channel,
            audience,
            kind,
            sentAt: new Date().toISOString(),
            ok: false,
            error: failure,
          });
          this.record(`notify ${audience} via ${channel}`, `failed: ${failure}`);
        }
      }),
    );
    await Promise.all(sends);
  }

  private notificationMessage(kind: NotificationKind, reason: string | undefined): NotificationMessage {
    const { state } = this;
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
      ...(reason !== undefined ? { reason } : {}),
      ...(state.pendingApproval?.hypotheses ? { hypotheses: state.pendingApproval.hypotheses } : {}),
      ...(kind === 'certificate-expiry' && state.assessment?.certificateWarnings
        ? { certificates: state.assessment.certificateWarnings }
        : {}),
    };
  }

  private onAlert(alert: AlertPayload): void {
    // Senders resend a whole batch after a 5xx, so an alert already held is dropped rather than recorded twice.
    if (alert.fingerprint !== undefined && this.state.alerts.some((held) => sameAlert(held, alert))) {
      log.info('duplicate alert dropped', { ...this.context(), fingerprint: alert.fingerprint });
      return;
    }
    this.state.alerts.push(alert);
    if (this.milestones.detectedAt === undefined && alert.startsAt && !Number.isNaN(Date.parse(alert.startsAt))) {
      this.milestones.detectedAt = alert.startsAt;
    }
    // A resolved alert is only evidence: the incident closes after verification, never because monitoring calmed down.
    this.record(`alert ${alert.status}: ${alert.alertName}`, alert.summary ?? 'recorded', alert.source);
  }

  private decide(decision: Decision, detail: string): void {
    const verb = decision.kind === 'approved' ? 'approve' : 'reject';
    if (!this.input.approvers.includes(decision.by)) {
      this.record(`${verb} ignored`, `${decision.by} is not a listed approver`, decision.by);
      return;
    }
    if (this.state.phase !== 'awaiting-approval' || this.decision !== undefined) {
      this.record(`${verb} ignored`, 'no fix is awaiting approval', decision.by);
      return;
    }
    if (decision.kind === 'approved' && decision.actionId !== undefined && !this.offers(decision.actionId)) {
      this.record(`${verb} ignored`, `${String(decision.actionId)} is not among the offered actions`, decision.by);
      return;
    }
    this.acknowledge();
    this.decision = decision;
    if (decision.kind === 'approved') {
      this.state.approvedBy = decision.by;
      this.milestones.approvedAt ??= new Date().toISOString();
    }
    const actionId =
      (decision.kind === 'approved' ? decision.actionId : undefined) ?? this.state.pendingApproval?.actionId;
    this.record(decision.kind, detail ? `${actionId ?? ''}: ${detail}` : (actionId ?? ''), decision.by);
  }

  /** The actions an approver may choose: the recommended one and those of the hypotheses shown with it. */
  private offers(actionId: unknown): boolean {
    const pending = this.state.pendingApproval;
    if (!pending || typeof actionId !== 'string' || actionId === NO_CATALOG_ACTION) return false;
    return actionId === pending.actionId || (pending.hypotheses ?? []).some((offered) => offered.actionId === actionId);
  }

  private onConfirm(by: string): void {
    if (!this.acceptingConfirmations) {
      this.record('confirm ignored', 'nothing awaits confirmation', by);
      return;
    }
    if (this.state.confirmations.some((confirmation) => confirmation.by === by)) {
      this.record('confirm ignored', 'already confirmed by this person', by);
      return;
    }
    this.state.confirmations.push({ by, at: new Date().toISOString() });
    this.record(
      'confirmed the fix',
      `${this.state.confirmations.length}/${this.input.policies.confirmationsRequired}`,
      by,
    );
  }

  private onSetEta(by: string, eta: string): void {
    if (Number.isNaN(Date.parse(eta))) {
      this.record('setEta ignored', `"${eta}" is not a timestamp`, by);
      return;
    }
    this.acknowledge();
    this.state.eta = new Date(Date.parse(eta)).toISOString();
    this.etaChanged = true;
    this.record('set the ETA', this.state.eta, by);
  }

  private acknowledge(): void {
    this.milestones.acknowledgedAt ??= new Date().toISOString();
  }
}

function sameAlert(held: AlertPayload, incoming: AlertPayload): boolean {
  return (
    held.source === incoming.source &&
    held.fingerprint === incoming.fingerprint &&
    held.status === incoming.status &&
    held.startsAt === incoming.startsAt
  );
}

function causeMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
