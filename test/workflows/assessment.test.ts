import { answersAll, classifyProbes, describeProbes, failingChecks } from '../../workflows/assessment';
import type { CheckResult, ProbeReport } from '../../workflows/messages';

const ok = (detail = 'ok'): CheckResult => ({ ok: true, latencyMs: 1, detail });
const failed = (errorCode: string, detail: string): CheckResult => ({ ok: false, latencyMs: 1, detail, errorCode });

function report(overrides: Partial<ProbeReport> = {}): ProbeReport {
  return {
    serverId: 'mx1',
    checkedAt: '2026-11-29T10:00:00.000Z',
    tcpSmtp: ok(),
    smtp: ok('220 mx1 ESMTP'),
    imap: ok('* OK ready'),
    imapLogin: ok('canary logged in, opened INBOX and found token t'),
    smtpDelivery: ok('queued as 4ABC'),
    smtpTls: ok(),
    imapTls: ok(),
    ...overrides,
  };
}

const expired = failed('CERT_EXPIRED', 'certificate expired on 2026-11-28T10:00:00.000Z (CN=mx1, issued by CN=CA)');
const endToEnd = { endToEnd: true };

describe('classifyProbes', () => {
  it('calls a server healthy when the whole user path works', () => {
    expect(classifyProbes(report(), undefined, endToEnd)).toEqual({ severity: 'none', scope: 'none', healthy: true });
  });

  it('calls a server healthy when its certificates only expire soon', () => {
    const warned = report({
      certificateWarnings: [
        { service: 'smtp', subject: 'CN=mx1', issuer: 'CN=CA', validTo: '2026-12-03T00:00:00.000Z', daysLeft: 4 },
      ],
    });
    expect(classifyProbes(warned, undefined, endToEnd)).toEqual({ severity: 'none', scope: 'none', healthy: true });
  });

  it.each([
    ['delivery rejected at RCPT', { smtpDelivery: failed('RCPT_REJECTED', 'RCPT: 550 5.1.1 unknown') }],
    [
      'queue file write error',
      { smtpDelivery: failed('DATA_REJECTED', 'end of DATA: 451 4.3.0 queue file write error') },
    ],
    ['token never arrives', { imapLogin: failed('TOKEN_NOT_DELIVERED', 'did not arrive within 10000 ms') }],
    ['both certificates expired', { smtpTls: expired, imapTls: expired }],
  ])('makes %s a major outage for all users although every port answers', (_case, failing) => {
    expect(classifyProbes(report(failing), undefined, endToEnd)).toEqual({
      severity: 'major',
      scope: 'all-users',
      healthy: false,
    });
  });

  it.each([
    ['STARTTLS refused on SMTP', { smtpTls: failed('STARTTLS_NOT_OFFERED', 'not offered') }],
    ['an untrusted IMAP certificate', { imapTls: failed('CERT_UNTRUSTED', 'not trusted') }],
    ['a wrong-name IMAP certificate', { imapTls: failed('CERT_NAME_MISMATCH', 'does not name mx1') }],
  ])('makes %s a major outage of one protocol', (_case, failing) => {
    expect(classifyProbes(report(failing), undefined, endToEnd)).toEqual({
      severity: 'major',
      scope: 'one-protocol',
      healthy: false,
    });
  });

  it('keeps the older verdicts first: both protocols down is critical, a named mailbox is single-user', () => {
    const down = failed('ECONNREFUSED', 'refused');
    expect(classifyProbes(report({ tcpSmtp: down, smtp: down, imap: down }), undefined, endToEnd).severity).toBe(
      'critical',
    );
    expect(classifyProbes(report({ smtpTls: expired }), 'alice@mx1', endToEnd).scope).toBe('single-user');
  });

  it('classes a deferred-queue backlog, with SMTP, IMAP and delivery answering, as delayed delivery', () => {
    const backlog = report({ deferredQueue: failed('QUEUE_BACKLOG', '5 messages deferred (threshold 3)') });
    const current = { endToEnd: true, deliveryDelayed: true };
    expect(classifyProbes(backlog, undefined, current)).toEqual({
      severity: 'minor',
      scope: 'delivery-delayed',
      healthy: false,
    });
    // Incidents started before the distinction keep calling it everyone's outage, so their histories replay.
    expect(classifyProbes(backlog, undefined, endToEnd)).toEqual({
      severity: 'major',
      scope: 'all-users',
      healthy: false,
    });
  });

  it('keeps a backlog with anything else failing an outage for everyone', () => {
    const current = { endToEnd: true, deliveryDelayed: true };
    const backlog = { deferredQueue: failed('QUEUE_BACKLOG', '500 messages deferred') };
    const delivery = report({ ...backlog, smtpDelivery: failed('DATA_REJECTED', '451') });
    const login = report({ ...backlog, imapLogin: failed('AUTH_FAILED', 'canary cannot log in') });
    expect(classifyProbes(delivery, undefined, current).scope).toBe('all-users');
    expect(classifyProbes(login, undefined, current).scope).toBe('all-users');
    const smtpDown = failed('ECONNREFUSED', 'refused');
    expect(classifyProbes(report({ ...backlog, tcpSmtp: smtpDown, smtp: smtpDown }), undefined, current)).toEqual({
      severity: 'major',
      scope: 'one-protocol',
      healthy: false,
    });
  });

  it('ignores the end-to-end checks for incidents recorded before them', () => {
    const failing = report({ smtpDelivery: failed('DATA_REJECTED', '451'), imapTls: expired });
    expect(classifyProbes(failing, undefined, { endToEnd: false })).toEqual({
      severity: 'none',
      scope: 'none',
      healthy: true,
    });
  });
});

describe('answersAll', () => {
  it('holds a fix unverified until delivery and certificates pass too', () => {
    expect(answersAll(report(), endToEnd)).toBe(true);
    expect(answersAll(report({ smtpDelivery: failed('DATA_REJECTED', '451') }), endToEnd)).toBe(false);
    expect(answersAll(report({ smtpTls: expired }), endToEnd)).toBe(false);
    expect(answersAll(report({ imapTls: expired }), { endToEnd: false })).toBe(true);
  });
});

describe('describeProbes', () => {
  it('names every check, what a failing one saw, and expiring certificates', () => {
    const described = describeProbes(
      report({
        smtpDelivery: failed('RCPT_REJECTED', 'RCPT: 550 5.1.1 unknown'),
        certificateWarnings: [
          { service: 'imap', subject: 'CN=mx1', issuer: 'CN=CA', validTo: '2026-12-03T00:00:00.000Z', daysLeft: 4 },
        ],
      }),
    );
    expect(described).toBe(
      'tcp ok, smtp ok, imap ok, imap-login ok, smtp-delivery FAILED (RCPT: 550 5.1.1 unknown), smtp-tls ok, ' +
        'imap-tls ok, imap certificate expires 2026-12-03T00:00:00.000Z (4 days)',
    );
  });
});

describe('failingChecks', () => {
  it('names the failing checks, sorted, so two reports compare by what failed rather than how', () => {
    expect(failingChecks(report())).toEqual([]);
    const down = failed('ECONNREFUSED', 'refused');
    expect(failingChecks(report({ imapTls: expired, smtp: down, tcpSmtp: down }))).toEqual(['imap-tls', 'smtp', 'tcp']);
  });
});
