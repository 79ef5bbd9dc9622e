import type { ProbeReport, Scope, Severity } from './messages';

export interface Classification {
  severity: Severity;
  scope: Scope;
  healthy: boolean;
}

/** Which users an outage touches follows from which protocols still answer, and whether the alert named a mailbox. */
export function classifyOutage(probes: ProbeReport, alertedMailbox: string | undefined): Classification {
  const smtpUp = probes.tcpSmtp.ok && probes.smtp.ok;
  const imapUp = probes.imap.ok;
  const mailboxUp = probes.imapLogin?.ok ?? true;
  if (!smtpUp && !imapUp) return { severity: 'critical', scope: 'all-users', healthy: false };
  // Server probes cannot disprove one user's complaint, so an alert naming a mailbox is never a false alarm.
  if (alertedMailbox !== undefined) {
    return { severity: 'minor', scope: 'single-user', healthy: false };
  }
  if (!smtpUp || !imapUp) return { severity: 'major', scope: 'one-protocol', healthy: false };
  if (!mailboxUp) return { severity: 'minor', scope: 'single-user', healthy: false };
  return { severity: 'none', scope: 'none', healthy: true };
}

export function allServicesAnswer(probes: ProbeReport): boolean {
  return probes.tcpSmtp.ok && probes.smtp.ok && probes.imap.ok && (probes.imapLogin?.ok ?? true);
}

export function describeProbes(probes: ProbeReport): string {
  const checks = [
    ['tcp', probes.tcpSmtp],
    ['smtp', probes.smtp],
    ['imap', probes.imap],
    ...(probes.imapLogin ? [['imap-login', probes.imapLogin] as const] : []),
  ] as const;
  return checks.map(([name, check]) => `${name} ${check.ok ? 'ok' : `FAILED (${check.detail})`}`).join(', ');
}
