import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  patched,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { MailmendActivities } from '../activities';
import { allServicesAnswer, classifyOutage, describeProbes } from './assessment';
import { FailureType, type FailureTypeName } from './failure-types';
import {
  AUDIENCES,
  NO_CATALOG_ACTION,
  alertSignal,
  approveSignal,
  confirmSignal,
  noteSignal,
  rejectSignal,
  setEtaSignal,
  stateQuery,
  type AlertPayload,
  type AudienceName,
  type Diagnosis,
  type IncidentInput,
  type IncidentState,
  type IncidentStepContext,
  type NotificationKind,
  type NotificationMessage,
  type Outcome,
  type Phase,
} from './messages';
import { buildReview, computeResponseTimes, type Milestones } from './review';

const probes = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
});
// The round trip waits for real delivery, so it gets minutes, with heartbeats while it polls the mailbox.
const roundTrips = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { maximumAttempts: 2, initialInterval: '5 seconds' },
});
const troubleshooting = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '3 minutes',
  retry: { maximumAttempts: 3, initialInterval: '5 seconds' },
});
const notifications = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '5 seconds', backoffCoefficient: 3 },
});
// A fix touches a production host: one attempt, heartbeats show it is alive, and the activity itself is idempotent.
const remediation = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});
const reporting = proxyActivities<MailmendActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 5 },
});

const VERIFICATION_PROBE_ATTEMPTS = 6;

type Decision = { kind: 'approved'; by: string } | { kind: 'rejected'; by: string; reason: string };

class Escalation extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * The seven-step mail outage procedure. One run per open incident, id `incident-<serverId>`, started or joined by
 * the `alert` signal.
 */
export async function mailOutageIncident(input: IncidentInput): Promise<IncidentState> {
  const incident = new Incident(input);

  try {
    const classification = await assessOutage(incident);
    if (classification.healthy) return await closeAsFalseAlarm(incident);
    await notifyStakeholders(incident);
    const userUpdates = keepUsersInformed(incident);
    try {
      await troubleshootFixAndVerify(incident);
    } finally {
      incident.stopUserUpdates();
      await userUpdates;
    }
    await sendResolutionNotice(incident);
    return await reviewAndClose(incident, 'closed', 'verified and confirmed');
  } catch (error) {
    if (!(error instanceof Escalation)) throw error;
    return await handOverToPeople(incident, error.reason);
  }
}

/** Step 1: is the server really down, and for whom? */
async function assessOutage(incident: Incident) {
  incident.enter('assessment');
  const report = await probes.probeServer({ context: incident.context() });
  const classification = classifyOutage(report, incident.alertedMailbox());
  incident.state.assessment = report;
  incident.state.severity = classification.severity;
  incident.state.scope = classification.scope;
  incident.record('probed the server', describeProbes(report));
  incident.record('classified the outage', `severity ${classification.severity}, scope ${classification.scope}`);
  return classification;
}

/** Step 2: tell everyone, each audience in its own words. */
async function notifyStakeholders(incident: Incident): Promise<void> {
  incident.enter('notification');
  if (incident.input.policies.initialEtaMs !== undefined && incident.state.eta === undefined) {
    incident.state.eta = new Date(Date.now() + incident.input.policies.initialEtaMs).toISOString();
    incident.record('set the initial ETA from policy', incident.state.eta);
  }
  await incident.notify(AUDIENCES, 'outage');
}

/** Step 2, continued: a durable timer keeps users informed until the incident is resolved. */
async function keepUsersInformed(incident: Incident): Promise<void> {
  for (;;) {
    await condition(() => incident.userUpdatesStopped || incident.etaChanged, incident.input.policies.updateIntervalMs);
    if (incident.userUpdatesStopped) return;
    incident.etaChanged = false;
    await incident.notify(['users'], 'update');
  }
}

/** Steps 3 to 5: diagnose, fix with approval, verify; a failed verification goes back to troubleshooting. */
async function troubleshootFixAndVerify(incident: Incident): Promise<void> {
  const { maxRejections, maxVerificationAttempts } = incident.input.policies;
  for (;;) {
    const diagnosis = await troubleshoot(incident);
    const decision = await awaitApproval(incident, diagnosis);
    if (decision.kind === 'rejected') {
      incident.state.rejections += 1;
      if (incident.state.rejections >= maxRejections) {
        throw new Escalation(`the fix was rejected ${incident.state.rejections} times, last by ${decision.by}`);
      }
      continue;
    }
    await applyFix(incident, diagnosis.recommendation.actionId);
    if (await verifyFix(incident)) return;
    if (incident.state.verificationAttempts >= maxVerificationAttempts) {
      throw new Escalation(`verification failed ${incident.state.verificationAttempts} times`);
    }
  }
}

/** Step 3: find the root cause from evidence. */
async function troubleshoot(incident: Incident): Promise<Diagnosis> {
  incident.enter('troubleshooting');
  const latestProbes = incident.state.verification ?? incident.state.assessment;
  if (!latestProbes) throw new Error('troubleshooting needs the assessment probes');
  const diagnosis = await incident.escalateOn([FailureType.HostKeyMismatch, FailureType.UnknownServer], () =>
    troubleshooting.diagnoseOutage({ context: incident.context(), probes: latestProbes }),
  );
  incident.state.diagnosis = diagnosis;
  incident.record('diagnosed the outage', diagnosis.rootCause);
  if (diagnosis.recommendation.actionId === NO_CATALOG_ACTION) {
    throw new Escalation(`no catalog action fits the evidence: ${diagnosis.rootCause}`);
  }
  return diagnosis;
}

/** Step 4, first half: wait durably for a listed approver; escalate to management if nobody decides in time. */
async function awaitApproval(incident: Incident, diagnosis: Diagnosis): Promise<Decision> {
  incident.enter('awaiting-approval');
  const { recommendation } = diagnosis;
  const since = new Date().toISOString();
  incident.milestones.approvalRequestedAt ??= since;
  incident.decision = undefined;
  incident.state.pendingApproval = {
    actionId: recommendation.actionId,
    description: recommendation.description,
    risk: recommendation.risk,
    since,
    approvers: [...incident.input.approvers],
  };
  incident.record('requested approval', `${recommendation.actionId} (risk ${recommendation.risk})`);
  await incident.notify(['itTeam'], 'update');
  let timeouts = 0;
  while (!(await condition(() => incident.decision !== undefined, incident.input.policies.approvalTimeoutMs))) {
    timeouts += 1;
    if (timeouts === 1) {
      incident.state.pendingApproval.escalatedAt = new Date().toISOString();
      incident.record('approval timed out: escalated to management', 'still waiting for approval');
      await incident.notify(['management', 'itTeam'], 'escalation', 'no approver has decided on the fix in time');
    } else {
      incident.record('approval still pending: reminded the IT team', 'still waiting for approval');
      await incident.notify(['itTeam'], 'reminder', 'the fix still awaits approval');
    }
  }
  const decision = incident.decision as Decision | undefined;
  if (!decision) throw new Error('approval wait ended without a decision');
  incident.state.pendingApproval = undefined;
  return decision;
}

/** Step 4, second half: run the approved catalog action. */
async function applyFix(incident: Incident, actionId: string): Promise<void> {
  incident.enter('remediation');
  try {
    const result = await remediation.runRemediation({ context: incident.context(), actionId });
    incident.state.remediations.push(result);
    for (const snapshot of result.snapshot ?? []) {
      incident.record(`snapshot: ${snapshot.command}`, `exit ${snapshot.exitCode}: ${snapshot.output}`);
    }
    for (const command of result.commands ?? []) {
      incident.record(`ran on the host: ${command.command}`, `exit ${command.exitCode}: ${command.output}`);
    }
    incident.record(
      `ran ${actionId}`,
      result.alreadyApplied ? 'already in effect, not repeated' : `exit ${result.exitCode}: ${result.output}`,
    );
  } catch (error) {
    const type = failureType(error);
    const escalatingTypes: (string | undefined)[] = [
      FailureType.HostKeyMismatch,
      FailureType.RemediationUnavailable,
      FailureType.UnknownRemediationAction,
    ];
    if (escalatingTypes.includes(type)) throw new Escalation(`remediation ${actionId} could not run: ${type}`);
    // A failed fix is recorded and verification decides what happens next.
    incident.record(`ran ${actionId}`, `failed: ${type ?? 'unknown failure'}`);
  }
}

/**
 * Step 5: probe again, send a round-trip message, then wait for enough distinct people to confirm. People may
 * confirm as soon as the fix ran; their confirmations count only if the automated checks pass too.
 */
async function verifyFix(incident: Incident): Promise<boolean> {
  incident.enter('verification');
  incident.state.verificationAttempts += 1;
  incident.state.confirmations = [];
  incident.acceptingConfirmations = true;
  const verified = await verifyAutomatically(incident);
  if (!verified) {
    incident.acceptingConfirmations = false;
    return false;
  }
  const { confirmationsRequired, confirmationTimeoutMs } = incident.input.policies;
  await incident.notify(['itTeam'], 'update', `automated checks pass; ${confirmationsRequired} confirmations needed`);
  const enoughConfirmations = () => incident.state.confirmations.length >= confirmationsRequired;
  while (!(await condition(enoughConfirmations, confirmationTimeoutMs))) {
    incident.record(
      'confirmations still missing: reminded the IT team',
      `${incident.state.confirmations.length} so far`,
    );
    await incident.notify(['itTeam'], 'reminder', 'the fix awaits confirmation by the team');
  }
  incident.acceptingConfirmations = false;
  incident.milestones.resolvedAt = new Date().toISOString();
  return true;
}

/** Services need a moment after a fix (a flushed queue drains, a daemon binds its port), so probes get a few tries. */
async function verifyAutomatically(incident: Incident): Promise<boolean> {
  const withRoundTrip = patched('round-trip-verification');
  const settleMs = incident.input.policies.verificationSettleMs ?? 0;
  const attempts = withRoundTrip ? VERIFICATION_PROBE_ATTEMPTS : 1;
  for (let attempt = 1; ; attempt++) {
    const report = await probes.probeServer({ context: incident.context() });
    incident.state.verification = report;
    incident.record('verified with probes', describeProbes(report));
    if (allServicesAnswer(report)) break;
    if (attempt >= attempts || settleMs === 0) return false;
    await sleep(settleMs / attempts);
  }
  if (withRoundTrip) {
    const roundTrip = await roundTrips.verifyRoundTrip({ context: incident.context() });
    incident.state.roundTrip = roundTrip;
    incident.record('sent a round-trip test message', roundTrip.detail);
    if (!roundTrip.ok && !roundTrip.skipped) return false;
  }
  return true;
}

/** Step 6: tell everyone it is fixed, why it broke, and what prevents a repeat. */
async function sendResolutionNotice(incident: Incident): Promise<void> {
  incident.enter('resolution-notice');
  await incident.notify(AUDIENCES, 'resolved');
}

/** Step 7: the post-incident review, written as Markdown and JSON. */
async function reviewAndClose(incident: Incident, outcome: Outcome, reason: string): Promise<IncidentState> {
  incident.enter('review');
  incident.state.outcome = outcome;
  incident.state.outcomeReason = reason;
  const times = computeResponseTimes(incident.milestones, incident.input.policies.responseTimeTargetMs);
  const report = buildReview(incident.state, times);
  incident.state.report = await reporting.writeIncidentReport({ context: incident.context(), report });
  incident.record('wrote the post-incident report', incident.state.report.markdownPath);
  incident.enter(outcome);
  await condition(allHandlersFinished);
  return incident.state;
}

async function closeAsFalseAlarm(incident: Incident): Promise<IncidentState> {
  await incident.notify(['itTeam'], 'false-alarm');
  return reviewAndClose(incident, 'false-alarm', 'every probe answered');
}

async function handOverToPeople(incident: Incident, reason: string): Promise<IncidentState> {
  incident.record('escalated to people', reason);
  await incident.notify(['itTeam', 'management'], 'escalation', reason);
  return reviewAndClose(incident, 'escalated', reason);
}

function failureType(error: unknown): string | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** The incident's state and its message handlers, registered before the first await. */
class Incident {
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
    setHandler(alertSignal, (alert) => this.onAlert(alert));
    setHandler(approveSignal, ({ by, comment }) => this.decide({ kind: 'approved', by }, comment ?? ''));
    setHandler(rejectSignal, ({ by, reason }) => this.decide({ kind: 'rejected', by, reason }, reason));
    setHandler(confirmSignal, ({ by }) => this.onConfirm(by));
    setHandler(noteSignal, ({ by, text }) => {
      this.acknowledge();
      this.record('note', text, by);
    });
    setHandler(setEtaSignal, ({ by, eta }) => this.onSetEta(by, eta));
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
    this.acknowledge();
    this.decision = decision;
    if (decision.kind === 'approved') {
      this.state.approvedBy = decision.by;
      this.milestones.approvedAt ??= new Date().toISOString();
    }
    this.record(decision.kind, detail || this.state.pendingApproval?.actionId || '', decision.by);
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
