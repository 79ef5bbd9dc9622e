import { textTable } from '../../platform/text-table';
import {
  NO_CATALOG_ACTION,
  type CommandRecord,
  type Hypothesis,
  type IncidentState,
  type Phase,
} from '../../workflows/messages';
import type { IncidentSummary } from '../incidents';

const TIMELINE_ENTRIES_SHOWN = 15;
/** Ended, or past the resolution notice: the incident closes by itself, and a close would be refused. */
const NOTHING_TO_DO_PHASES: readonly Phase[] = ['closed', 'false-alarm', 'escalated', 'resolution-notice', 'review'];

/** One line per incident, newest first, as a plain-text table; `-` where an older incident records nothing. */
export function renderIncidentList(
  incidents: IncidentSummary[],
  filter: { openOnly: boolean; phase?: string },
): string {
  if (incidents.length === 0) {
    const which = [filter.openOnly ? 'open ' : '', 'incidents', filter.phase ? ` in phase ${filter.phase}` : ''];
    return `no ${which.join('')}\n`;
  }
  const rows = [
    ['SERVER', 'PHASE', 'SEVERITY', 'PENDING ACTION', 'STATUS', 'STARTED', 'CLOSED', 'WORKFLOW'],
    ...incidents.map((incident) => [
      incident.serverId,
      incident.phase ?? '-',
      incident.severity ?? '-',
      incident.pendingAction ?? '-',
      incident.status,
      incident.startTime.toISOString(),
      incident.closeTime?.toISOString() ?? '-',
      incident.workflowId,
    ]),
  ];
  return textTable(rows);
}

/** Who the printed commands name: people the incident knows, else the ones the caller supplies. */
export interface CommandPeople {
  /** Used when the incident names no approver (after approval, the state no longer lists them). */
  approvers?: readonly string[];
  /** Distinct people to confirm; confirming needs no role. */
  confirmers?: readonly string[];
}

/**
 * The `npx mailmend` commands that move the incident on from where it stands, each runnable as printed. Empty once
 * the incident ended or while mailmend is working on its own.
 */
export function nextCommands(state: IncidentState, people: CommandPeople = {}): string[] {
  const server = state.serverId;
  const approvers = state.pendingApproval?.approvers.length
    ? state.pendingApproval.approvers
    : [...(state.approvedBy ? [state.approvedBy] : []), ...(people.approvers ?? [])];
  const approvedAlready = new Set(state.pendingApproval?.approvedBy ?? []);
  const approver = approvers.find((person) => !approvedAlready.has(person)) ?? approvers[0] ?? '"$USER"';
  if (NOTHING_TO_DO_PHASES.includes(state.phase)) return [];
  const pending = state.pendingApproval;
  if (state.phase === 'awaiting-approval' && pending) {
    const alternatives = (pending.hypotheses ?? []).filter(
      (offered) => offered.actionId !== pending.actionId && offered.actionId !== NO_CATALOG_ACTION,
    );
    return [
      `npx mailmend incidents approve ${server} --by ${approver}`,
      ...alternatives.map(
        (offered) => `npx mailmend incidents approve ${server} --by ${approver} --action ${offered.actionId}`,
      ),
      `npx mailmend incidents reject ${server} --by ${approver} --reason "not now"`,
    ];
  }
  if (state.phase === 'verification' && state.roundTrip?.ok) {
    const confirmed = new Set(state.confirmations.map((confirmation) => confirmation.by));
    const candidates = (people.confirmers ?? ['"$USER"']).filter((person) => !confirmed.has(person));
    const missing = Math.max(0, state.confirmationsRequired - confirmed.size);
    return candidates
      .slice(0, Math.max(1, missing))
      .map((person) => `npx mailmend incidents confirm ${server} --by ${person}`);
  }
  return [`npx mailmend incidents close ${server} --by ${approver} --reason "fixed by hand"`];
}

/** The incident as an on-call engineer reads it: where it stands, what it waits for, and what happened last. */
export function renderIncidentState(state: IncidentState, now: Date): string {
  const lines: string[] = [`Incident ${state.incidentId} on ${state.serverId}`];
  const field = (name: string, value: string) => lines.push(`  ${(name ? `${name}:` : '').padEnd(16)}${value}`);

  field('phase', state.phase);
  if (state.outcome) field('outcome', `${state.outcome}${state.outcomeReason ? ` (${state.outcomeReason})` : ''}`);
  field('severity', state.severity);
  field('scope', state.scope);
  for (const { check, reason } of state.assessment?.unchecked ?? []) field('not checked', `${check}: ${reason}`);
  field('opened', `${state.openedAt} (${describeDistance(new Date(state.openedAt), now)})`);
  field('ETA', state.eta ? `${state.eta} (${describeDistance(new Date(state.eta), now)})` : 'not set');
  if (state.diagnosis) field('root cause', state.diagnosis.rootCause);
  if (state.diagnosis) field('fix', describeRecommendation(state.diagnosis.recommendation));

  approvalFields(state, field);

  const confirmedBy = state.confirmations.map((confirmation) => confirmation.by);
  field(
    'confirmations',
    `${state.confirmations.length}/${state.confirmationsRequired}${confirmedBy.length > 0 ? ` (${confirmedBy.join(', ')})` : ''}`,
  );
  const failed = state.notifications.filter((notification) => !notification.ok).length;
  const sent = state.notifications.length + (state.notificationsOmitted ?? 0);
  field('notifications', `${sent} sent${failed > 0 ? `, ${failed} failed` : ''}`);
  field('alerts', `${state.alertsReceived} received, ${state.alerts.length} distinct`);
  if (state.report) field('report', state.report.markdownPath);
  else if (state.unwrittenReview) field('report', 'not written: the review is in the workflow result');

  lines.push(...evidenceSections(state));

  const next = nextCommands(state);
  if (next.length > 0) lines.push('', 'Next:', ...next.map((command) => `  ${command}`));

  lines.push('', ...timelineSection(state));
  return `${lines.join('\n')}\n`;
}

type Field = (name: string, value: string) => void;

function approvalFields(state: IncidentState, field: Field): void {
  const pending = state.pendingApproval;
  if (!pending) {
    field('approval', state.approvedBy ? `approved by ${state.approvedBy}` : 'none pending');
    return;
  }
  field(
    'approval',
    `waiting since ${pending.since} for ${pending.actionId}: ${pending.description} (risk ${pending.risk})`,
  );
  field('may approve', pending.approvers.join(', ') || 'nobody is configured');
  if ((pending.required ?? 1) > 1) {
    const approvedBy = pending.approvedBy ?? [];
    const who = approvedBy.length > 0 ? ` (${approvedBy.join(', ')})` : '';
    field('approvals', `${approvedBy.length} of ${pending.required}${who}`);
  }
  // Diagnoses that rank causes list them in full below, with their evidence.
  const offeredOnly = state.diagnosis?.hypotheses?.length ? [] : (pending.hypotheses ?? []);
  for (const [index, offered] of offeredOnly.entries()) {
    field(
      index === 0 ? 'causes' : '',
      `${index + 1}. ${offered.cause} (confidence ${offered.confidence.toFixed(2)}, action ${offered.actionId})`,
    );
  }
  if (pending.escalatedAt) field('escalated', pending.escalatedAt);
}

function timelineSection(state: IncidentState): string[] {
  const shown = state.timeline.slice(-TIMELINE_ENTRIES_SHOWN);
  return [
    shown.length < state.timeline.length
      ? `Timeline (last ${shown.length} of ${state.timeline.length}):`
      : `Timeline (${state.timeline.length}):`,
    ...shown.map(
      (entry) =>
        `  ${entry.at}  ${entry.phase.padEnd(17)} ${entry.actor.padEnd(12)} ${entry.event} -> ${entry.outcome}`,
    ),
  ];
}

function describeRecommendation(recommendation: {
  actionId: string;
  description: string;
  risk: string;
  rollback: string;
}): string {
  return `${recommendation.actionId}: ${recommendation.description} (risk ${recommendation.risk}); rollback: ${recommendation.rollback}`;
}

/**
 * Everything an approver weighs, in full: the diagnosis's evidence, each cause with the evidence for and against it and
 * any hand-over commands, and what the remediations saw and ran. Nothing is shortened, so a diff or a backup path
 * reads as the host printed it.
 */
function evidenceSections(state: IncidentState): string[] {
  const lines: string[] = [];
  const { diagnosis } = state;
  if (diagnosis) {
    lines.push('', `Evidence (${diagnosis.evidence.length}):`, ...diagnosis.evidence.map((line) => `  - ${line}`));
    const hypotheses = diagnosis.hypotheses ?? [];
    if (hypotheses.length > 0) lines.push('', 'Causes considered, best first:');
    for (const [index, hypothesis] of hypotheses.entries()) lines.push(...describeHypothesis(index, hypothesis));
    for (const { file, comparedWith, diff } of diagnosis.configDiffs ?? []) {
      lines.push('', `Diff of ${file} against ${comparedWith}:`, ...indent(diff, 4));
    }
    if (diagnosis.handover) {
      lines.push('', `Hand-over: ${diagnosis.handover.reason}`);
      lines.push(...diagnosis.handover.suggestedCommands.map((command) => `    $ ${command}`));
    }
    if (diagnosis.prevention?.length) {
      lines.push('', 'Prevention (recommended):', ...diagnosis.prevention.map((line) => `  - ${line}`));
    }
  }
  for (const remediation of state.remediations) {
    const outcome = remediation.alreadyApplied ? 'already in effect' : `exit ${remediation.exitCode}`;
    lines.push('', `Remediation ${remediation.actionId} at ${remediation.finishedAt}: ${outcome}`);
    if (remediation.snapshot?.length) lines.push('  before:', ...remediation.snapshot.flatMap(describeCommand));
    if (remediation.commands?.length) lines.push('  ran:', ...remediation.commands.flatMap(describeCommand));
    if (!remediation.commands?.length && remediation.output.trim()) lines.push(...indent(remediation.output, 4));
  }
  return lines;
}

function describeHypothesis(index: number, hypothesis: Hypothesis): string[] {
  const action = hypothesis.actionId === NO_CATALOG_ACTION ? 'hand over' : `action ${hypothesis.actionId}`;
  const lines = [
    `  ${index + 1}. ${hypothesis.cause} (confidence ${hypothesis.confidence.toFixed(2)}, ${hypothesis.failureClass}, ${action})`,
    ...hypothesis.evidenceFor.map((line) => `       for:     ${line}`),
    ...hypothesis.evidenceAgainst.map((line) => `       against: ${line}`),
  ];
  if (hypothesis.handover) {
    lines.push(`       hand-over: ${hypothesis.handover.reason}`);
    lines.push(...hypothesis.handover.suggestedCommands.map((command) => `         $ ${command}`));
  }
  return lines;
}

function describeCommand(record: CommandRecord): string[] {
  return [`    $ ${record.command}  (exit ${record.exitCode})`, ...indent(record.output, 6)];
}

function indent(text: string, width: number): string[] {
  return text
    .replace(/\n+$/, '')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => `${' '.repeat(width)}${line}`);
}

/** "in 1h 20m" or "35m ago", precise enough for an ETA on a status board. */
function describeDistance(when: Date, now: Date): string {
  const deltaMs = when.getTime() - now.getTime();
  if (Number.isNaN(deltaMs)) return 'unknown time';
  const totalMinutes = Math.round(Math.abs(deltaMs) / 60_000);
  const days = Math.floor(totalMinutes / 1440);
  const hours = Math.floor((totalMinutes % 1440) / 60);
  const minutes = totalMinutes % 60;
  const parts = [days > 0 ? `${days}d` : '', hours > 0 ? `${hours}h` : '', `${minutes}m`].filter(Boolean);
  const text = days > 0 ? parts.slice(0, 2).join(' ') : parts.join(' ');
  if (totalMinutes === 0) return 'now';
  return deltaMs > 0 ? `in ${text}` : `${text} ago`;
}
