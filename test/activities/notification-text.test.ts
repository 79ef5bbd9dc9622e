import { renderNotification } from '../../activities/notification-text';
import { AUDIENCES, type NotificationKind, type NotificationMessage } from '../../workflows/messages';

const KINDS: NotificationKind[] = ['outage', 'update', 'escalation', 'resolved', 'false-alarm', 'reminder'];
const APPROVE_COMMAND = 'mailmend incidents approve mx1 --by <name>';

function message(overrides: Partial<NotificationMessage> = {}): NotificationMessage {
  return {
    kind: 'outage',
    incidentId: 'incident-mx1-7f3a',
    serverId: 'mx1',
    severity: 'critical',
    scope: 'all-users',
    phase: 'awaiting-approval',
    openedAt: '2024-05-01T09:15:00.000Z',
    ...overrides,
  };
}

describe('renderNotification', () => {
  it.each(KINDS.flatMap((kind) => AUDIENCES.map((audience) => [kind, audience] as const)))(
    'names the server and the kind in the subject (%s to %s)',
    (kind, audience) => {
      const { subject } = renderNotification(audience, message({ kind }));
      expect(subject.startsWith('[mailmend] mx1 ')).toBe(true);
      expect(subject).toContain(kind === 'false-alarm' ? 'false alarm' : kind);
    },
  );

  it.each(KINDS)('words a %s differently for every audience', (kind) => {
    const texts = AUDIENCES.map((audience) => renderNotification(audience, message({ kind })).text);
    expect(new Set(texts).size).toBe(AUDIENCES.length);
  });

  describe('for users', () => {
    const internals = message({ rootCause: 'postfix queue manager crashed (qmgr)', reason: 'approval timed out' });

    it.each(KINDS)('keeps internals out of a %s', (kind) => {
      const { subject, text } = renderNotification('users', { ...internals, kind });
      for (const internal of ['incident-mx1-7f3a', 'critical', 'all-users', 'awaiting-approval', 'qmgr', 'approve']) {
        expect(`${subject}\n${text}`).not.toContain(internal);
      }
    });

    it('says what is affected and when it should work again', () => {
      const { text } = renderNotification('users', message({ eta: '2024-05-01T11:00:00.000Z' }));
      expect(text).toContain('Email is not working for anyone');
      expect(text).toContain('We expect email to work normally again by Wed, 01 May 2024 11:00:00 UTC.');
    });

    it('promises an estimate when there is none yet', () => {
      const { text } = renderNotification('users', message({ scope: 'one-protocol' }));
      expect(text).toContain('Part of the email service is not working');
      expect(text).toContain('We will give an estimate as soon as we have one.');
    });
  });

  describe('for the IT team', () => {
    it('gives the technical picture and how to approve', () => {
      const { subject, text } = renderNotification(
        'itTeam',
        message({ kind: 'update', rootCause: 'disk full on /var/spool/postfix', eta: '2024-05-01T11:00:00.000Z' }),
      );
      expect(subject).toBe('[mailmend] mx1 update: still open (critical, all-users) incident-mx1-7f3a');
      expect(text).toContain('Incident: incident-mx1-7f3a');
      expect(text).toContain('Severity: critical');
      expect(text).toContain('Scope: all-users');
      expect(text).toContain('Phase: awaiting-approval');
      expect(text).toContain('ETA: 2024-05-01T11:00:00.000Z');
      expect(text).toContain('Root cause: disk full on /var/spool/postfix');
      expect(text).toContain(APPROVE_COMMAND);
    });

    it('says when the root cause is not known yet', () => {
      expect(renderNotification('itTeam', message()).text).toContain('Root cause: not yet known');
    });

    it('reports a resolution with cause, actions and prevention, and nothing left to approve', () => {
      const { text } = renderNotification(
        'itTeam',
        message({
          kind: 'resolved',
          phase: 'resolution-notice',
          rootCause: 'disk full on /var/spool/postfix',
          actionsTaken: ['rotate-logs: exit code 0'],
          prevention: ['alert at 80% disk usage'],
        }),
      );
      expect(text).toContain('Root cause: disk full on /var/spool/postfix');
      expect(text).toContain('Actions taken:\n- rotate-logs: exit code 0');
      expect(text).toContain('Prevention:\n- alert at 80% disk usage');
      expect(text).not.toContain('mailmend incidents approve');
    });
  });

  describe('for management', () => {
    it('states business impact, severity and the expected repair', () => {
      const { text } = renderNotification('management', message({ eta: '2024-05-01T11:00:00.000Z' }));
      expect(text).toContain('Business impact: Nobody in the organisation can reliably send or receive email.');
      expect(text).toContain('Severity: critical');
      expect(text).toContain('Expected repair: Wed, 01 May 2024 11:00:00 UTC');
      expect(text).not.toContain(APPROVE_COMMAND);
    });

    it('gives the reason for an escalation', () => {
      const { subject, text } = renderNotification(
        'management',
        message({ kind: 'escalation', reason: 'no approver answered within 15 minutes' }),
      );
      expect(subject).toBe('[mailmend] mx1 escalation: critical email disruption escalated');
      expect(text).toContain('Escalated because: no approver answered within 15 minutes');
      expect(text).toContain('Expected repair: no estimate yet');
    });

    it('summarises a resolution with cause, actions and prevention', () => {
      const { text } = renderNotification(
        'management',
        message({
          kind: 'resolved',
          rootCause: 'disk full',
          actionsTaken: ['freed disk space'],
          prevention: ['disk usage alert'],
        }),
      );
      expect(text).toContain(
        'Email service on mx1 is restored. The disruption started at Wed, 01 May 2024 09:15:00 UTC.',
      );
      expect(text).toContain('Cause: disk full');
      expect(text).toContain('Actions taken:\n- freed disk space');
      expect(text).toContain('Prevention:\n- disk usage alert');
    });
  });
});

describe('certificate expiry warnings', () => {
  const certificates = [
    {
      service: 'smtp' as const,
      subject: 'CN=mx1.example.org',
      issuer: "CN=R11, O=Let's Encrypt",
      validTo: '2024-05-06T12:00:00.000Z',
      daysLeft: 5,
    },
    {
      service: 'imap' as const,
      subject: 'CN=imap.example.org',
      issuer: 'CN=Example CA',
      validTo: '2024-05-02T08:00:00.000Z',
      daysLeft: 1,
    },
  ];
  const warning = message({
    kind: 'certificate-expiry',
    severity: 'none',
    scope: 'none',
    phase: 'false-alarm',
    certificates,
  });

  it('tells the IT team which service, whose certificate, when it expires and how many days are left', () => {
    const { subject, text } = renderNotification('itTeam', warning);
    expect(subject).toBe('[mailmend] mx1 certificate expiry: certificate expires soon (1 day left) incident-mx1-7f3a');
    expect(text).toContain(
      "Certificates:\n- SMTP: CN=mx1.example.org (issued by CN=R11, O=Let's Encrypt) expires Mon, 06 May 2024 12:00:00 UTC, 5 days left",
    );
    expect(text).toContain(
      '- IMAP: CN=imap.example.org (issued by CN=Example CA) expires Thu, 02 May 2024 08:00:00 UTC, 1 day left',
    );
    expect(text).not.toContain('mailmend incidents approve');
  });

  it('tells management the renewal is due without alarming, and users that there is nothing to do', () => {
    expect(renderNotification('management', warning).text).toContain('Email on mx1 works normally.');
    const users = renderNotification('users', warning);
    expect(users.text).toContain('You do not need to do anything.');
    expect(`${users.subject}${users.text}`).not.toContain('CN=');
  });
});

describe('the approval request', () => {
  it('lists the ranked causes with confidence and the command that approves each one instead', () => {
    const { text } = renderNotification(
      'itTeam',
      message({
        kind: 'update',
        hypotheses: [
          { cause: 'Postfix is not running', confidence: 0.55, actionId: 'start-postfix' },
          { cause: 'Postfix cannot write its queue', confidence: 0.3, actionId: 'postfix-set-permissions' },
        ],
      }),
    );
    expect(text).toContain(APPROVE_COMMAND);
    expect(text).toContain(
      "Ranked causes, most likely first; to approve another one's fix instead, use its command:\n" +
        '- Postfix is not running (confidence 55%, action start-postfix): ' +
        'mailmend incidents approve mx1 --by <name> --action start-postfix\n' +
        '- Postfix cannot write its queue (confidence 30%, action postfix-set-permissions): ' +
        'mailmend incidents approve mx1 --by <name> --action postfix-set-permissions',
    );
  });

  it('shows no ranked causes once resolved', () => {
    const { text } = renderNotification(
      'itTeam',
      message({ kind: 'resolved', hypotheses: [{ cause: 'x', confidence: 1, actionId: 'start-postfix' }] }),
    );
    expect(text).not.toContain('--action');
  });
});
