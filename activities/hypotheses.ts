import { NO_CATALOG_ACTION, type Diagnosis, type Hypothesis } from '../workflows/messages';
import type { Finding } from './diagnosis-rules';
import { findCatalogAction } from './remediation-catalog';
import { quoteLine, type SignatureMatch } from './signatures/classify';

// Ranking the findings into hypotheses. The rules: a finding that any evidence speaks against ranks below every
// finding nothing speaks against; within each group, higher confidence first; the first becomes the diagnosis.

const NAMES = { postfix: 'Postfix', dovecot: 'Dovecot', system: 'The host' } as const;
/** Findings that say only that a daemon is down or silent: a fatal log line of that daemon says more. */
const GENERIC_CLASSES = new Set(['not-running', 'not-answering']);

/**
 * Adds what speaks against a generic finding: a fatal log line of the same daemon in the window (or from its own
 * config check) explains the outage, and starting or restarting the daemon would meet the same error again.
 */
export function withContradictions(findings: readonly Finding[], matches: readonly SignatureMatch[]): Finding[] {
  return findings.map((finding) => {
    if (!GENERIC_CLASSES.has(finding.failureClass) || !finding.daemon) return finding;
    const fatal = matches.filter((match) => match.signature.fatal && match.signature.daemon === finding.daemon);
    const newest = fatal.at(-1);
    if (!newest) return finding;
    const against = `${NAMES[finding.daemon]} logged why it stops, which ${finding.actionId} does not fix: ${quoteLine(newest.line)}`;
    return { ...finding, evidenceAgainst: [...(finding.evidenceAgainst ?? []), against] };
  });
}

/** Best first: nothing against before something against, then by confidence; one finding per class and action. */
export function rankFindings(findings: readonly Finding[]): Finding[] {
  const ranked = findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => {
      const contested =
        Number((a.finding.evidenceAgainst?.length ?? 0) > 0) - Number((b.finding.evidenceAgainst?.length ?? 0) > 0);
      return contested || b.finding.confidence - a.finding.confidence || a.index - b.index;
    })
    .map(({ finding }) => finding);
  const seen = new Set<string>();
  return ranked.filter((finding) => {
    // Handovers all share the action `none`, so only their source tells two different causes apart.
    const action = finding.actionId === NO_CATALOG_ACTION ? `${finding.actionId}:${finding.source}` : finding.actionId;
    const key = `${finding.daemon ?? ''}:${finding.failureClass}:${action}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function toHypothesis(finding: Finding): Hypothesis {
  return {
    cause: finding.rootCause,
    failureClass: finding.failureClass,
    source: finding.source,
    evidenceFor: finding.evidence,
    evidenceAgainst: finding.evidenceAgainst ?? [],
    confidence: Math.round(finding.confidence * 100) / 100,
    actionId: finding.actionId,
    ...(finding.handover ? { handover: finding.handover } : {}),
  };
}

/** The diagnosis from ranked findings: root cause, evidence, recommendation and handover come from the first. */
export function toDiagnosis(ranked: readonly Finding[], diagnosedAt: string): Diagnosis {
  const [top] = ranked;
  if (!top) throw new Error('a diagnosis needs at least one finding');
  const action = top.actionId === NO_CATALOG_ACTION ? undefined : findCatalogAction(top.actionId);
  return {
    rootCause: top.rootCause,
    evidence: top.evidence,
    ...(top.prevention ? { prevention: top.prevention } : {}),
    diagnosedAt,
    recommendation: action
      ? { actionId: action.id, description: action.description, risk: action.risk, rollback: action.rollback }
      : {
          actionId: NO_CATALOG_ACTION,
          description: top.handover
            ? `Hand over to people: ${top.handover.reason}`
            : 'No catalog action fits: hand over to people',
          risk: 'high',
          rollback: 'Nothing was changed',
        },
    ...(top.handover && !action ? { handover: top.handover } : {}),
    hypotheses: ranked.map(toHypothesis),
  };
}
