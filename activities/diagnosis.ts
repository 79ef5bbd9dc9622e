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
import { describeSshFailure } from './ssh-failures';
import {
  describeUnanswered,
  gaveNoAnswer,
  recordUnanswered,
  summarizeNotRun,
  type NotRunCommand,
} from './unanswered-commands';
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
  // A check killed at its timeout printed only part of its answer, and the hang is quoted on its own.
  const fromChecks = [host.postfix.check, host.dovecot.config]
    .filter((run) => run.exitCode !== 0 && !gaveNoAnswer(run))
    .flatMap((run) =>
      run.output
        .split('\n')
        .filter((text) => text.trim() !== '')
        .map((text) => ({ source: `\`${run.argv.join(' ')}\``, text })),
    );
  return [...fromLogs, ...fromChecks];
}

type HostLook = Pick<DiagnosisEvidence, 'host' | 'matches' | 'followUps' | 'certificateFiles' | 'unanswered'> & {
  /** What the visit had no time left to run. */
  notRun: NotRunCommand[];
};

/**
 * A visit where command after command hangs still ends well inside the troubleshooting group's three-minute
 * start-to-close, with what it saw: the budget, the SSH handshake and the disconnect (each bounded by the SSH ready
 * timeout) fit in it.
 */
export const HOST_VISIT_BUDGET_MS = 120_000;

/** The diffs behind the config evidence, whole, so `incidents show` can put them before the approver. */
function configDiffsOf(host: HostEvidence): ConfigDiff[] {
  return host.configChanges.flatMap(({ file, comparedWith, diff }) =>
    comparedWith && diff ? [{ file, comparedWith, diff }] : [],
  );
}

/**
 * Everything one SSH visit sees: the host's state, the signatures its logs match, the follow-ups they call for, and
 * every command that did not answer in time.
 */
async function lookAtHost(
  connection: SshSession,
  server: ServerConfig,
  probes: ProbeReport,
  catalog: SignatureCatalog,
): Promise<HostLook> {
  const { session, unanswered, notRun } = recordUnanswered(connection, HOST_VISIT_BUDGET_MS);
  const now = new Date();
  const alertedAt = new Date(Math.min(Date.parse(probes.checkedAt) || now.getTime(), now.getTime()));
  const host = await collectHostEvidence(session, server.host, now, alertedAt);
  const lines = evidenceLines(host);
  const matches = withoutSupersededByRestart(classifyLines(lines, catalog), lines);
  const certificateFiles = await readCertificateFiles(session, server, probes);
  const requests = planFollowUps(matches, server, host, Object.values(certificateFiles));
  const followUps = await gatherFollowUps(session, requests, Math.ceil(server.host.logWindow / 60_000));
  return { host, matches, followUps, certificateFiles, unanswered, notRun };
}

/**
 * The findings of the host, its logs and the network, ranked. The host's top finding cites the network too, and the
 * top finding, whichever it is, quotes every command that did not answer, and what the visit had no time to run: a
 * hang is never left out of the evidence, and nobody mistakes an unseen part of the host for a healthy one.
 */
function rankWithHost(look: HostLook, evidence: DiagnosisEvidence, network: Finding[]): Finding[] {
  const findings = [...signatureFindings(evidence), ...hostFindings(evidence), ...network];
  const ranked = rankFindings(withContradictions(findings, look.matches));
  const [top, ...rest] = ranked;
  if (!top) return ranked;
  const networkLines = network.includes(top) ? [] : (network[0]?.evidence.slice(0, 2) ?? []);
  const hangs = look.unanswered.map(describeUnanswered).filter((line) => !top.evidence.includes(line));
  const unseen = summarizeNotRun(look.notRun);
  return [{ ...top, evidence: [...top.evidence, ...hangs, ...unseen, ...networkLines] }, ...rest];
}

/**
 * The diagnosis from the network alone, saying why the host was not looked at. When every service answers from the
 * network but SSH failed, the SSH failure is the one fault in sight, so it is the cause, not "no fault".
 */
function diagnoseWithoutHost(network: Finding[], server: ServerConfig, whyNoHost: string, diagnosedAt: string) {
  const ranked = rankFindings(network).map((finding): Finding => {
    if (finding.failureClass !== 'no-fault' || !server.ssh) return finding;
    return {
      ...finding,
      rootCause: `Every service answers from the network, but mailmend cannot look at the host: ${whyNoHost}`,
      failureClass: 'host-uninspectable',
      source: 'network-host-uninspectable',
      confidence: 0.3,
      handover: { reason: whyNoHost, suggestedCommands: [] },
    };
  });
  const withWhy = ranked.map((finding, index) =>
    index === 0 ? { ...finding, evidence: [...finding.evidence, whyNoHost] } : finding,
  );
  return handOverWhatCannotRun(toDiagnosis(withWhy, diagnosedAt), server, whyNoHost);
}

/** One SSH visit per diagnosis; a host mailmend cannot reach leaves the network evidence to decide, and says why. */
async function inspectHost(
  deps: DiagnosisDeps,
  server: ServerConfig,
  probes: ProbeReport,
  log: Logger,
): Promise<HostLook | string> {
  if (!server.ssh) return 'no SSH access configured: diagnosis from the network only';
  try {
    return await deps.mailHost.withSsh(server, (session) => lookAtHost(session, server, probes, deps.signatures));
  } catch (error) {
    if (error instanceof ApplicationFailure && error.type === FailureType.HostKeyMismatch) throw error;
    const why = describeSshFailure(server.ssh, error);
    log.warn({ err: error }, `could not inspect the host: ${why}`);
    return `${why}: diagnosis from the network only`;
  }
}

export function createDiagnosisActivities(deps: DiagnosisDeps) {
  return {
    /** Gathers evidence about the outage (network, and the host over SSH) and ranks the causes it supports. */
    async diagnoseOutage({ context, probes }: DiagnoseOutageInput): Promise<Diagnosis> {
      const log = stepLogger(deps.logger, context);
      const server = requireServer(deps.servers, context.serverId);
      const [dns, imapTcp, look] = await Promise.all([
        resolveHost(server.smtp.host, deps.probeTimeoutMs),
        probeTcp(server.imap.host, server.imap.port, deps.probeTimeoutMs),
        inspectHost(deps, server, probes, log),
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
        const diagnosis = diagnoseWithoutHost(network, server, look, diagnosedAt);
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
