import type { CheckResult, IncidentReport, IncidentState, ProbeReport, RemediationResult } from '../workflows/messages';

/** Remediation output is evidence, not a log archive: the report keeps the end of it, where errors usually are. */
const MAX_OUTPUT_CHARS = 2_000;

const REVIEW_QUESTIONS = {
  rootCause: 'What was the root cause?',
  responseTime: 'Was the response time sufficient?',
  prevention: 'What prevents a repeat?',
} as const;

/**
 * Renders the post-incident review (SOP step 7) as Markdown: the answers first, then the evidence behind them.
 *
 * @example await writeFile('reports/incident-mx1.md', renderIncidentReportMarkdown(report));
 */
export function renderIncidentReportMarkdown({ state, responseTimes, review }: IncidentReport): string {
  const sections = [
    `# Incident ${state.incidentId}: ${state.serverId}`,
    summary(state),
    '## Review',
    ...reviewAnswers(review),
    '## Response times',
    responseTimeTable(responseTimes),
    `Overall within target: ${responseTimes.withinTarget ? 'yes' : 'no'}`,
    '## Root cause',
    rootCause(state.diagnosis),
    '## Actions taken',
    state.remediations.length > 0 ? state.remediations.map(remediation).join('\n\n') : 'No remediation was run.',
    '## Checks',
    checks(state.assessment, state.verification),
    '## Notifications sent',
    notificationTable(state.notifications),
    '## Timeline',
    table(
      ['Time', 'Phase', 'Actor', 'Event', 'Outcome'],
      state.timeline.map((entry) => [entry.at, entry.phase, entry.actor, entry.event, entry.outcome]),
    ),
  ];
  return `${sections.join('\n\n')}\n`;
}

function summary(state: IncidentState): string {
  return [
    `- **Outcome:** ${state.outcome ?? state.phase}${state.outcomeReason ? `: ${plain(state.outcomeReason)}` : ''}`,
    `- **Severity:** ${state.severity}`,
    `- **Scope:** ${state.scope}`,
    `- **Opened:** ${state.openedAt}`,
    `- **Approved by:** ${plain(state.approvedBy ?? 'n/a')}`,
  ].join('\n');
}

function reviewAnswers(review: IncidentReport['review']): string[] {
  return [
    `### ${REVIEW_QUESTIONS.rootCause}\n\n${plain(review.rootCause)}`,
    `### ${REVIEW_QUESTIONS.responseTime}\n\n${plain(review.responseTimeSufficient)}`,
    `### ${REVIEW_QUESTIONS.prevention}\n\n${bullets(review.prevention, 'Nothing recorded.')}`,
  ];
}

function responseTimeTable(responseTimes: IncidentReport['responseTimes']): string {
  const responseSteps: [string, number | undefined][] = [
    ['Detect', responseTimes.detectMs],
    ['Acknowledge', responseTimes.acknowledgeMs],
    ['Approve', responseTimes.approveMs],
    ['Resolve', responseTimes.resolveMs],
  ];
  return table(
    ['Step', 'Time', 'Target', 'Within target'],
    responseSteps.map(([step, took]) => [
      step,
      duration(took),
      duration(responseTimes.targetMs),
      took === undefined ? 'n/a' : took <= responseTimes.targetMs ? 'yes' : 'no',
    ]),
  );
}

function rootCause(diagnosis: IncidentState['diagnosis']): string {
  if (!diagnosis) return 'No diagnosis was made.';
  const { recommendation } = diagnosis;
  return (
    `${plain(diagnosis.rootCause)}\n\nEvidence:\n\n${bullets(diagnosis.evidence, 'None recorded.')}\n\n` +
    `Recommended fix: ${plain(recommendation.description)} ` +
    `(\`${recommendation.actionId}\`, risk ${recommendation.risk}; ` +
    `rollback: ${plain(recommendation.rollback)})`
  );
}

function notificationTable(notifications: IncidentState['notifications']): string {
  if (notifications.length === 0) return 'No notification was sent.';
  return table(
    ['Time', 'Audience', 'Channel', 'Kind', 'Result'],
    notifications.map((sent) => [
      sent.sentAt,
      sent.audience,
      sent.channel,
      sent.kind,
      sent.ok ? 'sent' : `failed: ${sent.error ?? 'unknown'}`,
    ]),
  );
}

function remediation(result: RemediationResult): string {
  const trimmed = result.output.trim();
  const output =
    trimmed.length > MAX_OUTPUT_CHARS
      ? `(first part cut)\n${trimmed.slice(-MAX_OUTPUT_CHARS)}`
      : trimmed || '(no output)';
  const status = result.alreadyApplied ? 'already applied' : `exit code ${result.exitCode}`;
  return `### \`${result.actionId}\`: ${status}, finished ${result.finishedAt}\n\n${fenced(output)}`;
}

function checks(assessment: ProbeReport | undefined, verification: ProbeReport | undefined): string {
  if (!assessment && !verification) return 'No checks were run.';
  const names = [
    'tcpSmtp',
    'smtp',
    'imap',
    'imapLogin',
    'smtpDelivery',
    'smtpTls',
    'imapTls',
    'deferredQueue',
  ] as const;
  const shown = (check: CheckResult | undefined) =>
    check ? `${check.ok ? 'ok' : `failed (${check.errorCode ?? 'error'})`}: ${check.detail}` : 'n/a';
  return table(
    ['Check', 'Assessment', 'Verification'],
    names
      .filter((name) => assessment?.[name] !== undefined || verification?.[name] !== undefined)
      .map((name) => [name, shown(assessment?.[name]), shown(verification?.[name])]),
  );
}

function bullets(items: readonly string[], whenEmpty: string): string {
  return items.length > 0 ? items.map((item) => `- ${plain(item).replace(/\s*\n\s*/g, ' ')}`).join('\n') : whenEmpty;
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

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
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
