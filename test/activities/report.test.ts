import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createReportActivities } from '../../activities/report';
import { duration } from '../../activities/report-markdown';
import { loadMessageTemplates } from '../../activities/templates/catalog';
import type { IncidentReport, IncidentStepContext, ProbeReport } from '../../workflows/messages';

const context: IncidentStepContext = { incidentId: 'incident-mx1-7f3a', serverId: 'mx1', step: 'review' };
const silentLogger = pino({ level: 'silent' });
const templates = loadMessageTemplates({ locale: 'en', timeZone: 'UTC' });
const renderIncidentReportMarkdown = (report: IncidentReport) => templates.renderReport(report);

function probeReport(checkedAt: string, smtpOk: boolean): ProbeReport {
  return {
    serverId: 'mx1',
    checkedAt,
    tcpSmtp: { ok: true, latencyMs: 3, detail: 'connected to mx1.example.org:25' },
    smtp: smtpOk
      ? { ok: true, latencyMs: 12, detail: '220 mx1.example.org ESMTP Postfix' }
      : { ok: false, latencyMs: 9, detail: '421 4.3.2 queue full', errorCode: 'BAD_GREETING' },
    imap: { ok: true, latencyMs: 8, detail: '* OK Dovecot ready.' },
  };
}

function closedIncident(): IncidentReport {
  return {
    state: {
      incidentId: 'incident-mx1-7f3a',
      serverId: 'mx1',
      phase: 'closed',
      outcome: 'closed',
      outcomeReason: 'verified and confirmed by 2 people',
      severity: 'critical',
      scope: 'all-users',
      openedAt: '2024-05-01T09:15:00.123Z',
      assessment: probeReport('2024-05-01T09:15:02.000Z', false),
      diagnosis: {
        rootCause: 'disk full on /var/spool/postfix',
        evidence: ['df: /var 100% used', 'postfix: warning: not enough free space'],
        recommendation: {
          actionId: 'clean-spool',
          description: 'remove deferred bounces older than 5 days',
          risk: 'low',
          rollback: 'none needed',
        },
        diagnosedAt: '2024-05-01T09:16:00.000Z',
      },
      approvedBy: 'alice',
      remediations: [
        {
          actionId: 'clean-spool',
          exitCode: 0,
          output: '\n  removed 1204 files\nfreed 3.1G\n\n',
          alreadyApplied: false,
          finishedAt: '2024-05-01T09:31:00.000Z',
        },
      ],
      verification: probeReport('2024-05-01T09:32:00.000Z', true),
      confirmations: [
        { by: 'bob', at: '2024-05-01T09:40:00.000Z' },
        { by: 'carol', at: '2024-05-01T09:41:00.000Z' },
      ],
      confirmationsRequired: 2,
      rejections: 0,
      verificationAttempts: 1,
      alerts: [],
      alertsReceived: 0,
      notifications: [
        { channel: 'ops-chat', audience: 'itTeam', kind: 'outage', sentAt: '2024-05-01T09:15:05.000Z', ok: true },
        {
          channel: 'staff-list',
          audience: 'users',
          kind: 'outage',
          sentAt: '2024-05-01T09:15:06.000Z',
          ok: false,
          error: 'NotificationRejected',
        },
      ],
      timeline: [
        {
          at: '2024-05-01T09:15:00.123Z',
          phase: 'assessment',
          actor: 'alertmanager',
          event: 'alert MailServerDown',
          outcome: 'firing',
        },
        {
          at: '2024-05-01T09:15:02.000Z',
          phase: 'assessment',
          actor: 'mailmend',
          event: 'probe smtp|imap',
          outcome: 'smtp failed',
        },
        {
          at: '2024-05-01T09:30:00.000Z',
          phase: 'awaiting-approval',
          actor: 'alice',
          event: 'approve',
          outcome: 'approved',
        },
        { at: '2024-05-01T09:41:00.000Z', phase: 'review', actor: 'carol', event: 'confirm', outcome: 'closed' },
      ],
      eta: '2024-05-01T10:00:00.000Z',
    },
    responseTimes: {
      detectMs: 2_000,
      acknowledgeMs: 65_000,
      approveMs: undefined,
      resolveMs: 26 * 60_000,
      targetMs: 3_600_000,
      withinTarget: true,
    },
    review: {
      rootCause: 'The spool disk filled up with deferred bounces.',
      responseTimeSufficient: 'Yes: resolved in 26 minutes against a 1 hour target.',
      prevention: ['alert at 80% disk usage on /var', 'expire deferred bounces after 2 days'],
    },
  };
}

describe('writeIncidentReport', () => {
  let reportsDir: string;
  let scratch: string;

  beforeEach(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'mailmend-report-'));
    reportsDir = path.join(scratch, 'reports', 'nested');
  });
  afterEach(() => rm(scratch, { recursive: true, force: true }));

  it('writes Markdown and JSON named after the incident and the time it opened', async () => {
    const { writeIncidentReport } = createReportActivities({ reportsDir, templates, logger: silentLogger });
    const report = closedIncident();

    const location = await writeIncidentReport({ context, report });

    expect(location).toEqual({
      markdownPath: path.join(reportsDir, 'incident-mx1-7f3a-20240501T091500Z.md'),
      jsonPath: path.join(reportsDir, 'incident-mx1-7f3a-20240501T091500Z.json'),
    });
    expect(JSON.parse(await readFile(location.jsonPath, 'utf8'))).toEqual(report);
    const markdown = await readFile(location.markdownPath, 'utf8');
    expect(markdown).toBe(renderIncidentReportMarkdown(report));
    expect((await readdir(reportsDir)).sort()).toEqual([
      'incident-mx1-7f3a-20240501T091500Z.json',
      'incident-mx1-7f3a-20240501T091500Z.md',
    ]);
  });

  it('writes the same files again on a retry and leaves no temporary files behind', async () => {
    const { writeIncidentReport } = createReportActivities({ reportsDir, templates, logger: silentLogger });
    const first = await writeIncidentReport({ context, report: closedIncident() });
    const firstMarkdown = await readFile(first.markdownPath, 'utf8');

    const second = await writeIncidentReport({ context, report: closedIncident() });

    expect(second).toEqual(first);
    expect(await readFile(second.markdownPath, 'utf8')).toBe(firstMarkdown);
    expect(await readdir(reportsDir)).toHaveLength(2);
  });

  it('keeps an incident id from escaping the reports directory', async () => {
    const { writeIncidentReport } = createReportActivities({ reportsDir, templates, logger: silentLogger });
    const report = closedIncident();
    report.state.incidentId = '../../escape';

    const location = await writeIncidentReport({ context, report });

    expect(path.dirname(location.markdownPath)).toBe(reportsDir);
    expect(path.basename(location.markdownPath)).toBe('.._.._escape-20240501T091500Z.md');
  });
});

describe('renderIncidentReportMarkdown', () => {
  const markdown = renderIncidentReportMarkdown(closedIncident());

  it('answers the three review questions, prevention as recommendations not yet carried out', () => {
    expect(markdown).toContain('### What was the root cause?\n\ndisk full on /var/spool/postfix');
    expect(markdown).toContain('### Was the response time sufficient?\n\nYes: resolved in 26m against a target of 1h.');
    expect(markdown).toContain(
      '### What would prevent a repeat?\n\nRecommendations, not yet carried out:\n\n' +
        '- alert at 80% disk usage on /var\n- expire deferred bounces after 2 days',
    );
  });

  it("words the review's own recommendations in the team's language, quoting the diagnosis's advice", () => {
    const report = closedIncident();
    report.state.outcome = 'closed';
    report.review.preventionPoints = [
      { kind: 'diagnosis', text: 'alert at 80% disk usage on /var' },
      { kind: 'rehearse-fix', fix: 'Flush the deferred queue' },
      { kind: 'shorten-approval' },
    ];
    const french = loadMessageTemplates({ locale: 'fr', timeZone: 'Europe/Paris' }).renderReport(report);
    expect(french).toContain(
      'Recommandations, pas encore mises en œuvre :\n\n- alert at 80% disk usage on /var\n' +
        '- Documenter et répéter le correctif (`npx mailmend drill`) : Flush the deferred queue.\n' +
        '- Raccourcir le circuit d’approbation',
    );
    expect(french).not.toMatch(/Keep the fix documented|Shorten the approval path/);
  });

  it('says when the procedure did not resolve the incident, and when the alert was false', () => {
    const escalated = closedIncident();
    escalated.state.outcome = 'escalated';
    escalated.state.diagnosis = undefined;
    delete escalated.responseTimes.resolveMs;
    const rendered = renderIncidentReportMarkdown(escalated);
    expect(rendered).toContain('Not established: the procedure ended before a diagnosis.');
    expect(rendered).toContain('Not resolved by the procedure (handed over to people); target 1h.');
    expect(rendered).toContain('No diagnosis was made.');

    const falseAlarm = closedIncident();
    falseAlarm.state.outcome = 'false-alarm';
    expect(renderIncidentReportMarkdown(falseAlarm)).toContain(
      '### What was the root cause?\n\nNone: every check passed, so the alert was a false alarm.',
    );
  });

  it('shows HTML and control characters from alerts and hosts as text, never as markup', () => {
    const report = closedIncident();
    report.state.timeline.push({
      at: '2026-01-01T10:30:00.000Z',
      phase: 'review',
      actor: 'alertmanager',
      event: 'alert firing: <img src=x onerror=alert(1)>',
      outcome: 'disk\u0000 full | <script>steal()</script>',
    });
    report.state.diagnosis!.rootCause = 'The spool disk filled up <b>again</b>';
    const rendered = renderIncidentReportMarkdown(report);

    expect(rendered).not.toMatch(/<img|<script|<b>|\u0000/);
    expect(rendered).toContain(
      '| alert firing: &lt;img src=x onerror=alert(1)&gt; | disk  full \\| &lt;script&gt;steal()&lt;/script&gt; |',
    );
    expect(rendered).toContain('The spool disk filled up &lt;b&gt;again&lt;/b&gt;');
  });

  it('states the outcome, severity and scope', () => {
    expect(markdown).toContain('# Incident incident-mx1-7f3a: mx1');
    expect(markdown).toContain('- **Outcome:** closed: verified and confirmed by 2 people');
    expect(markdown).toContain('- **Severity:** critical');
    expect(markdown).toContain('- **Scope:** all users');
    expect(markdown).toContain('- **Opened:** Wednesday, 1 May 2024 at 09:15 (UTC)');
  });

  it('tables the response times against the target, with n/a for steps that did not happen', () => {
    expect(markdown).toContain(
      [
        '| Step | Time | Target | Within target |',
        '| --- | --- | --- | --- |',
        '| Detect | 2s | 1h | yes |',
        '| Acknowledge | 1m 5s | 1h | yes |',
        '| Approve | n/a | 1h | n/a |',
        '| Resolve | 26m | 1h | yes |',
      ].join('\n'),
    );
  });

  it('shows the root cause with its evidence, and what was done with its trimmed output', () => {
    expect(markdown).toContain(
      '## Root cause\n\ndisk full on /var/spool/postfix\n\nEvidence:\n\n- df: /var 100% used\n- postfix: warning: not enough free space',
    );
    expect(markdown).toContain(
      '### `clean-spool`: exit code 0, finished Wednesday, 1 May 2024 at 09:31 (UTC)\n\n```\nremoved 1204 files\nfreed 3.1G\n```',
    );
  });

  it('lists the notifications, including the one that failed', () => {
    expect(markdown).toContain('| 01/05/2024, 09:15:05 (UTC) | IT team | ops-chat | outage | sent |');
    expect(markdown).toContain(
      '| 01/05/2024, 09:15:06 (UTC) | users | staff-list | outage | failed: NotificationRejected |',
    );
  });

  it('includes every timeline event as a table row, escaping pipes', () => {
    const rows = markdown.slice(markdown.indexOf('## Timeline')).split('\n').slice(4);
    expect(rows).toEqual([
      '| 01/05/2024, 09:15:00 (UTC) | checking the mail server | alertmanager | alert MailServerDown | firing |',
      '| 01/05/2024, 09:15:02 (UTC) | checking the mail server | mailmend | probe smtp\\|imap | smtp failed |',
      '| 01/05/2024, 09:30:00 (UTC) | waiting for approval of a fix | alice | approve | approved |',
      '| 01/05/2024, 09:41:00 (UTC) | post-incident review | carol | confirm | closed |',
      '',
    ]);
  });

  it('fences output that itself contains a code fence', () => {
    const report = closedIncident();
    report.state.remediations[0]!.output = 'before\n```\nafter';
    expect(renderIncidentReportMarkdown(report)).toContain('````\nbefore\n```\nafter\n````');
  });
});

describe('the report in French', () => {
  const french = loadMessageTemplates({ locale: 'fr', timeZone: 'Europe/Paris' }).renderReport(closedIncident());

  it('asks the review questions in French, with times in the configured zone', () => {
    expect(french).toContain('### Quelle était la cause racine ?\n\ndisk full on /var/spool/postfix');
    expect(french).toContain(
      '### Le temps de réponse était-il suffisant ?\n\nOui : résolu en 26m pour un objectif de 1h.',
    );
    expect(french).toContain('- **Ouvert :** mercredi 1 mai 2024 à 11:15 (UTC+2)');
    expect(french).toContain('| 01/05/2024 11:15:05 (UTC+2) | équipe informatique | ops-chat | panne | envoyée |');
  });
});

describe('duration', () => {
  it.each([
    [undefined, 'n/a'],
    [0, '0s'],
    [95_000, '1m 35s'],
    [3_600_000, '1h'],
    [3_725_000, '1h 2m 5s'],
  ])('renders %p as %p', (millis, expected) => {
    expect(duration(millis)).toBe(expected);
  });
});
