import { lookup } from 'node:dns/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import { FailureType } from '../workflows/failure-types';
import { NO_CATALOG_ACTION, type CheckResult, type Diagnosis } from '../workflows/messages';
import { reasonFromHost } from './diagnosis-host-rules';
import { reasonFromNetwork, toDiagnosis, type Finding } from './diagnosis-rules';
import { collectHostEvidence } from './host-evidence';
import type { HostEvidence } from './host-evidence-types';
import { stepLogger } from './logging';
import { requireServer } from './servers';
import type { MailHostDeps } from './mail-host';
import { probeTcp } from './probes';
import { findCatalogAction } from './remediation-catalog';
import { backupStamp } from './ssh-remediation';
import { shellQuote } from './ssh';
import type { DiagnoseOutageInput } from '../workflows/activity-contract';

export interface DiagnosisDeps extends MailHostDeps {
  probeTimeoutMs: number;
}

async function resolveHost(host: string, timeoutMs: number): Promise<CheckResult> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Date.now() - started, detail: `${host} -> ${answer.address}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EDNS';
    return { ok: false, latencyMs: Date.now() - started, detail: `${host}: ${code}`, errorCode: code };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Without SSH nothing in the catalog can run, so nobody is asked to approve it: the diagnosis hands over to people,
 * with the commands the action would have run, for them to run by hand.
 */
function handOverWhatCannotRun(diagnosis: Diagnosis, server: ServerConfig, whyNoHost: string): Diagnosis {
  const action = findCatalogAction(diagnosis.recommendation.actionId);
  if (!action) return diagnosis;
  let suggestedCommands: string[];
  try {
    suggestedCommands = action.commands(server, backupStamp(new Date())).map(shellQuote);
  } catch {
    suggestedCommands = [];
  }
  return {
    ...diagnosis,
    recommendation: {
      actionId: NO_CATALOG_ACTION,
      description: `Hand over to people: mailmend cannot run ${action.id} (${action.description}) without the host`,
      risk: action.risk,
      rollback: action.rollback,
    },
    handover: { reason: `mailmend cannot run ${action.id}: ${whyNoHost}`, suggestedCommands },
  };
}

export function createDiagnosisActivities(deps: DiagnosisDeps) {
  /** One SSH visit per diagnosis; a host mailmend cannot reach leaves the network evidence to decide. */
  async function inspectHost(server: ServerConfig, log: Logger): Promise<HostEvidence | string> {
    if (!server.ssh) return 'no SSH access configured: diagnosis from the network only';
    try {
      return await deps.mailHost.withSsh(server, (session) => collectHostEvidence(session, server.host, new Date()));
    } catch (error) {
      if (error instanceof ApplicationFailure && error.type === FailureType.HostKeyMismatch) throw error;
      log.warn({ err: error }, 'could not inspect the host over SSH');
      return `SSH to ${server.ssh.host}:${server.ssh.port} failed (${(error as Error).message}): diagnosis from the network only`;
    }
  }

  return {
    /** Gathers evidence about the outage (network, and the host over SSH) and names a root cause with a fix. */
    async diagnoseOutage({ context, probes }: DiagnoseOutageInput): Promise<Diagnosis> {
      const log = stepLogger(deps.logger, context);
      const server = requireServer(deps.servers, context.serverId);
      const [dns, imapTcp, host] = await Promise.all([
        resolveHost(server.smtp.host, deps.probeTimeoutMs),
        probeTcp(server.imap.host, server.imap.port, deps.probeTimeoutMs),
        inspectHost(server, log),
      ]);
      const network = reasonFromNetwork({
        smtpEndpoint: `${server.smtp.host}:${server.smtp.port}`,
        imapEndpoint: `${server.imap.host}:${server.imap.port}`,
        dns,
        probes,
        imapTcp,
      });
      const diagnosedAt = new Date().toISOString();
      if (typeof host === 'string') {
        const diagnosis = handOverWhatCannotRun(
          toDiagnosis({ ...network, evidence: [...network.evidence, host] }, diagnosedAt),
          server,
          host,
        );
        log.info({ rootCause: diagnosis.rootCause, handover: diagnosis.handover }, 'diagnosed without the host');
        return diagnosis;
      }
      const fromHost = reasonFromHost(host, server.host.deferredThreshold);
      const finding: Finding = fromHost
        ? { ...fromHost, evidence: [...fromHost.evidence, ...network.evidence.slice(0, 2)] }
        : network;
      log.info({ rootCause: finding.rootCause, actionId: finding.actionId }, 'diagnosed the outage');
      return toDiagnosis(finding, diagnosedAt);
    },
  };
}
