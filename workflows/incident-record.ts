import {
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  log,
  patched,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { notifications } from './activity-groups';
import { approvalsRequired } from './approvals';
import { FailureType, type FailureTypeName } from './failure-types';
import type {
  AudienceName,
  CloseSignal,
  Decision,
  EscalationCause,
  IncidentInput,
  IncidentState,
  IncidentStepContext,
  NotificationKind,
  NotificationRecord,
  Phase,
  ResumePoint,
  Risk,
  SentNotification,
  UndeliveredNotice,
} from './messages';
import { isUnchangedRepeat, noticeFor, type NoticeDetails } from './notices';
import type { Milestones } from './review';
import type { IncidentSearchAttribute } from './search-attributes';

export type { Decision } from './messages';

/** Thrown by a step that cannot go on without people; the procedure hands over with its cause and reason. */
export class Escalation extends Error {
  constructor(
    readonly code: EscalationCause,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Thrown at the procedure's next stopping point once an approver has closed the incident. */
export class ClosedByPerson extends Error {
  constructor(readonly request: CloseSignal) {
    super(`closed by ${request.by}: ${request.reason}`);
  }
}

type SearchAttributeUpdates = Extract<Parameters<typeof upsertSearchAttributes>[0], readonly unknown[]>;

function keyword(name: IncidentSearchAttribute, value: string | null): SearchAttributeUpdates[number] {
  return { key: { name, type: 'KEYWORD' }, value };
}

/** Re-probing on a new alert at most this often, so an alert storm cannot become a probe storm. */
const REPROBE_INTERVAL_MS = 5 * 60_000;

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
  readonly countsDistinctApprovers: boolean;
  readonly publishesSearchAttributes: boolean;
  readonly skipsUnchangedRepeats: boolean;
  readonly escalatesUndeliveredNotices: boolean;
  /** Set by an approver's close: the procedure stops at its next wait or after the step in flight. */
  closeRequest: CloseSignal | undefined;
  /** The procedure is handing over or closing as a false alarm: too late for a person to close it. */
  finishing = false;
  /** The checks that failed in the probes the latest diagnosis was built on. */
  diagnosedFailures: string[] | undefined;
  /** The fix passed the automated checks of the current verification. */
  checksPassed = false;
  /** New firing alerts since the last re-probe, and when the next re-probe may run. */
  firingAlertsSinceProbe = 0;
  nextReprobeAt = 0;
  private readonly lastSent: Partial<Record<AudienceName, SentNotification>>;
  /** Channels whose failure the IT team and management already heard of in this run: once is enough. */
  private readonly undeliverableChannels = new Set<string>();
  private publishedSearchAttributes = '';

  constructor(readonly input: IncidentInput) {
    this.etaFromApproversOnly = patched('eta-approvers-only');
    this.countsDistinctApprovers = patched('m-of-n-approvals');
    this.publishesSearchAttributes = patched('search-attributes');
    this.skipsUnchangedRepeats = patched('skip-unchanged-repeats');
    this.escalatesUndeliveredNotices = patched('escalate-undelivered-notices');
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
      this.checksPassed = this.acceptingConfirmations;
      this.decision = carried.decision;
      this.closeRequest = carried.closeRequest;
      this.lastSent = { ...carried.lastSent };
      if (carried.reprobe) {
        this.firingAlertsSinceProbe = carried.reprobe.firingAlerts;
        this.nextReprobeAt = Date.parse(carried.reprobe.nextAt);
      }
      return;
    }
    this.lastSent = {};
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
        ...(this.closeRequest ? { closeRequest: this.closeRequest } : {}),
        lastSent: this.lastSent,
        reprobe: { firingAlerts: this.firingAlertsSinceProbe, nextAt: new Date(this.nextReprobeAt).toISOString() },
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
    this.publishSearchAttributes();
  }

  /**
   * Server, phase, severity and pending action as search attributes, so `temporal workflow list --query` and the UI
   * find incidents by them. Upserted only when one changed, to keep the history short.
   */
  publishSearchAttributes(): void {
    if (!this.publishesSearchAttributes) return;
    const { serverId, phase, severity, pendingApproval } = this.state;
    const pendingAction = this.awaitingApproval() && pendingApproval ? pendingApproval.actionId : null;
    const published = JSON.stringify([serverId, phase, severity, pendingAction]);
    if (published === this.publishedSearchAttributes) return;
    this.publishedSearchAttributes = published;
    upsertSearchAttributes([
      keyword('MailServerId', serverId),
      keyword('IncidentPhase', phase),
      keyword('IncidentSeverity', severity),
      keyword('PendingAction', pendingAction),
    ]);
  }

  /** A fix waits for approvers to decide. */
  awaitingApproval(): boolean {
    return this.state.phase === 'awaiting-approval' && this.decision === undefined && this.closeRequest === undefined;
  }

  /** Distinct approvers an action of `risk` needs in this incident. */
  approvalsRequired(risk: Risk): number {
    return this.countsDistinctApprovers ? approvalsRequired(this.input.policies.approvalsRequired, risk) : 1;
  }

  /** Stops the procedure here if an approver closed the incident. */
  stopIfClosed(): void {
    if (this.closeRequest) throw new ClosedByPerson(this.closeRequest);
  }

  /** A new firing alert while a fix waits for approval may mean the server changed under the diagnosis. */
  noteFiringAlert(): void {
    if (this.awaitingApproval()) this.firingAlertsSinceProbe += 1;
  }

  /** A re-probe is wanted and the last one is long enough ago. */
  reprobeDue(): boolean {
    return this.firingAlertsSinceProbe > 0 && Date.now() >= this.nextReprobeAt;
  }

  startReprobe(): void {
    this.firingAlertsSinceProbe = 0;
    this.nextReprobeAt = Date.now() + REPROBE_INTERVAL_MS;
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
        throw new Escalation(escalationCauseOf(type), `${type}: ${causeMessage(error)}`);
      throw error;
    }
  }

  /** Whether `audience` was sent anything yet, in this run or an earlier one. */
  hasNotified(audience: AudienceName): boolean {
    return this.lastSent[audience] !== undefined || this.state.notifications.some((sent) => sent.audience === audience);
  }

  /**
   * Sends one notification per channel; a failed channel is recorded and never stops the procedure, and the IT team
   * and management hear of it on their channels that work, so someone reaches that audience another way. An
   * audience is not sent what it was already told less than an update interval ago.
   */
  async notify(audiences: readonly AudienceName[], kind: NotificationKind, details: NoticeDetails = {}): Promise<void> {
    const undelivered: UndeliveredNotice[] = [];
    const sends = audiences.flatMap((audience) => {
      const previous = this.lastSent[audience];
      const message = noticeFor(
        {
          state: this.state,
          awaitingApproval: this.awaitingApproval(),
          awaitingConfirmations: this.acceptingConfirmations && this.checksPassed,
          checksPassed: this.checksPassed,
          previous,
        },
        audience,
        kind,
        details,
      );
      const now = Date.now();
      if (
        this.skipsUnchangedRepeats &&
        isUnchangedRepeat(message, previous, now, this.input.policies.updateIntervalMs)
      ) {
        this.record(`notify ${audience}`, `skipped: the same ${kind} went out at ${previous?.at}`);
        return [];
      }
      this.lastSent[audience] = { at: new Date(now).toISOString(), message };
      return this.input.audiences[audience].map(async (channel) => {
        try {
          const sent = await notifications.sendNotification({ context: this.context(), audience, channel, message });
          this.keepNotification(sent);
        } catch (error) {
          if (isCancellation(error)) throw error;
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
          if (!this.undeliverableChannels.has(channel)) {
            this.undeliverableChannels.add(channel);
            undelivered.push({ audience, channel, kind, failure });
          }
        }
      });
    });
    await Promise.all(sends);
    const aboutUndelivered = kind === 'escalation' && details.escalation === 'notification-failed';
    if (undelivered.length > 0 && !aboutUndelivered && this.escalatesUndeliveredNotices) {
      await this.tellOfUndelivered(undelivered);
    }
  }

  /** The IT team and management hear, on their channels that work, which notices did not get through. */
  private async tellOfUndelivered(undelivered: UndeliveredNotice[]): Promise<void> {
    const reason = undelivered
      .map(
        ({ kind, audience, channel, failure }) =>
          `the ${kind} notice to ${audience} via ${channel} failed (${failure})`,
      )
      .join('; ');
    this.record('a notice was not delivered: told the IT team and management', reason);
    await this.notify(['itTeam', 'management'], 'escalation', {
      reason,
      escalation: 'notification-failed',
      undelivered,
    });
  }

  acknowledge(): void {
    this.milestones.acknowledgedAt ??= new Date().toISOString();
  }
}

/** What people are told about a failure type that makes mailmend hand over. */
export function escalationCauseOf(type: string): EscalationCause {
  switch (type) {
    case FailureType.HostKeyMismatch:
    case FailureType.UnknownServer:
      return 'host-unreachable';
    case FailureType.RemediationUnavailable:
    case FailureType.UnknownRemediationAction:
      return 'remediation-unavailable';
    default:
      return 'unexpected-failure';
  }
}

/** The message of what went wrong, from an activity's failure or any other error. */
export function causeMessage(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
