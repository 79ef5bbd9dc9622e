import { lookup } from 'node:dns/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import { FailureType } from '../workflows/failure-types';
import type { CheckResult, Diagnosis, IncidentStepContext, ProbeReport } from '../workflows/messages';
import { reasonFromNetwork, toDiagnosis } from './diagnosis-rules';
import { stepLogger } from './logging';
import { probeTcp } from './probes';

export interface DiagnosisDeps {
  servers: ReadonlyMap<string, ServerConfig>;
  probeTimeoutMs: number;
  logger: Logger;
}

export interface DiagnoseOutageInput {
  context: IncidentStepContext;
  probes: ProbeReport;
}

async function resolveHost(host: string, timeoutMs: number): Promise<CheckResult> {
  const started = Date.now();
  try {
    const answer = await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), timeoutMs).unref(),
      ),
    ]);
    return { ok: true, latencyMs: Date.now() - started, detail: `${host} -> ${answer.address}` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EDNS';
    return { ok: false, latencyMs: Date.now() - started, detail: `${host}: ${code}`, errorCode: code };
  }
}

export function createDiagnosisActivities(deps: DiagnosisDeps) {
  return {
    /** Gathers evidence about the outage and names a root cause with a catalog action to fix it. */
    async diagnoseOutage({ context, probes }: DiagnoseOutageInput): Promise<Diagnosis> {
      const logger = stepLogger(deps.logger, context);
      const server = deps.servers.get(context.serverId);
      if (!server) {
        throw ApplicationFailure.create({
          type: FailureType.UnknownServer,
          nonRetryable: true,
          message: `server "${context.serverId}" is not in the config`,
        });
      }
      const [dns, imapTcp] = await Promise.all([
        resolveHost(server.smtp.host, deps.probeTimeoutMs),
        probeTcp(server.imap.host, server.imap.port, deps.probeTimeoutMs),
      ]);
      const finding = reasonFromNetwork({
        smtpEndpoint: `${server.smtp.host}:${server.smtp.port}`,
        imapEndpoint: `${server.imap.host}:${server.imap.port}`,
        dns,
        probes,
        imapTcp,
      });
      logger.info({ rootCause: finding.rootCause, actionId: finding.actionId }, 'diagnosed the outage');
      return toDiagnosis(finding, new Date().toISOString());
    },
  };
}
