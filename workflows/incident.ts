import {
  ActivityFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  patched,
  TimeoutFailure,
  WorkflowError,
} from '@temporalio/workflow';
import {
  assessmentProbes,
  probes,
  remediation,
  reporting,
  roundTrips,
  singleAttemptRemediation,
  troubleshooting,
} from './activity-groups';
import {
  allServicesAnswer,
  classifyOutage,
  describeProbes,
  describeUnchecked,
  failingChecks,
  type Assessment,
} from './assessment';
import { FailureType } from './failure-types';
import { registerIncidentHandlers } from './incident-handlers';
import {
  causeMessage,
  ClosedByPerson,
  Escalation,
  escalationCauseOf,
  failureType,
  Incident,
  type Decision,
} from './incident-record';
import {
  AUDIENCES,
  NO_CATALOG_ACTION,
  type CloseSignal,
  type Diagnosis,
  type HypothesisSummary,
  type IncidentInput,
  type IncidentReport,
  type IncidentState,
  type Outcome,
  type PendingApproval,
  type ProbeReport,
  type ResumePoint,
  type Severity,
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
    return await runProcedure(incident);
  } catch (error) {
    return await endSafely(incident, error, () => endAfter(incident, error));
  }
}

/** Steps 1 to 7 as they go when nothing interrupts them; whatever does is thrown for {@link endAfter}. */
async function runProcedure(incident: Incident): Promise<IncidentState> {
  if (incident.resumeAt === undefined) {
    const assessment = await assessOutage(incident);
    if (assessment.outcome === 'healthy') return await closeAsFalseAlarm(incident);
    // Mail answers every check that could be made: users have nothing to hear, but a person must see the host.
    if (assessment.outcome === 'incomplete') throw new Escalation('assessment-incomplete', assessment.reason);
    await notifyStakeholders(incident);
    if (assessment.outcome === 'no-answer') throw new Escalation('assessment-incomplete', assessment.reason);
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
  incident.stopIfClosed();
  return await reviewAndClose(incident, 'closed', 'verified and confirmed');
}

/** How the procedure ends once something interrupted it: a new run, a person's close, or people taking over. */
async function endAfter(incident: Incident, error: unknown): Promise<IncidentState> {
  if (error instanceof HistoryFull) {
    await condition(allHandlersFinished);
    return await continueAsNew<typeof mailOutageIncident>(incident.carryOver(error.resumeAt));
  }
  if (error instanceof ClosedByPerson) return await closeByPerson(incident, error.request);
  // Cancelled from the Temporal UI or CLI, whatever was running: the procedure stops as a person's close would.
  if (isCancellation(error) && patched(NO_SILENT_FAILURE)) {
    const request = { by: 'a Temporal cancel request', reason: 'the incident workflow was cancelled in Temporal' };
    return await closeByPerson(incident, request);
  }
  if (error instanceof ActivityFailure && patched('escalate-failed-activity')) {
    const type = failureType(error) ?? 'activity failed';
    const detail = error.cause?.message ?? error.message;
    return await handOverToPeople(incident, new Escalation(escalationCauseOf(type), `${type}: ${detail}`));
  }
  if (error instanceof Escalation) return await handOverToPeople(incident, error);
  if (isSdkControl(error) || !patched(NO_SILENT_FAILURE)) throw error;
  return await handOverToPeople(
    incident,
    new Escalation('unexpected-failure', `the procedure failed unexpectedly: ${causeMessage(error)}`),
  );
}

/** Incidents started before this let an unexpected error fail the workflow; their histories replay that. */
const NO_SILENT_FAILURE = 'no-silent-failure';

/** Errors the SDK itself throws to steer the run (a new run, a non-determinism): never the procedure's to handle. */
function isSdkControl(error: unknown): boolean {
  return error instanceof ContinueAsNew || error instanceof WorkflowError;
}

/**
 * Runs the ending; if the ending itself fails, the incident still ends escalated: the timeline says why, and the IT
 * team and management hear it on every channel that still works. A workflow that fails would tell nobody.
 */
async function endSafely(
  incident: Incident,
  original: unknown,
  end: () => Promise<IncidentState>,
): Promise<IncidentState> {
  try {
    // Once ending, a cancel must not stop the notices and the report that tell people how it ended.
    return await CancellationScope.nonCancellable(end);
  } catch (error) {
    if (isSdkControl(error) || error === original || !patched(NO_SILENT_FAILURE)) throw error;
    return await CancellationScope.nonCancellable(() => escalateAsLastResort(incident, original, error));
  }
}

async function escalateAsLastResort(incident: Incident, original: unknown, error: unknown): Promise<IncidentState> {
  incident.finishing = true;
  const reason = `the procedure stopped (${causeMessage(original)}) and could not end normally: ${causeMessage(error)}`;
  incident.record('escalated to people', reason);
  try {
    await incident.notify(['itTeam', 'management'], 'escalation', { reason, escalation: 'unexpected-failure' });
  } catch (notifyError) {
    incident.record('could not notify anyone', causeMessage(notifyError));
  }
  incident.state.outcome = 'escalated';
  incident.state.outcomeReason = reason;
  let report: IncidentReport;
  try {
    report = buildReview(
      incident.state,
      computeResponseTimes(incident.milestones, incident.input.policies.responseTimeTargetMs),
    );
  } catch (reviewError) {
    incident.record('could not build the review', causeMessage(reviewError));
    incident.enter('escalated');
    await condition(allHandlersFinished);
    return incident.state;
  }
  try {
    incident.state.report = await reporting.writeIncidentReport({ context: incident.context(), report });
    incident.record('wrote the post-incident report', incident.state.report.markdownPath);
  } catch (reportError) {
    incident.state.unwrittenReview = { responseTimes: report.responseTimes, review: report.review };
    incident.record('could not write the post-incident report', causeMessage(reportError));
  }
  incident.enter('escalated');
  await condition(allHandlersFinished);
  return incident.state;
}

/**
 * Waits until `done` holds. Throws {@link ClosedByPerson} when an approver closes the incident meanwhile, and
 * {@link HistoryFull} when the run must hand over to a new one.
 */
async function waitOrHandOver(incident: Incident, done: () => boolean, timeoutMs: number, resumeAt: ResumePoint) {
  // Decided before the wait: a history from before the patch must wake exactly where it woke when it was recorded.
  const mayHandOver = patched('continue-as-new');
  const handOver = () => mayHandOver && incident.mustContinueAsNew();
  const closed = () => incident.closeRequest !== undefined;
  const woke = await condition(() => done() || handOver() || closed(), Math.max(1, timeoutMs));
  incident.stopIfClosed();
  if (!done() && handOver()) throw new HistoryFull(resumeAt);
  return woke && done();
}

/** A settling pause that an approver's close cuts short. */
async function pause(incident: Incident, ms: number): Promise<void> {
  await condition(() => incident.closeRequest !== undefined, ms);
  incident.stopIfClosed();
}

/** Step 1: is the server really down, and for whom? */
async function assessOutage(incident: Incident): Promise<Assessment> {
  incident.enter('assessment');
  if (!patched(BOUNDED_ASSESSMENT)) {
    const report = await probes.probeServer({ context: incident.context() });
    const { healthy } = classifyAssessment(incident, report);
    return healthy ? { outcome: 'healthy' } : { outcome: 'outage' };
  }
  const deadlineMs = incident.input.policies.assessmentDeadlineMs ?? DEFAULT_ASSESSMENT_DEADLINE_MS;
  let report: ProbeReport;
  try {
    report = await assessmentProbes(deadlineMs).probeServer({
      context: incident.context(),
      deadlineMs: Math.max(deadlineMs / 2, deadlineMs - REPORT_MARGIN_MS),
    });
  } catch (error) {
    if (!(error instanceof ActivityFailure) || isCancellation(error)) throw error;
    return assessedWithoutAnswer(incident, deadlineMs, error);
  }
  const unchecked = report.unchecked ?? [];
  const { healthy } = classifyAssessment(incident, report);
  if (healthy) return { outcome: 'healthy' };
  if (incident.state.scope !== 'unknown' || unchecked.length === 0) return { outcome: 'outage' };
  return {
    outcome: 'incomplete',
    reason: `every check that could be made passed, but these could not: ${describeUnchecked(unchecked)}; a person must look at the host`,
  };
}

/** Incidents started before the deadline waited on the probes' own timeouts and retries; their histories replay that. */
const BOUNDED_ASSESSMENT = 'bounded-assessment';
const DEFAULT_ASSESSMENT_DEADLINE_MS = 30_000;
/** The probes report this long before the deadline, so their partial report reaches the workflow in time. */
const REPORT_MARGIN_MS = 3_000;

/**
 * Classifies what the probes saw. When some checks could not be made, passing all the others proves nothing: the
 * alert cannot be called false, and who is affected is not known.
 */
function classifyAssessment(incident: Incident, report: ProbeReport) {
  const classification = classifyOutage(report, incident.alertedMailbox());
  incident.state.assessment = report;
  incident.state.severity = classification.severity;
  incident.state.scope = classification.scope;
  incident.publishSearchAttributes();
  incident.record('probed the server', describeProbes(report));
  incident.record('classified the outage', `severity ${classification.severity}, scope ${classification.scope}`);
  incident.stopIfClosed();
  return classification;
}

/** The probes gave nothing back by the deadline: the alert stands, as an outage nobody can size yet. */
function assessedWithoutAnswer(incident: Incident, deadlineMs: number, error: ActivityFailure): Assessment {
  const why = `${failureType(error) ?? error.cause?.name ?? 'failure'}: ${causeMessage(error)}`;
  const what =
    error.cause instanceof TimeoutFailure
      ? `gave no report within the ${Math.round(deadlineMs / 1000)} s deadline`
      : 'failed before they could report';
  incident.state.severity = 'major';
  incident.state.scope = 'unknown';
  incident.publishSearchAttributes();
  incident.record('probed the server', `the checks ${what} (${why})`);
  incident.record('classified the outage', 'severity major, scope unknown: the checks did not answer');
  incident.stopIfClosed();
  return {
    outcome: 'no-answer',
    reason: `the checks of the mail server ${what} (${why}), so nothing could be diagnosed; a person must look at the host`,
  };
}

/** Step 2: tell everyone, each audience in its own words. */
async function notifyStakeholders(incident: Incident): Promise<void> {
  incident.enter('notification');
  if (incident.input.policies.initialEtaMs !== undefined && incident.state.eta === undefined) {
    incident.state.eta = new Date(Date.now() + incident.input.policies.initialEtaMs).toISOString();
    incident.record('set the initial ETA from policy', incident.state.eta);
  }
  await incident.notify(AUDIENCES, 'outage');
  incident.stopIfClosed();
}

/** Step 2, continued: a durable timer keeps users informed until the incident is resolved. */
async function keepUsersInformed(incident: Incident): Promise<void> {
  for (;;) {
    const untilNextUpdate = Math.max(1, incident.nextUserUpdateAt - Date.now());
    const stopped = () => incident.userUpdatesStopped || incident.closeRequest !== undefined;
    await condition(() => stopped() || incident.etaChanged, untilNextUpdate);
    if (stopped()) return;
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
  let reprobed: ProbeReport | undefined;
  let replaced: PendingApproval | undefined;
  for (;;) {
    const diagnosis = resumingApproval ? diagnosisOf(incident) : await troubleshoot(incident, reprobed);
    const decision = await awaitApproval(incident, diagnosis, resumingApproval, replaced);
    resumingApproval = false;
    reprobed = undefined;
    replaced = undefined;
    if (decision.kind === 'server-changed') {
      reprobed = decision.probes;
      replaced = decision.previous;
      await reclassify(incident, decision.probes);
      continue;
    }
    if (decision.kind === 'rejected') {
      incident.state.rejections += 1;
      if (incident.state.rejections >= maxRejections) {
        const reason = `the fix was rejected ${incident.state.rejections} times, last by ${decision.by}`;
        throw new Escalation('rejected', reason);
      }
      continue;
    }
    await applyFix(incident, approvedAction(incident, diagnosis, decision.actionId));
    if (await verifyFix(incident)) return;
    if (incident.state.verificationAttempts >= maxVerificationAttempts) {
      throw new Escalation('verification-failed', `verification failed ${incident.state.verificationAttempts} times`);
    }
  }
}

/** Step 3: find the root cause from evidence: the latest probes, or those of a re-probe that saw the server change. */
async function troubleshoot(incident: Incident, reprobed?: ProbeReport): Promise<Diagnosis> {
  incident.enter('troubleshooting');
  const latestProbes = reprobed ?? incident.state.verification ?? incident.state.assessment;
  if (!latestProbes) throw new Error('troubleshooting needs the assessment probes');
  const diagnosis = await incident.escalateOn([FailureType.HostKeyMismatch, FailureType.UnknownServer], () =>
    troubleshooting.diagnoseOutage({ context: incident.context(), probes: latestProbes }),
  );
  incident.state.diagnosis = diagnosis;
  incident.diagnosedFailures = failingChecks(latestProbes);
  incident.record('diagnosed the outage', diagnosis.rootCause);
  incident.stopIfClosed();
  if (diagnosis.recommendation.actionId === NO_CATALOG_ACTION) {
    throw new Escalation('no-automatic-fix', handoverReason(diagnosis));
  }
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

/** How an approval wait ends: people decided, or a re-probe found the server failing differently. */
type ApprovalOutcome = Decision | { kind: 'server-changed'; probes: ProbeReport; previous: PendingApproval };

/**
 * Step 4, first half: wait durably for enough listed approvers; escalate to management if nobody decides in time.
 * A new firing alert meanwhile has the server probed again (at most every few minutes): if it fails differently
 * from the probes the diagnosis was built on, the procedure diagnoses again. A run resumed at this wait keeps the
 * request, its approvals, its clock and its escalations as the previous run left them.
 */
async function awaitApproval(
  incident: Incident,
  diagnosis: Diagnosis,
  resumed: boolean,
  replaced: PendingApproval | undefined,
): Promise<ApprovalOutcome> {
  const reprobes = patched('reprobe-on-alert');
  if (!resumed) await requestApproval(incident, diagnosis, reprobes, replaced);
  const decided = () => incident.decision !== undefined;
  const reprobeDue = () => reprobes && incident.reprobeDue();
  for (;;) {
    // Alerts already counted time the wait for their re-probe; a first new one wakes the wait so the next is so timed.
    const alertsPending = reprobes && incident.firingAlertsSinceProbe > 0;
    const wakeAt = alertsPending
      ? Math.min(incident.waitDeadlineAt, Math.max(incident.nextReprobeAt, Date.now()))
      : incident.waitDeadlineAt;
    const newAlert = () => reprobes && !alertsPending && incident.firingAlertsSinceProbe > 0;
    await waitOrHandOver(incident, () => decided() || newAlert(), wakeAt - Date.now(), 'awaiting-approval');
    if (decided()) break;
    if (reprobeDue()) {
      const changed = await reprobe(incident);
      const previous = incident.state.pendingApproval;
      if (changed && previous && !decided()) {
        incident.state.pendingApproval = undefined;
        return { kind: 'server-changed', probes: changed, previous };
      }
      continue;
    }
    if (newAlert()) continue;
    if (Date.now() >= incident.waitDeadlineAt) await chaseApprovers(incident);
  }
  const decision = incident.decision as Decision | undefined;
  if (!decision) throw new Error('approval wait ended without a decision');
  incident.state.pendingApproval = undefined;
  incident.publishSearchAttributes();
  return decision;
}

/**
 * Asks the IT team to approve the recommended action. A request that replaces one after the server changed keeps its
 * deadline and escalation, so flapping alerts cannot put off management's escalation, and keeps the approvals already
 * given when it asks for the same action.
 */
async function requestApproval(
  incident: Incident,
  diagnosis: Diagnosis,
  reprobes: boolean,
  replaced: PendingApproval | undefined,
): Promise<void> {
  incident.enter('awaiting-approval');
  const { recommendation } = diagnosis;
  const since = new Date().toISOString();
  incident.milestones.approvalRequestedAt ??= since;
  incident.decision = undefined;
  incident.firingAlertsSinceProbe = 0;
  incident.state.pendingApproval = {
    actionId: recommendation.actionId,
    description: recommendation.description,
    risk: recommendation.risk,
    since,
    approvers: [...incident.input.approvers],
    ...offeredHypotheses(diagnosis),
    ...(incident.countsDistinctApprovers
      ? { required: incident.approvalsRequired(recommendation.risk), approvedBy: [] }
      : {}),
    ...(reprobes && incident.diagnosedFailures ? { failingChecks: incident.diagnosedFailures } : {}),
    ...keptFrom(replaced, recommendation.actionId),
  };
  incident.publishSearchAttributes();
  incident.record('requested approval', `${recommendation.actionId} (risk ${recommendation.risk})`);
  await incident.notify(['itTeam'], 'update');
  if (replaced) return;
  incident.waitDeadlineAt = Date.now() + incident.input.policies.approvalTimeoutMs;
  incident.waitTimeouts = 0;
}

/** What a replacing request keeps of the one it replaces. */
function keptFrom(replaced: PendingApproval | undefined, actionId: string): Partial<PendingApproval> {
  if (!replaced) return {};
  const kept: Partial<PendingApproval> = { since: replaced.since };
  if (replaced.escalatedAt) kept.escalatedAt = replaced.escalatedAt;
  if (replaced.actionId === actionId) {
    if (replaced.approvedBy) kept.approvedBy = [...replaced.approvedBy];
    if (replaced.requests) kept.requests = replaced.requests.map((request) => ({ ...request }));
  }
  return kept;
}

/** The server changed under the diagnosis: its severity and scope follow, and users and management hear if worse. */
async function reclassify(incident: Incident, probes: ProbeReport): Promise<void> {
  const { severity, scope } = classifyOutage(probes, incident.alertedMailbox());
  const { state } = incident;
  if (severity === state.severity && scope === state.scope) return;
  const worse = SEVERITY_RANK.indexOf(severity) > SEVERITY_RANK.indexOf(state.severity);
  incident.record('classified the outage again', `severity ${severity}, scope ${scope}`);
  state.severity = severity;
  state.scope = scope;
  incident.publishSearchAttributes();
  if (worse) await incident.notify(['users', 'management'], 'update');
}

const SEVERITY_RANK: readonly Severity[] = ['none', 'minor', 'major', 'critical'];

/** The approval wait ran out: management hears the first time, the IT team is reminded every time after. */
async function chaseApprovers(incident: Incident): Promise<void> {
  incident.waitTimeouts += 1;
  const pendingApproval = incident.state.pendingApproval;
  if (incident.waitTimeouts === 1 && pendingApproval) {
    pendingApproval.escalatedAt = new Date().toISOString();
    incident.record('approval timed out: escalated to management', 'still waiting for approval');
    await incident.notify(['management', 'itTeam'], 'escalation', {
      reason: 'no approver has decided on the fix in time',
      escalation: 'approval-timeout',
    });
  } else {
    incident.record('approval still pending: reminded the IT team', 'still waiting for approval');
    await incident.notify(['itTeam'], 'reminder', { reason: 'the fix still awaits approval' });
  }
  incident.waitDeadlineAt = Date.now() + incident.input.policies.approvalTimeoutMs;
}

/**
 * Probes the server again for the alerts that came in while the fix waited. Returns the new probes when the set of
 * failing checks differs from the one the pending diagnosis was built on, and nothing when it still matches.
 */
async function reprobe(incident: Incident): Promise<ProbeReport | undefined> {
  incident.startReprobe();
  let report: ProbeReport;
  try {
    report = await probes.probeServer({ context: incident.context() });
  } catch (error) {
    if (!(error instanceof ActivityFailure) || isCancellation(error)) throw error;
    incident.record('re-probed after a new alert', `failed: ${failureType(error) ?? 'probe failed'}`);
    return undefined;
  }
  incident.stopIfClosed();
  const built =
    incident.state.pendingApproval?.failingChecks ??
    failingOf(incident.state.verification ?? incident.state.assessment);
  const now = failingChecks(report);
  if (now.join(',') === built.join(',')) {
    incident.record('re-probed: still matches', describeProbes(report));
    return undefined;
  }
  incident.record(
    're-probed: the server changed',
    `failing before: ${built.join(', ') || 'none'}; now: ${now.join(', ') || 'none'}`,
  );
  return report;
}

function failingOf(report: ProbeReport | undefined): string[] {
  return report ? failingChecks(report) : [];
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
  // Decided once, before the fix is scheduled: a history from before the patch ran it with a single attempt.
  const survivesWorkerLoss = patched(REMEDIATION_SURVIVES_WORKER_LOSS);
  const fixes = survivesWorkerLoss ? remediation : singleAttemptRemediation;
  try {
    const result = await fixes.runRemediation({ context: incident.context(), actionId });
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
    if (isCancellation(error)) throw error;
    const type = failureType(error);
    const escalatingTypes: (string | undefined)[] = [
      FailureType.HostKeyMismatch,
      FailureType.RemediationUnavailable,
      FailureType.UnknownRemediationAction,
    ];
    if (type !== undefined && escalatingTypes.includes(type)) {
      throw new Escalation(escalationCauseOf(type), `remediation ${actionId} could not run: ${type}`);
    }
    // An sshd that never finishes its handshake ran nothing, and verifying would only wait on the same hung host.
    if (type === FailureType.SshHandshakeTimeout && patched(NO_SILENT_FAILURE)) {
      throw new Escalation('host-unreachable', `remediation ${actionId} could not run: ${causeMessage(error)}`);
    }
    // The first attempt of an action that is not idempotent did not finish (its worker was lost, say) and may have
    // run in part: what the host is left in is for a person to judge, and only a person may run it again.
    if (type === FailureType.RemediationNotRetried && survivesWorkerLoss) {
      const reason = `the first attempt of remediation ${actionId} did not finish: ${causeMessage(error)}`;
      throw new Escalation('remediation-interrupted', `${reason}; a person must check the host`);
    }
    // A failed fix is recorded and verification decides what happens next.
    incident.record(`ran ${actionId}`, `failed: ${type ?? 'unknown failure'}`);
  }
  incident.stopIfClosed();
}

/** Incidents started before this ran each fix once, so a worker lost mid-fix failed it; their histories replay that. */
const REMEDIATION_SURVIVES_WORKER_LOSS = 'remediation-survives-worker-loss';

/**
 * Step 5: probe again, send a round-trip message, then wait for enough distinct people to confirm. People may
 * confirm as soon as the fix ran; their confirmations count only if the automated checks pass too.
 */
async function verifyFix(incident: Incident): Promise<boolean> {
  incident.enter('verification');
  incident.state.verificationAttempts += 1;
  incident.state.confirmations = [];
  incident.acceptingConfirmations = true;
  incident.checksPassed = false;
  const verified = await verifyAutomatically(incident);
  if (!verified) {
    incident.acceptingConfirmations = false;
    return false;
  }
  incident.checksPassed = true;
  const { confirmationsRequired, confirmationTimeoutMs } = incident.input.policies;
  await incident.notify(['itTeam'], 'update', {
    reason: `automated checks pass; ${confirmationsRequired} confirmations needed`,
  });
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
    await incident.notify(['itTeam'], 'reminder', { reason: 'the fix awaits confirmation by the team' });
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
    incident.stopIfClosed();
    if (allServicesAnswer(report)) break;
    if (attempt >= attempts || settleMs === 0) return false;
    await pause(incident, settleMs / attempts);
  }
  if (withRoundTrip) {
    const roundTrip = await roundTrips.verifyRoundTrip({ context: incident.context() });
    incident.state.roundTrip = roundTrip;
    incident.record('sent a round-trip test message', roundTrip.detail);
    incident.stopIfClosed();
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
  try {
    incident.state.report = await reporting.writeIncidentReport({ context: incident.context(), report });
    incident.record('wrote the post-incident report', incident.state.report.markdownPath);
  } catch (error) {
    if (!(error instanceof ActivityFailure) || isCancellation(error) || !patched(NO_SILENT_FAILURE)) throw error;
    await keepUnwrittenReview(incident, report, error);
  }
  incident.enter(outcome);
  await condition(allHandlersFinished);
  return incident.state;
}

/** The review is kept in the incident's result instead, and the IT team and management hear where to find it. */
async function keepUnwrittenReview(
  incident: Incident,
  { responseTimes, review }: IncidentReport,
  error: ActivityFailure,
) {
  incident.state.unwrittenReview = { responseTimes, review };
  const detail = `${failureType(error) ?? 'failure'}: ${causeMessage(error)}`;
  incident.record('could not write the post-incident report', detail);
  await incident.notify(['itTeam', 'management'], 'escalation', {
    reason: `the post-incident report could not be written (${detail}); the review is kept in the result of workflow ${incident.context().incidentId}`,
    escalation: 'unexpected-failure',
  });
}

async function closeAsFalseAlarm(incident: Incident): Promise<IncidentState> {
  incident.finishing = true;
  await incident.notify(['itTeam'], 'false-alarm');
  // A certificate close to expiry is not an outage, but the IT team must hear of it before it becomes one.
  if ((incident.state.assessment?.certificateWarnings?.length ?? 0) > 0 && patched('certificate-expiry-warning')) {
    incident.record('certificate expires soon', 'warned the IT team');
    await incident.notify(['itTeam'], 'certificate-expiry');
  }
  return reviewAndClose(incident, 'false-alarm', 'every probe answered');
}

async function handOverToPeople(incident: Incident, { code, reason }: Escalation): Promise<IncidentState> {
  incident.finishing = true;
  incident.record('escalated to people', reason);
  const unchecked = code === 'assessment-incomplete' ? incident.state.assessment?.unchecked : undefined;
  await incident.notify(['itTeam', 'management'], 'escalation', {
    reason,
    escalation: code,
    ...(unchecked ? { unchecked } : {}),
  });
  return reviewAndClose(incident, 'escalated', reason);
}

/** An approver ended the procedure: the IT team and management hear who and why, and the review is still written. */
async function closeByPerson(incident: Incident, { by, reason }: CloseSignal): Promise<IncidentState> {
  incident.finishing = true;
  incident.record('stopped the procedure', `closed by ${by}`);
  // Users who were told of the outage were promised word when it ends; those never told hear nothing.
  const toldOfOutage = AUDIENCES.filter((audience) => audience !== 'users' || incident.hasNotified('users'));
  await incident.notify(toldOfOutage, 'closed', { reason, closedBy: by });
  return reviewAndClose(incident, 'closed', `closed by ${by}: ${reason}`);
}
