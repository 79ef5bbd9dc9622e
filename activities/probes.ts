import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import type { ProbeServerInput } from '../workflows/activity-contract';
import type { CertificateSummary, CheckResult, ProbeReport, UncheckedProbe } from '../workflows/messages';
import { stepLogger } from './logging';
import type { CertificateTrust, MailHostAccess, MailHostDeps } from './mail-host';
import { probeCanaryMailbox, type CanaryTarget } from './probe-canary';
import { reportWithinMs, startProbeDeadline, type ProbeAnswer, type ProbeDeadline } from './probe-deadline';
import { probeSmtpDelivery, type DeliveryOutcome } from './probe-delivery';
import { probeImap, probeSmtp, probeTcp } from './probe-reachability';
import { probeImapTls, probeSmtpTls, type TlsProbeOutcome, type TlsProbeTarget } from './probe-tls';
import { checkDeferredQueue } from './queue-check';
import { requireServer } from './servers';

export { probeImap, probeSmtp, probeTcp } from './probe-reachability';

export interface ProbeDeps extends MailHostDeps {
  mailHost: MailHostAccess & CertificateTrust;
  probeTimeoutMs: number;
  /** How long the assessment's token may take from SMTP's 250 to the canary's INBOX; twice the probe timeout if unset. */
  deliveryWaitMs?: number;
}

/** Without a deadline from the workflow: well inside the probes group's one-minute start-to-close. */
export const DEFAULT_PROBE_DEADLINE_MS = 45_000;
/** Kept back from the deadline for assembling, logging and returning the report. */
const REPORT_MARGIN_MS = 500;

/** The optional checks, by the names the timeline gives them when they could not be made. */
type OptionalCheck = 'imap-login' | 'deferred-queue' | 'smtp-delivery' | 'smtp-tls' | 'imap-tls';

export function createProbeActivities(deps: ProbeDeps) {
  return {
    /**
     * Step 1 of the SOP: looks at the server as a user's mail does, every probe at once and each within its own
     * timeout: ports and banners, a delivery to the canary and its arrival, STARTTLS and certificates, the queue.
     * Reports by `input.deadlineMs` whatever has answered: a port that has not is reported as not answering, and an
     * optional check that has not is listed in `unchecked`, neither passed nor failed. The deadline is also kept
     * inside the activity's Temporal timeouts, which count from when it was scheduled: a late start reports sooner.
     */
    async probeServer(input: ProbeServerInput): Promise<ProbeReport> {
      const started = performance.now();
      const log = stepLogger(deps.logger, input.context);
      const server = requireServer(deps.servers, input.context.serverId);
      const deadlineMs = reportWithinMs(input.deadlineMs ?? DEFAULT_PROBE_DEADLINE_MS);
      const deadline = startProbeDeadline(Math.max(deadlineMs - REPORT_MARGIN_MS, deadlineMs / 2));
      try {
        const report: ProbeReport = {
          ...(await runProbes(deps, server, input.context.incidentId, log, deadline)),
          elapsedMs: Math.round(performance.now() - started),
        };
        logReport(log, report);
        return report;
      } finally {
        deadline.clear();
      }
    },
  };
}

type ProbeChecks = Omit<ProbeReport, 'elapsedMs'>;

async function runProbes(
  deps: ProbeDeps,
  server: ServerConfig,
  incidentId: string,
  log: Logger,
  deadline: ProbeDeadline,
): Promise<ProbeChecks> {
  const answers = await answersByDeadline(deps, server, incidentId, log, deadline);
  return reportOf(server, answers, deadline);
}

/** Every probe at once, each within its own timeout and all within the deadline. */
async function answersByDeadline(
  deps: ProbeDeps,
  server: ServerConfig,
  incidentId: string,
  log: Logger,
  deadline: ProbeDeadline,
) {
  const timeoutMs = deps.probeTimeoutMs;
  // Read when the probes start and awaited only by the probes that need it: a CA file on a stuck mount must not hold
  // the ports' answers back, nor the report past its deadline.
  const trust = deps.mailHost.tlsTrust(server);
  const tlsTarget = async (host: string, port: number): Promise<TlsProbeTarget> => ({
    host,
    port,
    trust: await trust,
    timeoutMs,
    now: () => new Date(),
  });
  const canaryImap = deps.mailHost.canaryImap(server);
  const { canary } = server;
  const delivery: Promise<DeliveryOutcome | undefined> =
    canary && canaryImap
      ? tlsTarget(server.smtp.host, server.smtp.port).then((target) =>
          probeSmtpDelivery({ ...target, mailbox: canary.mailbox, incidentId }),
        )
      : Promise.resolve(undefined);
  const canaryTarget: CanaryTarget | undefined =
    canary && canaryImap
      ? {
          imap: canaryImap,
          mailbox: canary.mailbox,
          timeoutMs,
          deliveryWaitMs: deps.deliveryWaitMs ?? 2 * timeoutMs,
        }
      : undefined;
  const { ssh } = server;
  const [tcpSmtp, smtp, imap, imapLogin, queue, smtpDelivery, smtpTls, imapTls] = await Promise.all([
    deadline.within(probeTcp(server.smtp.host, server.smtp.port, timeoutMs)),
    deadline.within(probeSmtp(server.smtp.host, server.smtp.port, timeoutMs)),
    deadline.within(probeImap(server.imap.host, server.imap.port, server.imap.tls, timeoutMs)),
    deadline.within(canaryTarget ? probeCanaryMailbox(canaryTarget, delivery) : Promise.resolve(undefined)),
    deadline.within(
      ssh ? checkDeferredQueue(deps.mailHost, { ...server, ssh }, log, deadline) : Promise.resolve(undefined),
    ),
    deadline.within(delivery),
    deadline.within(
      tlsTarget(server.smtp.host, server.smtp.port).then((target) => probeSmtpTls(target, server.smtp.requireTls)),
    ),
    deadline.within(tlsTarget(server.imap.host, server.imap.port).then((target) => probeImapTls(target, server.imap))),
  ]);
  return { tcpSmtp, smtp, imap, imapLogin, queue, smtpDelivery, smtpTls, imapTls };
}

/**
 * The report from what answered: a required port check that did not is reported as not answering, an optional check
 * that did not is listed as unchecked, and so is a queue SSH could not reach.
 */
function reportOf(
  server: ServerConfig,
  answers: Awaited<ReturnType<typeof answersByDeadline>>,
  deadline: ProbeDeadline,
): ProbeChecks {
  const unchecked: UncheckedProbe[] = [];
  const required = (answer: ProbeAnswer<CheckResult>): CheckResult =>
    answer.answered ? answer.value : deadline.noAnswerCheck();
  const optional = <T>(check: OptionalCheck, answer: ProbeAnswer<T>): T | undefined => {
    if (answer.answered) return answer.value;
    unchecked.push({ check, reason: deadline.noAnswer });
    return undefined;
  };
  const login = optional('imap-login', answers.imapLogin);
  const queue = optional('deferred-queue', answers.queue);
  if (queue && 'unchecked' in queue) unchecked.push(queue.unchecked);
  const deferredQueue = queue && 'check' in queue ? queue.check : undefined;
  const delivery = optional('smtp-delivery', answers.smtpDelivery)?.check;
  const tls = { smtp: optional('smtp-tls', answers.smtpTls), imap: optional('imap-tls', answers.imapTls) };
  const certificateWarnings = expiringSoon(
    [tls.smtp, tls.imap].filter((outcome): outcome is TlsProbeOutcome => outcome !== undefined),
    server.tls.expiryWarning,
  );
  return {
    serverId: server.id,
    checkedAt: new Date().toISOString(),
    ...(unchecked.length > 0 ? { unchecked } : {}),
    tcpSmtp: required(answers.tcpSmtp),
    smtp: required(answers.smtp),
    imap: required(answers.imap),
    ...(login ? { imapLogin: login } : {}),
    ...(deferredQueue ? { deferredQueue } : {}),
    ...(delivery ? { smtpDelivery: delivery } : {}),
    ...(tls.smtp?.check ? { smtpTls: tls.smtp.check } : {}),
    ...(tls.imap?.check ? { imapTls: tls.imap.check } : {}),
    ...(certificateWarnings.length > 0 ? { certificateWarnings } : {}),
  };
}

/** Certificates that passed their check but end within the warning window: the IT team hears before users do. */
function expiringSoon(outcomes: TlsProbeOutcome[], expiryWarningMs: number): CertificateSummary[] {
  const now = Date.now();
  return outcomes
    .map((outcome) => outcome.certificate)
    .filter((certificate): certificate is CertificateSummary => certificate !== undefined)
    .filter((certificate) => Date.parse(certificate.validTo) - now < expiryWarningMs);
}

function logReport(log: Logger, report: ProbeReport): void {
  const {
    elapsedMs,
    certificateWarnings,
    unchecked,
    tcpSmtp,
    smtp,
    imap,
    imapLogin,
    deferredQueue,
    smtpDelivery,
    smtpTls,
    imapTls,
  } = report;
  const checks = { tcpSmtp, smtp, imap, imapLogin, deferredQueue, smtpDelivery, smtpTls, imapTls };
  const healthy = Object.values(checks).every((check) => check?.ok ?? true);
  const complete = (unchecked ?? []).length === 0;
  log[healthy && complete ? 'info' : 'warn'](
    { ...checks, unchecked, elapsedMs, certificateWarnings },
    healthy
      ? complete
        ? 'mail server answers'
        : 'mail server answers what could be checked'
      : 'mail server check failed',
  );
}
