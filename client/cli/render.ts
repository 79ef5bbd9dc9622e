import type { IncidentState } from '../../workflows/messages';
import type { IncidentSummary } from '../incidents';

const TIMELINE_ENTRIES_SHOWN = 15;

/** One line per incident, newest first, as a plain-text table. */
export function renderIncidentList(incidents: IncidentSummary[], openOnly: boolean): string {
  if (incidents.length === 0) return openOnly ? 'no open incidents\n' : 'no incidents\n';
  const rows = [
    ['SERVER', 'STATUS', 'STARTED', 'CLOSED', 'WORKFLOW'],
    ...incidents.map((incident) => [
      incident.serverId,
      incident.status,
      incident.startTime.toISOString(),
      incident.closeTime?.toISOString() ?? '-',
      incident.workflowId,
    ]),
  ];
  return table(rows);
}

/** The incident as an on-call engineer reads it: where it stands, what it waits for, and what happened last. */
export function renderIncidentState(state: IncidentState, now: Date): string {
  const lines: string[] = [`Incident ${state.incidentId} on ${state.serverId}`];
  const field = (name: string, value: string) => lines.push(`  ${(name ? `${name}:` : '').padEnd(16)}${value}`);

  field('phase', state.phase);
  if (state.outcome) field('outcome', `${state.outcome}${state.outcomeReason ? ` (${state.outcomeReason})` : ''}`);
  field('severity', state.severity);
  field('scope', state.scope);
  field('opened', `${state.openedAt} (${describeDistance(new Date(state.openedAt), now)})`);
  field('ETA', state.eta ? `${state.eta} (${describeDistance(new Date(state.eta), now)})` : 'not set');
  if (state.diagnosis) field('root cause', state.diagnosis.rootCause);

  const pending = state.pendingApproval;
  if (pending) {
    field(
      'approval',
      `waiting since ${pending.since} for ${pending.actionId}: ${pending.description} (risk ${pending.risk})`,
    );
    field('may approve', pending.approvers.join(', ') || 'nobody is configured');
    for (const [index, offered] of (pending.hypotheses ?? []).entries()) {
      field(
        index === 0 ? 'causes' : '',
        `${index + 1}. ${offered.cause} (confidence ${offered.confidence.toFixed(2)}, action ${offered.actionId})`,
      );
    }
    if (pending.escalatedAt) field('escalated', pending.escalatedAt);
  } else {
    field('approval', state.approvedBy ? `approved by ${state.approvedBy}` : 'none pending');
  }

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

  const shown = state.timeline.slice(-TIMELINE_ENTRIES_SHOWN);
  lines.push('');
  lines.push(
    shown.length < state.timeline.length
      ? `Timeline (last ${shown.length} of ${state.timeline.length}):`
      : `Timeline (${state.timeline.length}):`,
  );
  for (const entry of shown) {
    lines.push(`  ${entry.at}  ${entry.phase.padEnd(17)} ${entry.actor.padEnd(12)} ${entry.event} -> ${entry.outcome}`);
  }
  return `${lines.join('\n')}\n`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
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
