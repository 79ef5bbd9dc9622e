import type { Signature, SignatureCatalog } from './catalog';

// Matching log lines and failing command output against the signature catalog. Lines are untrusted text: they are
// cut to a bounded length before any pattern sees them.

const MAX_LINE_LENGTH = 4000;

/** One line of evidence: a log line in the window (with when it was written) or a line a failing command printed. */
export interface EvidenceLine {
  /** The log file, or the command as run. */
  source: string;
  text: string;
  /** Host time in milliseconds; absent for command output, which is current by construction. */
  at?: number;
}

export interface SignatureMatch {
  signature: Signature;
  line: EvidenceLine;
  groups: Record<string, string>;
}

/** How a line is quoted in the evidence. */
export function quoteLine(line: EvidenceLine): string {
  return `${line.source}: ${line.text}`;
}

/** Every signature each line matches, in line order. */
export function classifyLines(lines: readonly EvidenceLine[], catalog: SignatureCatalog): SignatureMatch[] {
  const matches: SignatureMatch[] = [];
  for (const line of lines) {
    const text = line.text.slice(0, MAX_LINE_LENGTH);
    for (const signature of catalog) {
      const match = signature.pattern.exec(text);
      if (!match) continue;
      const groups = Object.fromEntries(
        Object.entries(match.groups ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined),
      );
      matches.push({ signature, line, groups });
    }
  }
  return matches;
}

const STARTED: Record<'postfix' | 'dovecot', RegExp> = {
  postfix: /postfix\S*\/master\[\d+\]: daemon started/,
  dovecot: /master: Info: Dovecot v\S+ .*starting up/,
};

/**
 * Drops fatal matches a later successful start of the same daemon has outlived: in the window, a daemon that failed,
 * was fixed and started again must not be blamed on its earlier failure.
 */
export function withoutSupersededByRestart(
  matches: readonly SignatureMatch[],
  lines: readonly EvidenceLine[],
): SignatureMatch[] {
  const lastStart = (daemon: 'postfix' | 'dovecot') =>
    Math.max(
      -Infinity,
      ...lines.filter((line) => line.at !== undefined && STARTED[daemon].test(line.text)).map((line) => line.at ?? 0),
    );
  const starts = { postfix: lastStart('postfix'), dovecot: lastStart('dovecot') };
  return matches.filter(({ signature, line }) => {
    if (!signature.fatal || signature.daemon === 'system' || line.at === undefined) return true;
    return line.at >= starts[signature.daemon];
  });
}
