import type {
  CheckResult,
  IncidentReport,
  PreventionPoint,
  ProbeReport,
  RemediationResult,
} from '../workflows/messages';

/** Remediation output is evidence, not a log archive: the report keeps the end of it, where errors usually are. */
const MAX_OUTPUT_CHARS = 2_000;

const CHECK_NAMES = [
  'tcpSmtp',
  'smtp',
  'imap',
  'imapLogin',
  'smtpDelivery',
  'smtpTls',
  'imapTls',
  'deferredQueue',
] as const;

/**
 * The post-incident review (SOP step 7) as the report template sees it. Text from alerts, hosts and people is made
 * Markdown-safe here, before any template, so an operator's report template cannot let markup through: `plain` for
 * prose, `cell` for table cells. Times stay ISO-8601 for the template's `{{time}}` and `{{timestamp}}` helpers.
 *
 * @example templates.renderReport(report) // renders reportView(report) with <locale>/report.md.hbs
 */
export function reportView({ state, responseTimes, review }: IncidentReport) {
  const outcome = state.outcome ?? state.phase;
  return {
    incidentId: plain(state.incidentId),
    serverId: plain(state.serverId),
    outcome,
    outcomeReason: state.outcomeReason ? plain(state.outcomeReason) : null,
    falseAlarm: outcome === 'false-alarm',
    severity: state.severity,
    scope: state.scope,
    openedAt: state.openedAt,
    approvedBy: state.approvedBy ? plain(state.approvedBy) : null,
    prevention: preventionView(review),
    diagnosis: state.diagnosis
      ? {
          rootCause: plain(state.diagnosis.rootCause),
          evidence: state.diagnosis.evidence.map(bulletItem),
          recommendation: {
            actionId: plain(state.diagnosis.recommendation.actionId),
            description: plain(state.diagnosis.recommendation.description),
            risk: state.diagnosis.recommendation.risk,
            rollback: plain(state.diagnosis.recommendation.rollback),
          },
        }
      : null,
    responseTimes: responseTimeView(responseTimes),
    remediations: state.remediations.map(remediationView),
    checks: checkRows(state.assessment, state.verification),
    notifications: state.notifications.map((sent) => ({
      sentAt: sent.sentAt,
      audience: sent.audience,
      channel: cell(sent.channel),
      kind: sent.kind,
      ok: sent.ok,
      error: cell(sent.error ?? ''),
    })),
    timeline: state.timeline.map((entry) => ({
      at: entry.at,
      phase: entry.phase,
      actor: cell(entry.actor),
      event: cell(entry.event),
      outcome: cell(entry.outcome),
    })),
  };
}

export type ReportView = ReturnType<typeof reportView>;

/** Reports from incidents that started before structured points carry only the English sentences; those stay as is. */
function preventionView(review: IncidentReport['review']) {
  const points: PreventionPoint[] =
    review.preventionPoints ?? review.prevention.map((text) => ({ kind: 'diagnosis', text }));
  return points.map((point) => ({
    kind: point.kind,
    text: point.kind === 'diagnosis' ? bulletItem(point.text) : null,
    fix: point.kind === 'rehearse-fix' ? plain(point.fix) : null,
    reason: point.kind === 'review-escalation' ? plain(point.reason) : null,
  }));
}

function responseTimeView(responseTimes: IncidentReport['responseTimes']) {
  const steps: [string, number | undefined][] = [
    ['detect', responseTimes.detectMs],
    ['acknowledge', responseTimes.acknowledgeMs],
    ['approve', responseTimes.approveMs],
    ['resolve', responseTimes.resolveMs],
  ];
  return {
    target: duration(responseTimes.targetMs),
    withinTarget: responseTimes.withinTarget,
    resolved: responseTimes.resolveMs === undefined ? null : duration(responseTimes.resolveMs),
    steps: steps.map(([step, took]) => ({
      step,
      took: took === undefined ? null : duration(took),
      within: took === undefined ? null : took <= responseTimes.targetMs,
    })),
  };
}

function remediationView(result: RemediationResult) {
  const trimmed = result.output.trim();
  const output = trimmed.length > MAX_OUTPUT_CHARS ? trimmed.slice(-MAX_OUTPUT_CHARS) : trimmed;
  return {
    actionId: plain(result.actionId),
    alreadyApplied: result.alreadyApplied === true,
    exitCode: result.exitCode,
    finishedAt: result.finishedAt,
    outputCut: trimmed.length > MAX_OUTPUT_CHARS,
    output: output ? fenced(output) : null,
  };
}

function checkView(check: CheckResult | undefined) {
  if (!check) return null;
  return { ok: check.ok, errorCode: check.errorCode ? cell(check.errorCode) : null, detail: cell(check.detail) };
}

function checkRows(assessment: ProbeReport | undefined, verification: ProbeReport | undefined) {
  return CHECK_NAMES.filter((name) => assessment?.[name] !== undefined || verification?.[name] !== undefined).map(
    (name) => ({ name, assessment: checkView(assessment?.[name]), verification: checkView(verification?.[name]) }),
  );
}

function bulletItem(item: string): string {
  return plain(item).replace(/\s*\n\s*/g, ' ');
}

/** A code fence longer than any backtick run in the text, so output cannot close it early. */
function fenced(text: string): string {
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longestRun + 1));
  return `${fence}\n${text}\n${fence}`;
}

/**
 * Text from alerts, hosts and people as Markdown shows it, never as markup: no control characters, and HTML escaped,
 * so a label holding `<script>` or a NUL byte reads as the characters it is.
 */
function plain(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

function cell(text: string): string {
  return plain(text).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/** `95000` becomes `1m 35s`, `3600000` becomes `1h`; undefined becomes `n/a`. */
export function duration(millis: number | undefined): string {
  if (millis === undefined) return 'n/a';
  const totalSeconds = Math.round(millis / 1000);
  const units: [number, string][] = [
    [Math.floor(totalSeconds / 3600), 'h'],
    [Math.floor((totalSeconds % 3600) / 60), 'm'],
    [totalSeconds % 60, 's'],
  ];
  const shown = units.filter(([amount]) => amount > 0).map(([amount, unit]) => `${amount}${unit}`);
  return shown.length > 0 ? shown.join(' ') : '0s';
}
