import { patched } from '@temporalio/workflow';
import type { CheckResult, ProbeReport, Scope, Severity, UncheckedProbe } from './messages';

/**
 * What step 1 concluded: every check passed; an outage; every check that could be made passed but some could not
 * (`incomplete`); or the probes gave no report at all by the deadline (`no-answer`).
 */
export type Assessment = { outcome: 'healthy' | 'outage' } | { outcome: 'incomplete' | 'no-answer'; reason: string };

interface Classification {
  severity: Severity;
  scope: Scope;
  healthy: boolean;
}

/**
 * Incidents started before the end-to-end checks existed decided on ports and banners alone; their recorded
 * histories replay that decision, new incidents count delivery, token arrival and TLS too.
 */
const END_TO_END_PATCH = 'end-to-end-assessment';

/** Incidents started before this classed a queue backlog as everyone's outage; their histories replay that. */
const DELIVERY_DELAYED_PATCH = 'delivery-delayed-scope';

interface ClassifyOptions {
  /** Count the checks only the user's path shows: delivery, the token's arrival, STARTTLS and certificates. */
  endToEnd: boolean;
  /** A backlog in the deferred queue, with every service answering, is delayed delivery rather than an outage. */
  deliveryDelayed?: boolean;
}

/** Every check that answered passed but some could not be made: that proves nothing, and who is affected is unknown. */
const UNSIZED: Classification = { severity: 'minor', scope: 'unknown', healthy: false };

/**
 * Which users an outage touches follows from which protocols still answer, and whether the alert named a mailbox. A
 * report with checks that could not be made is never healthy. Reports recorded before such checks existed have none.
 */
export function classifyOutage(probes: ProbeReport, alertedMailbox: string | undefined): Classification {
  const measured = classifyMeasured(probes, alertedMailbox);
  return measured.healthy && (probes.unchecked?.length ?? 0) > 0 ? UNSIZED : measured;
}

function classifyMeasured(probes: ProbeReport, alertedMailbox: string | undefined): Classification {
  const endToEnd = patched(END_TO_END_PATCH);
  const onlyQueueFails = endToEnd && deferredQueueOnly(probes);
  return classifyProbes(probes, alertedMailbox, {
    endToEnd,
    deliveryDelayed: onlyQueueFails && patched(DELIVERY_DELAYED_PATCH),
  });
}

/** SMTP, IMAP, the canary's login and delivery all answer; only the deferred queue is over its threshold. */
function deferredQueueOnly(probes: ProbeReport): boolean {
  if (probes.deferredQueue?.ok !== false) return false;
  const others = optionalChecks(probes, true).filter(([name]) => name !== 'deferred-queue');
  return probes.tcpSmtp.ok && probes.smtp.ok && probes.imap.ok && others.every(([, check]) => check.ok);
}

/**
 * The classification itself, free of workflow APIs. Mail that cannot be queued or never arrives stops mail for
 * everyone; a failing certificate on one protocol stops that protocol for every user's client, on both it stops all.
 */
export function classifyProbes(
  probes: ProbeReport,
  alertedMailbox: string | undefined,
  { endToEnd, deliveryDelayed = false }: ClassifyOptions,
): Classification {
  // Mail still goes out and comes in, only late: users are told of delays, not of an outage.
  if (deliveryDelayed && alertedMailbox === undefined && deferredQueueOnly(probes)) {
    return { severity: 'minor', scope: 'delivery-delayed', healthy: false };
  }
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
  if (!endToEnd) return { severity: 'none', scope: 'none', healthy: true };
  if (probes.smtpDelivery?.ok === false) return { severity: 'major', scope: 'all-users', healthy: false };
  const smtpTlsFails = probes.smtpTls?.ok === false;
  const imapTlsFails = probes.imapTls?.ok === false;
  if (smtpTlsFails && imapTlsFails) return { severity: 'major', scope: 'all-users', healthy: false };
  if (smtpTlsFails || imapTlsFails) return { severity: 'major', scope: 'one-protocol', healthy: false };
  // Certificate warnings alone are no outage: the false-alarm path tells the IT team about them.
  return { severity: 'none', scope: 'none', healthy: true };
}

/** The checks beyond ports and banners, in the order people read them; the end-to-end ones only once patched. */
function optionalChecks(probes: ProbeReport, endToEnd: boolean): [string, CheckResult][] {
  const checks: [string, CheckResult | undefined][] = [
    ['imap-login', probes.imapLogin],
    ['deferred-queue', probes.deferredQueue],
    ...(endToEnd
      ? ([
          ['smtp-delivery', probes.smtpDelivery],
          ['smtp-tls', probes.smtpTls],
          ['imap-tls', probes.imapTls],
        ] as [string, CheckResult | undefined][])
      : []),
  ];
  return checks.filter((entry): entry is [string, CheckResult] => entry[1] !== undefined);
}

/** Every check passed, delivery and certificates included: what verification needs before it calls a fix good. */
export function allServicesAnswer(probes: ProbeReport): boolean {
  return answersAll(probes, { endToEnd: patched(END_TO_END_PATCH) });
}

export function answersAll(probes: ProbeReport, { endToEnd }: ClassifyOptions): boolean {
  return (
    (probes.unchecked?.length ?? 0) === 0 &&
    probes.tcpSmtp.ok &&
    probes.smtp.ok &&
    probes.imap.ok &&
    optionalChecks(probes, endToEnd).every(([, check]) => check.ok)
  );
}

function everyCheck(probes: ProbeReport): [string, CheckResult][] {
  return [['tcp', probes.tcpSmtp], ['smtp', probes.smtp], ['imap', probes.imap], ...optionalChecks(probes, true)];
}

/** The names of the checks that failed, sorted: two reports with the same list show the same failure. */
export function failingChecks(probes: ProbeReport): string[] {
  const failing = everyCheck(probes)
    .filter(([, check]) => !check.ok)
    .map(([name]) => name);
  // A check that could not be made is neither passing nor failing: a change to or from it is still a change.
  const unknown = (probes.unchecked ?? []).map(({ check }) => `${check}?`);
  return [...failing, ...unknown].sort();
}

/** One line for the timeline: every check that ran, and what a failing one saw. */
export function describeProbes(probes: ProbeReport): string {
  const checks = everyCheck(probes);
  const described = checks.map(([name, check]) => `${name} ${check.ok ? 'ok' : `FAILED (${check.detail})`}`);
  const unchecked = (probes.unchecked ?? []).map(({ check, reason }) => `${check} NOT CHECKED (${reason})`);
  const warnings = (probes.certificateWarnings ?? []).map(
    (certificate) => `${certificate.service} certificate expires ${certificate.validTo} (${certificate.daysLeft} days)`,
  );
  return [...described, ...unchecked, ...warnings].join(', ');
}

/** The checks that could not be made, each with why, for a person to read. */
export function describeUnchecked(unchecked: readonly UncheckedProbe[]): string {
  return unchecked.map(({ check, reason }) => `${check} (${reason})`).join('; ');
}
