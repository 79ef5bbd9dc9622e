import type { IncidentReport, NotificationKind, NotificationMessage, PreventionPoint } from '../../workflows/messages';

/**
 * Messages every template is rendered with when it loads, so a template that names a key its audience does not have,
 * or calls an unknown helper, stops the worker at start with its file rather than failing at the first outage.
 */
export function sampleMessages(kind: NotificationKind): NotificationMessage[] {
  const minimal: NotificationMessage = {
    kind,
    incidentId: 'incident-sample',
    serverId: 'sample',
    severity: 'critical',
    scope: 'all-users',
    phase: 'notification',
    openedAt: '2026-01-01T09:00:00.000Z',
  };
  const full: NotificationMessage = {
    ...minimal,
    eta: '2026-01-01T10:00:00.000Z',
    etaChanged: true,
    checksPassed: true,
    rootCause: 'sample root cause',
    causeClass: 'not-running',
    reason: 'sample reason',
    escalation: 'approval-timeout',
    closedBy: 'sample-person',
    actionsTaken: ['sample-action (exit 0)'],
    prevention: ['sample prevention'],
    hypotheses: [
      { cause: 'sample cause', confidence: 0.6, actionId: 'sample-action' },
      { cause: 'other cause', confidence: 0.3, actionId: 'other-action' },
    ],
    certificates: [
      {
        service: 'smtp',
        subject: 'CN=sample',
        issuer: 'CN=sample CA',
        validTo: '2026-01-05T00:00:00.000Z',
        daysLeft: 3,
      },
    ],
    actionNeeded: {
      kind: 'approve',
      actionId: 'sample-action',
      description: 'sample fix',
      risk: 'high',
      required: 2,
      approvedBy: ['sample-person'],
    },
  };
  const confirming: NotificationMessage = { ...full, actionNeeded: { kind: 'confirm', required: 2, confirmedBy: [] } };
  return [minimal, full, confirming];
}

function minimalReport(): IncidentReport {
  return {
    state: {
      incidentId: 'incident-sample',
      serverId: 'sample',
      phase: 'escalated',
      severity: 'critical',
      scope: 'all-users',
      openedAt: '2026-01-01T09:00:00.000Z',
      remediations: [],
      confirmations: [],
      confirmationsRequired: 1,
      rejections: 0,
      verificationAttempts: 0,
      alerts: [],
      alertsReceived: 0,
      notifications: [],
      timeline: [],
    },
    responseTimes: { targetMs: 3_600_000, withinTarget: false },
    review: { rootCause: 'sample', responseTimeSufficient: 'sample', prevention: [] },
  };
}

const EVERY_RESPONSE_TIME = { detectMs: 1, acknowledgeMs: 1, approveMs: 1, resolveMs: 1 };

function fullReport(minimal: IncidentReport): IncidentReport {
  const preventionPoints = EVERY_PREVENTION_POINT;
  const check = { ok: false, latencyMs: 1, detail: 'sample', errorCode: 'SAMPLE' };
  return {
    state: {
      ...minimal.state,
      phase: 'closed',
      outcome: 'closed',
      outcomeReason: 'sample',
      approvedBy: 'sample-person',
      assessment: {
        serverId: 'sample',
        checkedAt: '2026-01-01T09:00:00.000Z',
        tcpSmtp: check,
        smtp: check,
        imap: check,
      },
      verification: {
        serverId: 'sample',
        checkedAt: '2026-01-01T09:30:00.000Z',
        tcpSmtp: check,
        smtp: check,
        imap: check,
      },
      diagnosis: {
        rootCause: 'sample',
        evidence: ['sample'],
        recommendation: { actionId: 'sample-action', description: 'sample', risk: 'low', rollback: 'sample' },
        diagnosedAt: '2026-01-01T09:05:00.000Z',
      },
      remediations: [
        {
          actionId: 'sample-action',
          exitCode: 0,
          output: 'sample',
          alreadyApplied: false,
          finishedAt: '2026-01-01T09:20:00.000Z',
        },
      ],
      notifications: [
        {
          channel: 'sample',
          audience: 'users',
          kind: 'outage',
          sentAt: '2026-01-01T09:01:00.000Z',
          ok: false,
          error: 'x',
        },
      ],
      timeline: [{ at: '2026-01-01T09:00:00.000Z', phase: 'assessment', actor: 'sample', event: 'e', outcome: 'o' }],
    },
    responseTimes: { ...EVERY_RESPONSE_TIME, targetMs: 3_600_000, withinTarget: true },
    review: { rootCause: 'sample', responseTimeSufficient: 'sample', prevention: ['sample'], preventionPoints },
  };
}

/** One of each kind, so every branch of a report template renders when it loads. */
const EVERY_PREVENTION_POINT: PreventionPoint[] = [
  { kind: 'diagnosis', text: 'sample' },
  { kind: 'rehearse-fix', fix: 'sample' },
  { kind: 'shorten-approval' },
  { kind: 'tune-alert' },
  { kind: 'review-escalation', reason: 'sample' },
];

/** Reports every report template is rendered with when it loads: bare, complete, and a false alarm. */
export function sampleReports(): IncidentReport[] {
  const minimal = minimalReport();
  const falseAlarm: IncidentReport = {
    ...minimal,
    state: { ...minimal.state, phase: 'false-alarm', outcome: 'false-alarm' },
  };
  return [minimal, fullReport(minimal), falseAlarm];
}
