import type { CheckResult, ProbeReport, Scope, Severity } from './messages';

interface Classification {
  severity: Severity;
  scope: Scope;
  healthy: boolean;
}

/** Which users an outage touches follows from which protocols still answer, and whether the alert named a mailbox. */
export function classifyOutage(probes: ProbeReport, alertedMailbox: string | undefined): Classification {
  const smtpUp = probes.tcpSmtp.ok && probes.smtp.ok;
  const imapUp = probes.imap.ok;
  if (!smtpUp && !imapUp) return { severity: 'critical', scope: 'all-users', healthy: false };
  // Server probes cannot disprove one user's complaint, so an alert naming a mailbox is never a false alarm.
  if (alertedMailbox !== undefined) return { severity: 'minor', scope: 'single-user', healthy: false };
  if (!smtpUp || !imapUp) return { severity: 'major', scope: 'one-protocol', healthy: false };
  // The canary stands for every mailbox: if it cannot log in or mail piles up, everyone is affected.
  if (probes.imapLogin?.ok === false || probes.deferredQueue?.ok === false) {
    return { severity: 'major', scope: 'all-users', healthy: false };
  }
  return { severity: 'none', scope: 'none', healthy: true };
}

function optionalChecks(probes: ProbeReport): [string, CheckResult][] {
  const checks: [string, CheckResult][] = [];
  if (probes.imapLogin) checks.push(['imap-login', probes.imapLogin]);
  if (probes.deferredQueue) checks.push(['deferred-queue', probes.deferredQueue]);
  return checks;
}

export function allServicesAnswer(probes: ProbeReport): boolean {
  return probes.tcpSmtp.ok && probes.smtp.ok && probes.imap.ok && optionalChecks(probes).every(([, check]) => check.ok);
}

export function describeProbes(probes: ProbeReport): string {
  const checks: [string, CheckResult][] = [
    ['tcp', probes.tcpSmtp],
    ['smtp', probes.smtp],
    ['imap', probes.imap],
    ...optionalChecks(probes),
  ];
  return checks.map(([name, check]) => `${name} ${check.ok ? 'ok' : `FAILED (${check.detail})`}`).join(', ');
}
