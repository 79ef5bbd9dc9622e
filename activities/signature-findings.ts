import path from 'node:path';
import { NO_CATALOG_ACTION, type CheckResult, type Handover, type ProbeReport } from '../workflows/messages';
import type { Finding } from './diagnosis-rules';
import { driftedConfig, quoteRun } from './diagnosis-host-rules';
import { failingDaemons, type DiagnosisEvidence } from './diagnosis-evidence';
import { followUpKey, type FollowUpResult } from './follow-up-evidence';
import { hostPlaceholders, matchPlaceholders, resolveGather } from './follow-up-plan';
import type { Impact, Signature } from './signatures/catalog';
import { quoteLine, type SignatureMatch } from './signatures/classify';
import { fillArgv, fillText, type Placeholders } from './signatures/placeholders';
import { shellQuote } from './ssh';

// Findings from log signatures: one per signature that matched, worded from its newest match and the follow-ups that
// match asked for.

const QUOTED_MATCHES = 3;
const FAILING_DAEMON_BONUS = 0.05;
const ANSWERING_DAEMON_FACTOR = 0.6;
const NAMES = { postfix: 'Postfix', dovecot: 'Dovecot' } as const;

function followUpsOf(match: SignatureMatch, host: Placeholders, followUps: readonly FollowUpResult[]) {
  const keys = match.signature.gather
    .map((template) => resolveGather(template, matchPlaceholders(match, host)))
    .filter((request) => request !== undefined)
    .map(followUpKey);
  return followUps.filter((result) => keys.includes(followUpKey(result.request)));
}

/** Whether the condition under which a signature's catalog action fits holds on this host. */
function actionFits(signature: Signature, values: Placeholders, evidence: DiagnosisEvidence): boolean {
  if (signature.actionWhen === undefined) return true;
  if (signature.actionWhen === 'path-under-mail-dirs') {
    const target = values.path ? path.posix.normalize(values.path) : undefined;
    const { mailOwner, mailDirs } = evidence.server.host;
    return (
      mailOwner !== undefined &&
      target !== undefined &&
      mailDirs.some((root) => target === root || target.startsWith(`${root.replace(/\/$/, '')}/`))
    );
  }
  if (signature.daemon === 'system') return false;
  const file = values.file;
  return driftedConfig(evidence.host, signature.daemon).some(
    (change) => !file || change.file === file || (!file.startsWith('/') && change.file.endsWith(`/${file}`)),
  );
}

function handoverOf(signature: Signature, values: Placeholders): Handover {
  const suggestedCommands = signature.suggest
    .map((template) => fillArgv(template, values))
    .filter((argv): argv is string[] => argv !== undefined)
    .map(shellQuote);
  return { reason: fillText(signature.handover ?? signature.cause, values), suggestedCommands };
}

const IMPACT_CHECKS: Record<Impact, { name: string; check(probes: ProbeReport): CheckResult | undefined }> = {
  'smtp-delivery': { name: 'smtp-delivery', check: (probes) => probes.smtpDelivery },
  // The token's arrival proves delivery only when it was sent: without smtp-delivery passing, nothing was shown.
  'mailbox-delivery': {
    name: 'imap-login (the token arrived)',
    check: (probes) => (probes.smtpDelivery?.ok ? probes.imapLogin : undefined),
  },
  'imap-login': { name: 'imap-login', check: (probes) => probes.imapLogin },
  'smtp-tls': { name: 'smtp-tls', check: (probes) => probes.smtpTls },
  'imap-tls': { name: 'imap-tls', check: (probes) => probes.imapTls },
  'deferred-queue': { name: 'deferred-queue', check: (probes) => probes.deferredQueue },
};

/** A line whose harm the probes no longer see: what users would lose works now. */
function impactGone(signature: Signature, probes: ProbeReport): string | undefined {
  if (!signature.impact) return undefined;
  const { name, check } = IMPACT_CHECKS[signature.impact];
  const result = check(probes);
  return result?.ok ? `the ${name} check passes now: ${result.detail}` : undefined;
}

/** Is the line's harm still there, and for a fatal line, is its daemon failing now (which the line explains)? */
function weigh(signature: Signature, evidence: DiagnosisEvidence): { confidence: number; against: string[] } {
  const gone = impactGone(signature, evidence.probes);
  if (gone) return { confidence: signature.confidence * ANSWERING_DAEMON_FACTOR, against: [gone] };
  if (signature.daemon === 'system') return { confidence: signature.confidence, against: [] };
  const failing = failingDaemons(evidence).has(signature.daemon);
  // Only a line the daemon stops on explains why it does not answer; a warning (a delivery that failed) does not.
  if (failing && signature.fatal) {
    return { confidence: Math.min(0.99, signature.confidence + FAILING_DAEMON_BONUS), against: [] };
  }
  if (failing) return { confidence: signature.confidence, against: [] };
  const pid = evidence.host[signature.daemon].masterPid;
  const against = signature.fatal
    ? [`${NAMES[signature.daemon]} is running${pid ? ` (master pid ${pid})` : ''} and answers its probes now`]
    : [];
  return { confidence: signature.confidence * (signature.fatal ? ANSWERING_DAEMON_FACTOR : 1), against };
}

function findingOf(matches: readonly SignatureMatch[], evidence: DiagnosisEvidence): Finding | undefined {
  const newest = matches.at(-1);
  if (!newest) return undefined;
  const { signature } = newest;
  const host = hostPlaceholders(evidence.server, evidence.host);
  const followUps = followUpsOf(newest, host, evidence.followUps);
  const values: Placeholders = Object.assign({}, matchPlaceholders(newest, host), ...followUps.map((f) => f.values));
  const fits = signature.action !== undefined && actionFits(signature, values, evidence);
  const { confidence, against } = weigh(signature, evidence);
  return {
    rootCause: fillText(signature.cause, values),
    evidence: [
      ...matches.slice(-QUOTED_MATCHES).map((match) => quoteLine(match.line)),
      ...followUps.flatMap((result) => result.runs.map((run) => quoteRun(result.request.kind, run))),
    ],
    actionId: fits && signature.action ? signature.action : NO_CATALOG_ACTION,
    failureClass: signature.failureClass,
    source: signature.id,
    confidence,
    daemon: signature.daemon,
    ...(against.length > 0 ? { evidenceAgainst: against } : {}),
    ...(fits ? {} : { handover: handoverOf(signature, values) }),
  };
}

/** One finding per signature that matched, worded from its newest match. */
export function signatureFindings(evidence: DiagnosisEvidence): Finding[] {
  const bySignature = new Map<string, SignatureMatch[]>();
  for (const match of evidence.matches) {
    bySignature.set(match.signature.id, [...(bySignature.get(match.signature.id) ?? []), match]);
  }
  return [...bySignature.values()]
    .map((matches) => findingOf(matches, evidence))
    .filter((finding): finding is Finding => finding !== undefined);
}
