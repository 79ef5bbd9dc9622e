import type { IncidentMilestones, IncidentReport, IncidentState, PreventionPoint, ResponseTimes } from './messages';

export type Milestones = IncidentMilestones;

function elapsed(from: string | undefined, to: string | undefined): number | undefined {
  if (from === undefined || to === undefined) return undefined;
  return Math.max(0, Date.parse(to) - Date.parse(from));
}

/** Detect: alert start to incident open. Acknowledge: open to the first human action. Resolve: open to confirmed. */
export function computeResponseTimes(milestones: Milestones, targetMs: number): ResponseTimes {
  const resolveMs = elapsed(milestones.openedAt, milestones.resolvedAt);
  const times: ResponseTimes = { targetMs, withinTarget: resolveMs !== undefined && resolveMs <= targetMs };
  const detectMs = elapsed(milestones.detectedAt, milestones.openedAt);
  const acknowledgeMs = elapsed(milestones.openedAt, milestones.acknowledgedAt);
  const approveMs = elapsed(milestones.approvalRequestedAt, milestones.approvedAt);
  if (detectMs !== undefined) times.detectMs = detectMs;
  if (acknowledgeMs !== undefined) times.acknowledgeMs = acknowledgeMs;
  if (approveMs !== undefined) times.approveMs = approveMs;
  if (resolveMs !== undefined) times.resolveMs = resolveMs;
  return times;
}

function minutes(ms: number): string {
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** Answers the three post-incident review questions from what the incident recorded. */
export function buildReview(state: IncidentState, times: ResponseTimes): IncidentReport {
  const rootCause =
    state.outcome === 'false-alarm'
      ? 'None: every probe answered, so the alert was a false alarm.'
      : (state.diagnosis?.rootCause ?? 'Not established: the procedure ended before a diagnosis.');
  const responseTimeSufficient =
    times.resolveMs === undefined
      ? `Not resolved by the procedure (${state.outcome ?? state.phase}); target ${minutes(times.targetMs)}.`
      : `${times.withinTarget ? 'Yes' : 'No'}: resolved in ${minutes(times.resolveMs)} against a target of ${minutes(times.targetMs)}.`;
  const points = preventionPoints(state, times);
  const prevention = points.map(inEnglish);
  return {
    state,
    responseTimes: times,
    review: { rootCause, responseTimeSufficient, prevention, preventionPoints: points },
  };
}

function preventionPoints(state: IncidentState, times: ResponseTimes): PreventionPoint[] {
  const points: PreventionPoint[] = [];
  if (state.diagnosis) {
    const advice = state.diagnosis.prevention ?? [`Guard against the cause: ${state.diagnosis.rootCause}`];
    points.push(...advice.map((text): PreventionPoint => ({ kind: 'diagnosis', text })));
    points.push({ kind: 'rehearse-fix', fix: state.diagnosis.recommendation.description });
  }
  if (!times.withinTarget && state.outcome === 'closed') points.push({ kind: 'shorten-approval' });
  if (state.outcome === 'false-alarm') points.push({ kind: 'tune-alert' });
  if (state.outcome === 'escalated') points.push({ kind: 'review-escalation', reason: state.outcomeReason ?? '' });
  return points;
}

function inEnglish(point: PreventionPoint): string {
  switch (point.kind) {
    case 'diagnosis':
      return point.text;
    case 'rehearse-fix':
      return `Keep the fix documented and rehearsed (mailmend drill): ${point.fix}.`;
    case 'shorten-approval':
      return 'Shorten the approval path: approval took a large share of the response time.';
    case 'tune-alert':
      return 'Tune the alert rule that fired so it matches real outages.';
    case 'review-escalation':
      return `Review why the procedure escalated: ${point.reason}`;
  }
}
