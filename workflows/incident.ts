import { allHandlersFinished, condition, continueAsNew, patched, sleep } from '@temporalio/workflow';
import { probes, remediation, reporting, roundTrips, troubleshooting } from './activity-groups';
import { allServicesAnswer, classifyOutage, describeProbes } from './assessment';
import { FailureType } from './failure-types';
import { registerIncidentHandlers } from './incident-handlers';
import { Escalation, failureType, Incident, type Decision } from './incident-record';
import {
  AUDIENCES,
  NO_CATALOG_ACTION,
  type Diagnosis,
  type HypothesisSummary,
  type IncidentInput,
  type IncidentState,
  type Outcome,
  type ResumePoint,
} from './messages';
import { buildReview, computeResponseTimes } from './review';

const VERIFICATION_PROBE_ATTEMPTS = 6;

/** Thrown by a wait once the run's history nears Temporal's limits: the next run resumes at that wait. */
class HistoryFull extends Error {
  constructor(readonly resumeAt: ResumePoint) {
    super(`history full: resume ${resumeAt}`);
  }
}

/**
 * The seven-step mail outage procedure. One run per open incident, id `incident-<serverId>`, started or joined by
 * the `alert` signal. A long incident continues as new at one of its waits, carrying its state and clocks.
 */
export async function mailOutageIncident(input: IncidentInput): Promise<IncidentState> {
  const incident = new Incident(input);
  registerIncidentHandlers(incident);

  try {
    if (incident.resumeAt === undefined) {
      const classification = await assessOutage(incident);
      if (classification.healthy) return await closeAsFalseAlarm(incident);
      await notifyStakeholders(incident);
    } else {
      incident.publishPhase();
    }
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
    if (error instanceof HistoryFull) {
      await condition(allHandlersFinished);
      return await continueAsNew<typeof mailOutageIncident>(incident.carryOver(error.resumeAt));
    }
    if (!(error instanceof Escalation)) throw error;
    return await handOverToPeople(incident, error.reason);
  }
}

/** Waits until `done` holds, and throws {@link HistoryFull} instead when the run must hand over to a new one. */
async function waitOrHandOver(incident: Incident, done: () => boolean, timeoutMs: number, resumeAt: ResumePoint) {
  // Decided before the wait: a history from before the patch must wake exactly where it woke when it was recorded.
  const mayHandOver = patched('continue-as-new');
  const handOver = () => mayHandOver && incident.mustContinueAsNew();
  const woke = await condition(() => done() || handOver(), Math.max(1, timeoutMs));
  if (!done() && handOver()) throw new HistoryFull(resumeAt);
  return woke && done();
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
    const untilNextUpdate = Math.max(1, incident.nextUserUpdateAt - Date.now());
    await condition(() => incident.userUpdatesStopped || incident.etaChanged, untilNextUpdate);
    if (incident.userUpdatesStopped) return;
    incident.etaChanged = false;
    await incident.notify(['users'], 'update');
    incident.nextUserUpdateAt = Date.now() + incident.input.policies.updateIntervalMs;
  }
}

/** Steps 3 to 5: diagnose, fix with approval, verify; a failed verification goes back to troubleshooting. */
async function troubleshootFixAndVerify(incident: Incident): Promise<void> {
  const { maxRejections, maxVerificationAttempts } = incident.input.policies;
  if (incident.resumeAt === 'awaiting-confirmations') {
    await awaitConfirmations(incident);
    return;
  }
  let resumingApproval = incident.resumeAt === 'awaiting-approval';
  for (;;) {
    const diagnosis = resumingApproval ? diagnosisOf(incident) : await troubleshoot(incident);
    const decision = await awaitApproval(incident, diagnosis, resumingApproval);
    resumingApproval = false;
    if (decision.kind === 'rejected') {
      incident.state.rejections += 1;
      if (incident.state.rejections >= maxRejections) {
        throw new Escalation(`the fix was rejected ${incident.state.rejections} times, last by ${decision.by}`);
      }
      continue;
    }
    await applyFix(incident, approvedAction(incident, diagnosis, decision.actionId));
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
  if (diagnosis.recommendation.actionId === NO_CATALOG_ACTION) throw new Escalation(handoverReason(diagnosis));
  return diagnosis;
}

/** What people are told when mailmend hands over: why it cannot act, and what they could run by hand. */
function handoverReason(diagnosis: Diagnosis): string {
  const { handover } = diagnosis;
  if (!handover || !patched('handover-with-commands')) {
    return `no catalog action fits the evidence: ${diagnosis.rootCause}`;
  }
  const byHand = handover.suggestedCommands.length
    ? `; to run by hand on the host: ${handover.suggestedCommands.join(' && ')}`
    : '';
  return `${diagnosis.rootCause}. ${handover.reason}${byHand}`;
}

function diagnosisOf(incident: Incident): Diagnosis {
  const { diagnosis } = incident.state;
  if (!diagnosis) throw new Error('a run resumed at approval carries no diagnosis');
  return diagnosis;
}

/**
 * Step 4, first half: wait durably for a listed approver; escalate to management if nobody decides in time. A run
 * resumed at this wait keeps the request, its clock and its escalations as the previous run left them.
 */
async function awaitApproval(incident: Incident, diagnosis: Diagnosis, resumed: boolean): Promise<Decision> {
  const { approvalTimeoutMs } = incident.input.policies;
  if (!resumed) {
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
      ...offeredHypotheses(diagnosis),
    };
    incident.record('requested approval', `${recommendation.actionId} (risk ${recommendation.risk})`);
    await incident.notify(['itTeam'], 'update');
    incident.waitDeadlineAt = Date.now() + approvalTimeoutMs;
    incident.waitTimeouts = 0;
  }
  const decided = () => incident.decision !== undefined;
  while (!(await waitOrHandOver(incident, decided, incident.waitDeadlineAt - Date.now(), 'awaiting-approval'))) {
    incident.waitTimeouts += 1;
    const pendingApproval = incident.state.pendingApproval;
    if (incident.waitTimeouts === 1 && pendingApproval) {
      pendingApproval.escalatedAt = new Date().toISOString();
      incident.record('approval timed out: escalated to management', 'still waiting for approval');
      await incident.notify(['management', 'itTeam'], 'escalation', 'no approver has decided on the fix in time');
    } else {
      incident.record('approval still pending: reminded the IT team', 'still waiting for approval');
      await incident.notify(['itTeam'], 'reminder', 'the fix still awaits approval');
    }
    incident.waitDeadlineAt = Date.now() + approvalTimeoutMs;
  }
  const decision = incident.decision as Decision | undefined;
  if (!decision) throw new Error('approval wait ended without a decision');
  incident.state.pendingApproval = undefined;
  return decision;
}

const OFFERED_HYPOTHESES = 3;

/** The top hypotheses an approver sees, whose catalog actions they may approve instead of the recommended one. */
function offeredHypotheses(diagnosis: Diagnosis): { hypotheses?: HypothesisSummary[] } {
  const ranked = diagnosis.hypotheses ?? [];
  if (ranked.length === 0) return {};
  return {
    hypotheses: ranked
      .slice(0, OFFERED_HYPOTHESES)
      .map(({ cause, confidence, actionId }) => ({ cause, confidence, actionId })),
  };
}

/**
 * The action to run: the recommended one, or another offered hypothesis's that the approver chose. The chosen cause
 * then becomes the diagnosis, so the resolution notice and the review name what was actually fixed.
 */
function approvedAction(incident: Incident, diagnosis: Diagnosis, chosenActionId: string | undefined): string {
  const recommended = diagnosis.recommendation.actionId;
  if (chosenActionId === undefined || chosenActionId === recommended || !patched('approve-alternative')) {
    return recommended;
  }
  const chosen = diagnosis.hypotheses?.find((hypothesis) => hypothesis.actionId === chosenActionId);
  if (chosen) {
    incident.state.diagnosis = { ...diagnosis, rootCause: chosen.cause, evidence: chosen.evidenceFor };
    incident.record('the approver chose another cause', `${chosen.cause} (${chosenActionId})`);
  }
  return chosenActionId;
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
  incident.waitDeadlineAt = Date.now() + confirmationTimeoutMs;
  incident.waitTimeouts = 0;
  await awaitConfirmations(incident);
  return true;
}

/** Step 5, continued: enough distinct people confirm; the IT team is reminded each time the wait runs out. */
async function awaitConfirmations(incident: Incident): Promise<void> {
  const { confirmationsRequired, confirmationTimeoutMs } = incident.input.policies;
  const enoughConfirmations = () => incident.state.confirmations.length >= confirmationsRequired;
  const remaining = () => incident.waitDeadlineAt - Date.now();
  while (!(await waitOrHandOver(incident, enoughConfirmations, remaining(), 'awaiting-confirmations'))) {
    incident.waitTimeouts += 1;
    incident.record(
      'confirmations still missing: reminded the IT team',
      `${incident.state.confirmations.length} so far`,
    );
    await incident.notify(['itTeam'], 'reminder', 'the fix awaits confirmation by the team');
    incident.waitDeadlineAt = Date.now() + confirmationTimeoutMs;
  }
  incident.acceptingConfirmations = false;
  incident.milestones.resolvedAt = new Date().toISOString();
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
  // A certificate close to expiry is not an outage, but the IT team must hear of it before it becomes one.
  if ((incident.state.assessment?.certificateWarnings?.length ?? 0) > 0 && patched('certificate-expiry-warning')) {
    incident.record('certificate expires soon', 'warned the IT team');
    await incident.notify(['itTeam'], 'certificate-expiry');
  }
  return reviewAndClose(incident, 'false-alarm', 'every probe answered');
}

async function handOverToPeople(incident: Incident, reason: string): Promise<IncidentState> {
  incident.record('escalated to people', reason);
  await incident.notify(['itTeam', 'management'], 'escalation', reason);
  return reviewAndClose(incident, 'escalated', reason);
}
