import { NO_CATALOG_ACTION, type CheckResult, type Handover, type ProbeReport } from '../workflows/messages';
import type { CatalogActionId } from './remediation-catalog';

export interface NetworkEvidence {
  smtpEndpoint: string;
  imapEndpoint: string;
  dns: CheckResult;
  probes: ProbeReport;
  imapTcp: CheckResult;
}

/** What a diagnosis may recommend: a catalog action, or handing over to people. */
export type RecommendedActionId = CatalogActionId | typeof NO_CATALOG_ACTION;

/** One possible cause as a rule or a log signature saw it; ranked against the others, it becomes a Hypothesis. */
export interface Finding {
  rootCause: string;
  /** What supports it, as quoted lines. */
  evidence: string[];
  actionId: RecommendedActionId;
  /** What would keep this cause from recurring, for the post-incident review. */
  prevention?: string[];
  /** e.g. `bind-conflict`, `not-running`, `config-error`. */
  failureClass: string;
  /** The rule or signature id that raised it. */
  source: string;
  /** 0 to 1. Generic rules stay at or below 0.6; a specific fatal log line of the failing daemon scores higher. */
  confidence: number;
  daemon?: 'postfix' | 'dovecot' | 'system';
  /** Observations that speak against it; any at all ranks it below every finding without. */
  evidenceAgainst?: string[];
  /** Set when the action is to hand over with commands people can run. */
  handover?: Handover;
}

/** Prevention advice shared by the network and the host reasoning. */
export const PREVENTION = {
  serviceStopped: (service: string) => [
    `Supervise ${service} so it is restarted when it dies (systemd Restart=on-failure, or monit), and find out from its log why it stopped.`,
    `Alert on the ${service} master process, not only on the port, so a stop is seen before users notice.`,
  ],
  configChange: [
    'Run `postfix check` (and `doveconf -n`) before every reload, and keep /etc/postfix under version control (etckeeper) so a bad edit is reviewed and easy to revert.',
    'Refresh the known-good copy only after a change has been verified in production.',
  ],
  relayDown: [
    'Configure a second relay (smtp_fallback_relay) so one unreachable upstream does not stop outbound mail.',
    'Alert on the size and age of the deferred queue, not only on SMTP answering.',
  ],
  daemonUnresponsive: (service: string, client: string) => [
    `Alert on ${service} answering its own client (\`${client}\`), not only on its port and process: a daemon can run and accept connections while it answers nothing.`,
    `Before the next restart, read what the master waits on (\`ps -o stat,wchan\`, its log): a hang that recurs points at storage, DNS or a lock.`,
  ],
  diskFull: [
    'Alert on disk and inode use of the queue and mail directories at 80%, and rotate or expire old mail and logs.',
  ],
  dns: ['Monitor the resolution of the mail host name, and keep a secondary DNS server for it.'],
  network: [
    'Monitor the network path to the mail host separately from the mail services, so a network outage is told apart from a mail outage.',
  ],
} as const;

const CONNECT_TIMEOUT = 'ETIMEDOUT';
const CONNECT_REFUSED = 'ECONNREFUSED';

function quote(label: string, check: CheckResult): string {
  return `${label}: ${check.ok ? 'ok' : 'failed'} in ${check.latencyMs} ms: ${check.detail}`;
}

/** The network evidence, with each service's checks already quoted for the findings to cite. */
interface QuotedNetworkEvidence extends NetworkEvidence {
  smtpLines: string[];
  imapLines: string[];
}

/** Faults before the mail services: the name does not resolve, or nothing on the host answers at all. */
function networkFault({ dns, probes, imapTcp, smtpLines, imapLines }: QuotedNetworkEvidence): Finding | undefined {
  if (!dns.ok) {
    return {
      rootCause: `The mail host name does not resolve (${dns.detail}); the fault is in DNS, not on the mail host`,
      evidence: [quote('dns', dns)],
      actionId: NO_CATALOG_ACTION,
      failureClass: 'dns',
      source: 'network-dns',
      confidence: 0.8,
      prevention: [...PREVENTION.dns],
    };
  }
  if (probes.tcpSmtp.errorCode === CONNECT_TIMEOUT && imapTcp.errorCode === CONNECT_TIMEOUT) {
    return {
      rootCause: 'Neither the SMTP nor the IMAP port answers a connect: the host or the network path to it is down',
      evidence: [...smtpLines, ...imapLines],
      actionId: NO_CATALOG_ACTION,
      prevention: [...PREVENTION.network],
      failureClass: 'host-unreachable',
      source: 'network-unreachable',
      confidence: 0.7,
    };
  }
  return undefined;
}

/** Postfix faults: its port refused (alone or with Dovecot's), or a connection that gets no working SMTP. */
function postfixFault(observed: QuotedNetworkEvidence): Finding | undefined {
  const { probes, imapTcp, smtpEndpoint, imapEndpoint, smtpLines, imapLines } = observed;
  if (probes.tcpSmtp.errorCode === CONNECT_REFUSED && imapTcp.errorCode === CONNECT_REFUSED) {
    return {
      rootCause:
        `Neither SMTP (${smtpEndpoint}) nor IMAP (${imapEndpoint}) accepts connections while the ` +
        'host refuses them actively: Postfix and Dovecot are both stopped; Postfix comes first so mail is accepted again',
      evidence: [...smtpLines, ...imapLines],
      actionId: 'start-postfix',
      prevention: [...PREVENTION.serviceStopped('Postfix'), ...PREVENTION.serviceStopped('Dovecot')],
      failureClass: 'not-running',
      source: 'network-both-refused',
      confidence: 0.45,
      daemon: 'postfix',
    };
  }
  if (probes.tcpSmtp.errorCode === CONNECT_REFUSED) {
    return {
      rootCause: `Nothing listens on the SMTP port ${smtpEndpoint} while the host answers: Postfix is not running`,
      evidence: [...smtpLines, ...imapLines],
      actionId: 'start-postfix',
      prevention: [...PREVENTION.serviceStopped('Postfix')],
      failureClass: 'not-running',
      source: 'network-smtp-refused',
      confidence: 0.45,
      daemon: 'postfix',
    };
  }
  if (probes.tcpSmtp.ok && !probes.smtp.ok) {
    return {
      rootCause: `Postfix accepts connections on ${smtpEndpoint} but does not serve SMTP: ${probes.smtp.detail}`,
      evidence: smtpLines,
      actionId: 'restart-postfix',
      failureClass: 'not-answering',
      source: 'network-smtp-silent',
      confidence: 0.45,
      daemon: 'postfix',
    };
  }
  return undefined;
}

/** Dovecot faults: its port refused, a connection that gets no working IMAP, or a canary login that fails. */
function dovecotFault({
  probes,
  imapTcp,
  imapEndpoint,
  smtpLines,
  imapLines,
}: QuotedNetworkEvidence): Finding | undefined {
  if (imapTcp.errorCode === CONNECT_REFUSED) {
    return {
      rootCause: `Nothing listens on the IMAP port ${imapEndpoint} while the host answers: Dovecot is not running`,
      evidence: [...imapLines, ...smtpLines],
      actionId: 'start-dovecot',
      prevention: [...PREVENTION.serviceStopped('Dovecot')],
      failureClass: 'not-running',
      source: 'network-imap-refused',
      confidence: 0.45,
      daemon: 'dovecot',
    };
  }
  if (imapTcp.ok && !probes.imap.ok) {
    return {
      rootCause: `Dovecot accepts connections on ${imapEndpoint} but does not serve IMAP: ${probes.imap.detail}`,
      evidence: imapLines,
      actionId: 'reload-dovecot',
      failureClass: 'not-answering',
      source: 'network-imap-silent',
      confidence: 0.45,
      daemon: 'dovecot',
    };
  }
  if (probes.imapLogin?.errorCode === 'TOKEN_NOT_DELIVERED') {
    return {
      rootCause: `Mail is accepted but does not reach the canary's mailbox: ${probes.imapLogin.detail}`,
      evidence: [
        ...(probes.smtpDelivery ? [quote('smtp delivery', probes.smtpDelivery)] : []),
        quote('imap login', probes.imapLogin),
      ],
      actionId: NO_CATALOG_ACTION,
      failureClass: 'delivery-stalled',
      source: 'network-token-not-delivered',
      confidence: 0.35,
    };
  }
  if (probes.imapLogin && !probes.imapLogin.ok) {
    return {
      rootCause: `IMAP answers but the canary mailbox login fails: ${probes.imapLogin.detail}`,
      evidence: [quote('imap login', probes.imapLogin), ...imapLines],
      actionId: NO_CATALOG_ACTION,
      failureClass: 'authentication',
      source: 'network-canary-login',
      confidence: 0.35,
      daemon: 'dovecot',
    };
  }
  return undefined;
}

/** Nothing above matched: either every service answers, or the failures fit no known pattern. */
function noKnownFault({ smtpLines, imapLines }: QuotedNetworkEvidence): Finding {
  const failing = [...smtpLines, ...imapLines].filter((line) => line.includes(': failed'));
  return {
    rootCause:
      failing.length === 0
        ? 'Every service answers from the network; no server-side fault is visible'
        : 'The services fail in a way the network evidence does not explain',
    evidence: failing.length === 0 ? [...smtpLines, ...imapLines] : failing,
    actionId: NO_CATALOG_ACTION,
    failureClass: failing.length === 0 ? 'no-fault' : 'unexplained',
    source: 'network-no-known-fault',
    confidence: 0.1,
  };
}

function quoteNetwork(evidence: NetworkEvidence): QuotedNetworkEvidence {
  return {
    ...evidence,
    smtpLines: [
      quote(`tcp ${evidence.smtpEndpoint}`, evidence.probes.tcpSmtp),
      quote(`smtp ${evidence.smtpEndpoint}`, evidence.probes.smtp),
    ],
    imapLines: [
      quote(`tcp ${evidence.imapEndpoint}`, evidence.imapTcp),
      quote(`imap ${evidence.imapEndpoint}`, evidence.probes.imap),
    ],
  };
}

/**
 * Reasons from network evidence alone: what answers, what refuses, what never replies. Each finding names the
 * observation it rests on, so a reader can check it. Every rule that fits gives a finding, the network first, then
 * Postfix, then Dovecot; when none fits, one finding says so.
 */
export function networkFindings(evidence: NetworkEvidence): Finding[] {
  const observed = quoteNetwork(evidence);
  const findings = [networkFault(observed), postfixFault(observed), dovecotFault(observed)].filter(
    (finding): finding is Finding => finding !== undefined,
  );
  return findings.length > 0 ? findings : [noKnownFault(observed)];
}

/** The first network finding: what the network alone says is wrong. */
export function reasonFromNetwork(evidence: NetworkEvidence): Finding {
  return networkFindings(evidence)[0] ?? noKnownFault(quoteNetwork(evidence));
}
