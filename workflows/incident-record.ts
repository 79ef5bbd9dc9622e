import { ActivityFailure, ApplicationFailure, log, patched, upsertMemo, workflowInfo } from '@temporalio/workflow';
import { notifications } from './activity-groups';
import type { FailureTypeName } from './failure-types';
import type {
  AudienceName,
  Decision,
  IncidentInput,
  IncidentState,
  IncidentStepContext,
  NotificationKind,
  NotificationMessage,
  NotificationRecord,
  Phase,
  ResumePoint,
} from './messages';
import type { Milestones } from './review';

export type { Decision } from './messages';

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

const DEFAULT_HISTORY_EVENT_LIMIT = 2_000;
/** The timeline keeps its first entries and its latest ones, so days of notes and updates stay within bounds. */
const TIMELINE_LIMIT = 500;
const TIMELINE_HEAD = 50;
const NOTIFICATION_LIMIT = 300;
/** A timeline entry's outcome is cut here, so 500 entries fit in the input of the next run with room to spare. */
const OUTCOME_KEPT = 1_000;

/** The incident's state, the clocks of its waits, and what its handlers and steps share. */
export class Incident {
  readonly state: IncidentState;
  readonly milestones: Milestones;
  /** Set when this run continues an earlier one. */
  readonly resumeAt: ResumePoint | undefined;
  decision: Decision | undefined;
  acceptingConfirmations = false;
  userUpdatesStopped = false;
  etaChanged = false;
  nextUserUpdateAt: number;
  /** The wait in progress (approval or confirmations): when it next times out, and how often it has already. */
  waitDeadlineAt = 0;
  waitTimeouts = 0;
  /** Incidents started before these rules keep the old ones for their lifetime, so their histories replay. */
  readonly etaFromApproversOnly: boolean;

  constructor(readonly input: IncidentInput) {
    this.etaFromApproversOnly = patched('eta-approvers-only');
    const carried = input.carried;
    const now = Date.now();
    this.resumeAt = carried?.resumeAt;
    this.nextUserUpdateAt = now + input.policies.updateIntervalMs;
    if (carried) {
      this.state = carried.state;
      this.milestones = carried.milestones;
      this.etaChanged = carried.etaChanged;
      this.nextUserUpdateAt = Date.parse(carried.nextUserUpdateAt);
      this.waitDeadlineAt = Date.parse(carried.waitDeadlineAt);
      this.waitTimeouts = carried.waitTimeouts;
      this.acceptingConfirmations = carried.resumeAt === 'awaiting-confirmations';
      this.decision = carried.decision;
      return;
    }
    const openedAt = new Date(now).toISOString();
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
      alertsReceived: 0,
      notifications: [],
      timeline: [],
    };
  }

  /** Near Temporal's limits a run hands over to a new one, at the next wait that allows it. */
  mustContinueAsNew(): boolean {
    const info = workflowInfo();
    const limit = this.input.policies.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT;
    return info.continueAsNewSuggested || info.historyLength >= limit;
  }

  /** The input of the next run, which resumes at `resumeAt` with everything this run knows. */
  carryOver(resumeAt: ResumePoint): IncidentInput {
    const runs = (this.state.runs ?? 1) + 1;
    this.record(
      'continued as new',
      `history at ${workflowInfo().historyLength} events; run ${runs} resumes ${resumeAt}`,
    );
    this.state.runs = runs;
    const { serverId, policies, approvers, audiences } = this.input;
    return {
      serverId,
      policies,
      approvers,
      audiences,
      carried: {
        state: this.state,
        milestones: this.milestones,
        resumeAt,
        runs,
        nextUserUpdateAt: new Date(this.nextUserUpdateAt).toISOString(),
        etaChanged: this.etaChanged,
        waitDeadlineAt: new Date(this.waitDeadlineAt).toISOString(),
        waitTimeouts: this.waitTimeouts,
        ...(this.decision ? { decision: this.decision } : {}),
      },
    };
  }

  context(): IncidentStepContext {
    return { incidentId: this.state.incidentId, serverId: this.state.serverId, step: this.state.phase };
  }

  alertedMailbox(): string | undefined {
    return this.state.alerts.find((alert) => alert.mailbox !== undefined)?.mailbox;
  }

  enter(phase: Phase): void {
    this.state.phase = phase;
    this.publishPhase();
    this.record(`entered ${phase}`, 'ok');
  }

  /** The phase as a memo, so `/metrics` counts incidents by phase from Temporal's visibility alone. */
  publishPhase(): void {
    if (patched('phase-memo')) upsertMemo({ phase: this.state.phase });
  }

  record(event: string, outcome: string, actor = 'mailmend'): void {
    const { timeline } = this.state;
    const kept = outcome.length > OUTCOME_KEPT ? `${outcome.slice(0, OUTCOME_KEPT - 1)}…` : outcome;
    timeline.push({ at: new Date().toISOString(), phase: this.state.phase, actor, event, outcome: kept });
    if (timeline.length > TIMELINE_LIMIT) {
      timeline.splice(TIMELINE_HEAD, timeline.length - TIMELINE_LIMIT);
      this.state.timelineOmitted = (this.state.timelineOmitted ?? 0) + 1;
    }
    log.info(event, { ...this.context(), actor, outcome });
  }

  private keepNotification(record: NotificationRecord): void {
    const kept = this.state.notifications;
    kept.push(record);
    if (kept.length > NOTIFICATION_LIMIT) {
      kept.splice(0, kept.length - NOTIFICATION_LIMIT);
      this.state.notificationsOmitted = (this.state.notificationsOmitted ?? 0) + 1;
    }
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
          this.keepNotification(sent);
        } catch (error) {
          const failure = failureType(error) ?? 'delivery failed';
          this.keepNotification({
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

  acknowledge(): void {
    this.milestones.acknowledgedAt ??= new Date().toISOString();
  }
}

function causeMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
