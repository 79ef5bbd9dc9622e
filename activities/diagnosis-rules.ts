import { NO_CATALOG_ACTION, type CheckResult, type Diagnosis, type ProbeReport } from '../workflows/messages';
import { findCatalogAction } from './remediation-catalog';

export interface NetworkEvidence {
  smtpEndpoint: string;
  imapEndpoint: string;
  dns: CheckResult;
  probes: ProbeReport;
  imapTcp: CheckResult;
}

export interface Finding {
  rootCause: string;
  evidence: string[];
  actionId: string;
}

const CONNECT_TIMEOUT = 'ETIMEDOUT';
const CONNECT_REFUSED = 'ECONNREFUSED';

function quote(label: string, check: CheckResult): string {
  return `${label}: ${check.ok ? 'ok' : 'failed'} in ${check.latencyMs} ms: ${check.detail}`;
}

/**
 * Reasons from network evidence alone: what answers, what refuses, what never replies. Each finding names the
 * observation it rests on, so a reader can check it.
 */
export function reasonFromNetwork(evidence: NetworkEvidence): Finding {
  const { dns, probes, imapTcp } = evidence;
  const smtpEvidence = [
    quote(`tcp ${evidence.smtpEndpoint}`, probes.tcpSmtp),
    quote(`smtp ${evidence.smtpEndpoint}`, probes.smtp),
  ];
  const imapEvidence = [
    quote(`tcp ${evidence.imapEndpoint}`, imapTcp),
    quote(`imap ${evidence.imapEndpoint}`, probes.imap),
  ];
  if (!dns.ok) {
    return {
      rootCause: `The mail host name does not resolve (${dns.detail}); the fault is in DNS, not on the mail host`,
      evidence: [quote('dns', dns)],
      actionId: NO_CATALOG_ACTION,
    };
  }
  const unreachable = [probes.tcpSmtp, imapTcp].filter((check) => check.errorCode === CONNECT_TIMEOUT);
  if (unreachable.length === 2) {
    return {
      rootCause: 'Neither the SMTP nor the IMAP port answers a connect: the host or the network path to it is down',
      evidence: [...smtpEvidence, ...imapEvidence],
      actionId: NO_CATALOG_ACTION,
    };
  }
  if (probes.tcpSmtp.errorCode === CONNECT_REFUSED && imapTcp.errorCode === CONNECT_REFUSED) {
    return {
      rootCause:
        `Neither SMTP (${evidence.smtpEndpoint}) nor IMAP (${evidence.imapEndpoint}) accepts connections while the ` +
        'host refuses them actively: Postfix and Dovecot are both stopped; Postfix comes first so mail is accepted again',
      evidence: [...smtpEvidence, ...imapEvidence],
      actionId: 'start-postfix',
    };
  }
  if (probes.tcpSmtp.errorCode === CONNECT_REFUSED) {
    return {
      rootCause: `Nothing listens on the SMTP port ${evidence.smtpEndpoint} while the host answers: Postfix is not running`,
      evidence: [...smtpEvidence, ...imapEvidence],
      actionId: 'start-postfix',
    };
  }
  if (probes.tcpSmtp.ok && !probes.smtp.ok) {
    return {
      rootCause: `Postfix accepts connections on ${evidence.smtpEndpoint} but does not serve SMTP: ${probes.smtp.detail}`,
      evidence: smtpEvidence,
      actionId: 'restart-postfix',
    };
  }
  if (imapTcp.errorCode === CONNECT_REFUSED) {
    return {
      rootCause: `Nothing listens on the IMAP port ${evidence.imapEndpoint} while the host answers: Dovecot is not running`,
      evidence: [...imapEvidence, ...smtpEvidence],
      actionId: 'start-dovecot',
    };
  }
  if (imapTcp.ok && !probes.imap.ok) {
    return {
      rootCause: `Dovecot accepts connections on ${evidence.imapEndpoint} but does not serve IMAP: ${probes.imap.detail}`,
      evidence: imapEvidence,
      actionId: 'restart-dovecot',
    };
  }
  if (probes.imapLogin && !probes.imapLogin.ok) {
    return {
      rootCause: `IMAP answers but the canary mailbox login fails: ${probes.imapLogin.detail}`,
      evidence: [quote('imap login', probes.imapLogin), ...imapEvidence],
      actionId: NO_CATALOG_ACTION,
    };
  }
  const failing = [...smtpEvidence, ...imapEvidence].filter((line) => line.includes(': failed'));
  return {
    rootCause:
      failing.length === 0
        ? 'Every service answers from the network; no server-side fault is visible'
        : 'The services fail in a way the network evidence does not explain',
    evidence: failing.length === 0 ? [...smtpEvidence, ...imapEvidence] : failing,
    actionId: NO_CATALOG_ACTION,
  };
}

export function toDiagnosis(finding: Finding, diagnosedAt: string): Diagnosis {
  const action = findCatalogAction(finding.actionId);
  return {
    rootCause: finding.rootCause,
    evidence: finding.evidence,
    diagnosedAt,
    recommendation: action
      ? { actionId: action.id, description: action.description, risk: action.risk, rollback: action.rollback }
      : {
          actionId: NO_CATALOG_ACTION,
          description: 'No catalog action fits: hand over to people',
          risk: 'high',
          rollback: 'Nothing was changed',
        },
  };
}
