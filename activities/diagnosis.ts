import { lookup } from 'node:dns/promises';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/schema';
import { FailureType } from '../workflows/failure-types';
import {
  NO_CATALOG_ACTION,
  type CheckResult,
  type ConfigDiff,
  type Diagnosis,
  type Handover,
  type Hypothesis,
  type ProbeReport,
} from '../workflows/messages';
import type { DiagnosisEvidence } from './diagnosis-evidence';
import { hostFindings } from './diagnosis-host-rules';
import { networkFindings, type Finding } from './diagnosis-rules';
import { gatherFollowUps } from './follow-up-evidence';
import { planFollowUps, readCertificateFiles } from './follow-up-plan';
import { collectHostEvidence } from './host-evidence';
import type { HostEvidence } from './host-evidence-types';
import { rankFindings, toDiagnosis, withContradictions } from './hypotheses';
import { signatureFindings } from './signature-findings';
import type { SignatureCatalog } from './signatures/catalog';
import { classifyLines, withoutSupersededByRestart, type EvidenceLine } from './signatures/classify';
import { stepLogger } from './logging';
import { requireServer } from './servers';
import type { MailHostDeps } from './mail-host';
import { probeTcp } from './probes';
import { findCatalogAction } from './remediation-catalog';
import { backupStamp } from './ssh-remediation';
import { shellQuote, type SshSession } from './ssh';
import type { DiagnoseOutageInput } from '../workflows/activity-contract';

export interface DiagnosisDeps extends MailHostDeps {
  probeTimeoutMs: number;
  /** The shipped log signatures and the operator's own, loaded and checked when the worker starts. */
  signatures: SignatureCatalog;
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

function handOverAction(actionId: string, server: ServerConfig, whyNoHost: string): Handover | undefined {
  const action = findCatalogAction(actionId);
  if (!action) return undefined;
  let suggestedCommands: string[];
  try {
    suggestedCommands = action.commands(server, backupStamp(new Date())).map(shellQuote);
  } catch {
    suggestedCommands = [];
  }
  return { reason: `mailmend cannot run ${action.id}: ${whyNoHost}`, suggestedCommands };
}

/**
 * Without SSH nothing in the catalog can run, so nobody is asked to approve it: the diagnosis hands over to people,
 * with the commands the action would have run, for them to run by hand. So does every other hypothesis.
 */
function handOverWhatCannotRun(diagnosis: Diagnosis, server: ServerConfig, whyNoHost: string): Diagnosis {
  const hypotheses = diagnosis.hypotheses?.map((hypothesis): Hypothesis => {
    const handover = handOverAction(hypothesis.actionId, server, whyNoHost);
    return handover ? { ...hypothesis, actionId: NO_CATALOG_ACTION, handover } : hypothesis;
  });
  const action = findCatalogAction(diagnosis.recommendation.actionId);
  const handover = handOverAction(diagnosis.recommendation.actionId, server, whyNoHost);
  if (!action || !handover) return { ...diagnosis, ...(hypotheses ? { hypotheses } : {}) };
  return {
    ...diagnosis,
    recommendation: {
      actionId: NO_CATALOG_ACTION,
      description: `Hand over to people: mailmend cannot run ${action.id} (${action.description}) without the host`,
      risk: action.risk,
      rollback: action.rollback,
    },
    handover,
    ...(hypotheses ? { hypotheses } : {}),
  };
}

/** The lines signatures are matched against: the logs' lines in the window, and what failing config checks printed. */
function evidenceLines(host: HostEvidence): EvidenceLine[] {
  const fromLogs = host.logs.flatMap(({ file, lines }) => lines.map((line) => ({ source: file, ...line })));
  const fromChecks = [host.postfix.check, host.dovecot.config]
    .filter((run) => run.exitCode !== 0)
    .flatMap((run) =>
      run.output
        .split('\n')
        .filter((text) => text.trim() !== '')
        .map((text) => ({ source: `\`${run.argv.join(' ')}\``, text })),
    );
  return [...fromLogs, ...fromChecks];
}

type HostLook = Pick<DiagnosisEvidence, 'host' | 'matches' | 'followUps' | 'certificateFiles'>;

/** The diffs behind the config evidence, whole, so `incidents show` can put them before the approver. */
function configDiffsOf(host: HostEvidence): ConfigDiff[] {
  return host.configChanges.flatMap(({ file, comparedWith, diff }) =>
    comparedWith && diff ? [{ file, comparedWith, diff }] : [],
  );
}

/** Everything one SSH visit sees: the host's state, the signatures its logs match, and the follow-ups they call for. */
async function lookAtHost(
  session: SshSession,
  server: ServerConfig,
  probes: ProbeReport,
  catalog: SignatureCatalog,
): Promise<HostLook> {
  const now = new Date();
  const alertedAt = new Date(Math.min(Date.parse(probes.checkedAt) || now.getTime(), now.getTime()));
  const host = await collectHostEvidence(session, server.host, now, alertedAt);
  const lines = evidenceLines(host);
  const matches = withoutSupersededByRestart(classifyLines(lines, catalog), lines);
  const certificateFiles = await readCertificateFiles(session, server, probes);
  const requests = planFollowUps(matches, server, host, Object.values(certificateFiles));
  const followUps = await gatherFollowUps(session, requests, Math.ceil(server.host.logWindow / 60_000));
  return { host, matches, followUps, certificateFiles };
}

/** The findings of the host, its logs and the network, ranked; the host's top finding cites the network too. */
function rankWithHost(look: HostLook, evidence: DiagnosisEvidence, network: Finding[]): Finding[] {
  const findings = [...signatureFindings(evidence), ...hostFindings(evidence), ...network];
  const ranked = rankFindings(withContradictions(findings, look.matches));
  const [top, ...rest] = ranked;
  if (!top || network.includes(top)) return ranked;
  const networkLines = network[0]?.evidence.slice(0, 2) ?? [];
  return [{ ...top, evidence: [...top.evidence, ...networkLines] }, ...rest];
}

export function createDiagnosisActivities(deps: DiagnosisDeps) {
  /** One SSH visit per diagnosis; a host mailmend cannot reach leaves the network evidence to decide. */
  async function inspectHost(server: ServerConfig, probes: ProbeReport, log: Logger): Promise<HostLook | string> {
    if (!server.ssh) return 'no SSH access configured: diagnosis from the network only';
    try {
      return await deps.mailHost.withSsh(server, (session) => lookAtHost(session, server, probes, deps.signatures));
    } catch (error) {
      if (error instanceof ApplicationFailure && error.type === FailureType.HostKeyMismatch) throw error;
      log.warn({ err: error }, 'could not inspect the host over SSH');
      return `SSH to ${server.ssh.host}:${server.ssh.port} failed (${(error as Error).message}): diagnosis from the network only`;
    }
  }

  return {
    /** Gathers evidence about the outage (network, and the host over SSH) and ranks the causes it supports. */
    async diagnoseOutage({ context, probes }: DiagnoseOutageInput): Promise<Diagnosis> {
      const log = stepLogger(deps.logger, context);
      const server = requireServer(deps.servers, context.serverId);
      const [dns, imapTcp, look] = await Promise.all([
        resolveHost(server.smtp.host, deps.probeTimeoutMs),
        probeTcp(server.imap.host, server.imap.port, deps.probeTimeoutMs),
        inspectHost(server, probes, log),
      ]);
      const network = networkFindings({
        smtpEndpoint: `${server.smtp.host}:${server.smtp.port}`,
        imapEndpoint: `${server.imap.host}:${server.imap.port}`,
        dns,
        probes,
        imapTcp,
      });
      const diagnosedAt = new Date().toISOString();
      if (typeof look === 'string') {
        const ranked = rankFindings(network);
        const withWhy = ranked.map((finding, index) =>
          index === 0 ? { ...finding, evidence: [...finding.evidence, look] } : finding,
        );
        const diagnosis = handOverWhatCannotRun(toDiagnosis(withWhy, diagnosedAt), server, look);
        log.info({ rootCause: diagnosis.rootCause, handover: diagnosis.handover }, 'diagnosed without the host');
        return diagnosis;
      }
      const evidence: DiagnosisEvidence = { server, probes, imapTcp, ...look };
      const configDiffs = configDiffsOf(look.host);
      const diagnosis = {
        ...toDiagnosis(rankWithHost(look, evidence, network), diagnosedAt),
        ...(configDiffs.length > 0 ? { configDiffs } : {}),
      };
      log.info(
        {
          rootCause: diagnosis.rootCause,
          actionId: diagnosis.recommendation.actionId,
          signatures: [...new Set(look.matches.map((match) => match.signature.id))],
          followUps: look.followUps.length,
          hypotheses: diagnosis.hypotheses?.length,
        },
        'diagnosed the outage',
      );
      return diagnosis;
    },
  };
}
