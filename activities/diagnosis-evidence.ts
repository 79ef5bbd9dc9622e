import type { ServerConfig } from '../config/schema';
import type { CheckResult, ProbeReport } from '../workflows/messages';
import type { FollowUpResult } from './follow-up-evidence';
import type { HostEvidence } from './host-evidence-types';
import type { SignatureMatch } from './signatures/classify';
import type { UnansweredRun } from './unanswered-commands';

/** Everything one diagnosis saw on the mail host, for the rules and the signatures to reason from. */
export interface DiagnosisEvidence {
  server: ServerConfig;
  probes: ProbeReport;
  imapTcp: CheckResult;
  host: HostEvidence;
  /** Log lines in the window, and failing command output, that match a signature. */
  matches: SignatureMatch[];
  followUps: FollowUpResult[];
  /** The certificate files the daemons are configured with, read when a TLS probe failed. */
  certificateFiles: { smtp?: string; imap?: string };
  /** Every command of the visit that outlived its timeout and was killed, in the order they ran. */
  unanswered: UnansweredRun[];
}

export type MailDaemon = 'postfix' | 'dovecot';

/** A daemon fails when it is down or does not serve its protocol; one that answers may still log trouble. */
export function failingDaemons({ host, probes, imapTcp }: Pick<DiagnosisEvidence, 'host' | 'probes' | 'imapTcp'>) {
  const failing = new Set<MailDaemon>();
  if (!host.postfix.running || !probes.tcpSmtp.ok || !probes.smtp.ok) failing.add('postfix');
  if (!host.dovecot.running || !imapTcp.ok || !probes.imap.ok) failing.add('dovecot');
  return failing;
}
