import {
  networkFindings,
  reasonFromNetwork,
  type NetworkEvidence,
  type RecommendedActionId,
} from '../../activities/diagnosis-rules';
import { rankFindings, toDiagnosis } from '../../activities/hypotheses';
import type { CheckResult } from '../../workflows/messages';

const ok = (detail: string): CheckResult => ({ ok: true, latencyMs: 2, detail });
const failed = (errorCode: string, detail = errorCode): CheckResult => ({ ok: false, latencyMs: 2, detail, errorCode });

interface ObservedChecks {
  dns?: CheckResult;
  tcpSmtp?: CheckResult;
  smtp?: CheckResult;
  imapTcp?: CheckResult;
  imap?: CheckResult;
}

function evidence(overrides: ObservedChecks): NetworkEvidence {
  return {
    smtpEndpoint: 'mx1:25',
    imapEndpoint: 'mx1:143',
    dns: overrides.dns ?? ok('mx1 -> 127.0.0.1'),
    imapTcp: overrides.imapTcp ?? ok('connected'),
    probes: {
      serverId: 'mx1',
      checkedAt: '2026-01-01T00:00:00Z',
      tcpSmtp: overrides.tcpSmtp ?? ok('connected'),
      smtp: overrides.smtp ?? ok('220 mx1 ESMTP'),
      imap: overrides.imap ?? ok('* OK ready'),
    },
  };
}

describe('reasoning from network evidence', () => {
  test.each<[string, ObservedChecks, RecommendedActionId, RegExp]>([
    [
      'refused SMTP port',
      { tcpSmtp: failed('ECONNREFUSED'), smtp: failed('ECONNREFUSED') },
      'start-postfix',
      /Postfix is not running/,
    ],
    [
      'both ports refused',
      {
        tcpSmtp: failed('ECONNREFUSED'),
        smtp: failed('ECONNREFUSED'),
        imapTcp: failed('ECONNREFUSED'),
        imap: failed('ECONNREFUSED'),
      },
      'start-postfix',
      /Postfix and Dovecot are both stopped/,
    ],
    [
      'SMTP answering 421',
      { smtp: failed('BAD_GREETING', '421 mx1 Service not available') },
      'restart-postfix',
      /421 mx1/,
    ],
    [
      'refused IMAP port',
      { imapTcp: failed('ECONNREFUSED'), imap: failed('ECONNREFUSED') },
      'start-dovecot',
      /Dovecot is not running/,
    ],
    ['IMAP bad greeting', { imap: failed('BAD_GREETING', '* BYE shutting down') }, 'reload-dovecot', /BYE/],
    ['DNS failure', { dns: failed('ENOTFOUND', 'mx1: ENOTFOUND') }, 'none', /does not resolve/],
    [
      'host unreachable',
      {
        tcpSmtp: failed('ETIMEDOUT'),
        smtp: failed('ETIMEDOUT'),
        imapTcp: failed('ETIMEDOUT'),
        imap: failed('ETIMEDOUT'),
      },
      'none',
      /host or the network path/,
    ],
    ['everything answers', {}, 'none', /no server-side fault/],
  ])('%s', (_name, observed, actionId, cause) => {
    const finding = reasonFromNetwork(evidence(observed));
    expect(finding.actionId).toBe(actionId);
    expect(finding.rootCause).toMatch(cause);
    expect(finding.evidence.length).toBeGreaterThan(0);
  });

  test('a token accepted but never delivered is named as such, not as a failed login', () => {
    const observed = evidence({});
    observed.probes.smtpDelivery = ok('250 2.0.0 Ok: queued as 4ZqD1');
    observed.probes.imapLogin = failed(
      'TOKEN_NOT_DELIVERED',
      'the token message was queued but not in INBOX after 10000 ms',
    );
    const finding = reasonFromNetwork(observed);
    expect(finding).toMatchObject({ failureClass: 'delivery-stalled', actionId: 'none' });
    expect(finding.rootCause).toMatch(/^Mail is accepted but does not reach the canary's mailbox/);
    expect(finding.evidence[0]).toMatch(/queued as 4ZqD1/);
  });

  test('two handovers of one class from different signatures both reach the approver', () => {
    const handover = (source: string) => ({
      rootCause: source,
      evidence: [source],
      actionId: 'none' as const,
      failureClass: 'authentication',
      source,
      confidence: 0.8,
      daemon: 'postfix' as const,
    });
    expect(rankFindings([handover('postfix-relay-auth-failed'), handover('postfix-client-auth-failed')])).toHaveLength(
      2,
    );
  });

  test('the diagnosis carries the catalog entry with its risk and rollback, or hands over to people', () => {
    const fix = toDiagnosis(rankFindings(networkFindings(evidence({ tcpSmtp: failed('ECONNREFUSED') }))), 'now');
    expect(fix.recommendation).toMatchObject({ actionId: 'start-postfix', risk: 'low' });
    expect(fix.recommendation.rollback).toMatch(/postfix stop/);
    expect(fix.evidence).toContain('tcp mx1:25: failed in 2 ms: ECONNREFUSED');
    const handOver = toDiagnosis(networkFindings(evidence({})), 'now');
    expect(handOver.recommendation.actionId).toBe('none');
    expect(fix.hypotheses?.[0]).toMatchObject({ source: 'network-smtp-refused', failureClass: 'not-running' });
  });
});
