import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import type { ProbeServerInput } from '../workflows/activity-contract';
import type { CertificateSummary, ProbeReport } from '../workflows/messages';
import { stepLogger } from './logging';
import type { CertificateTrust, MailHostAccess, MailHostDeps } from './mail-host';
import { probeCanaryMailbox } from './probe-canary';
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

export function createProbeActivities(deps: ProbeDeps) {
  return {
    /**
     * Step 1 of the SOP: looks at the server as a user's mail does, every probe at once and each within its own
     * deadline: ports and banners, a delivery to the canary and its arrival, STARTTLS and certificates.
     */
    async probeServer(input: ProbeServerInput): Promise<ProbeReport> {
      const started = performance.now();
      const log = stepLogger(deps.logger, input.context);
      const server = requireServer(deps.servers, input.context.serverId);
      const report: ProbeReport = {
        ...(await runProbes(deps, server, input.context.incidentId, log)),
        elapsedMs: Math.round(performance.now() - started),
      };
      logReport(log, report);
      return report;
    },
  };
}

type ProbeChecks = Omit<ProbeReport, 'elapsedMs'>;

async function runProbes(deps: ProbeDeps, server: ServerConfig, incidentId: string, log: Logger): Promise<ProbeChecks> {
  const timeoutMs = deps.probeTimeoutMs;
  const trust = await deps.mailHost.tlsTrust(server);
  const tlsTarget = (host: string, port: number): TlsProbeTarget => ({
    host,
    port,
    trust,
    timeoutMs,
    now: () => new Date(),
  });
  const canaryImap = deps.mailHost.canaryImap(server);
  const delivery: Promise<DeliveryOutcome | undefined> =
    server.canary && canaryImap
      ? probeSmtpDelivery({
          ...tlsTarget(server.smtp.host, server.smtp.port),
          mailbox: server.canary.mailbox,
          incidentId,
        })
      : Promise.resolve(undefined);
  const [tcpSmtp, smtp, imap, imapLogin, deferredQueue, smtpDelivery, smtpTls, imapTls] = await Promise.all([
    probeTcp(server.smtp.host, server.smtp.port, timeoutMs),
    probeSmtp(server.smtp.host, server.smtp.port, timeoutMs),
    probeImap(server.imap.host, server.imap.port, server.imap.tls, timeoutMs),
    server.canary && canaryImap
      ? probeCanaryMailbox(
          {
            imap: canaryImap,
            mailbox: server.canary.mailbox,
            timeoutMs,
            deliveryWaitMs: deps.deliveryWaitMs ?? 2 * timeoutMs,
          },
          delivery,
        )
      : undefined,
    server.ssh ? checkDeferredQueue(deps.mailHost, server, log, deps.probeTimeoutMs) : undefined,
    delivery,
    probeSmtpTls(tlsTarget(server.smtp.host, server.smtp.port), server.smtp.requireTls),
    probeImapTls(tlsTarget(server.imap.host, server.imap.port), server.imap),
  ]);
  const certificateWarnings = expiringSoon([smtpTls, imapTls], server.tls.expiryWarning);
  return {
    serverId: server.id,
    checkedAt: new Date().toISOString(),
    tcpSmtp,
    smtp,
    imap,
    ...(imapLogin ? { imapLogin } : {}),
    ...(deferredQueue ? { deferredQueue } : {}),
    ...(smtpDelivery ? { smtpDelivery: smtpDelivery.check } : {}),
    ...(smtpTls.check ? { smtpTls: smtpTls.check } : {}),
    ...(imapTls.check ? { imapTls: imapTls.check } : {}),
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
  log[healthy ? 'info' : 'warn'](
    { ...checks, elapsedMs, certificateWarnings },
    healthy ? 'mail server answers' : 'mail server check failed',
  );
}
