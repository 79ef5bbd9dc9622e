import path from 'node:path';
import type { SshSession } from '../activities/ssh';

/** What happened to the known-good copy on the host. */
export type KnownGoodOutcome = { saved: true; files: string[] } | { saved: false; reason: string; files: string[] };

interface LiveConfig {
  postfixConfigDir: string;
  dovecotConfig?: string;
}

/** The live files and where each goes under the known-good directory, in the layout the catalog restores from. */
export function knownGoodCopies(live: LiveConfig, knownGoodDir: string): Array<{ from: string; to: string }> {
  const at = (...parts: string[]) => path.posix.join(knownGoodDir, ...parts);
  return [
    { from: path.posix.join(live.postfixConfigDir, 'main.cf'), to: at('postfix', 'main.cf') },
    { from: path.posix.join(live.postfixConfigDir, 'master.cf'), to: at('postfix', 'master.cf') },
    ...(live.dovecotConfig ? [{ from: live.dovecotConfig, to: at('dovecot', 'dovecot.conf') }] : []),
  ];
}

/**
 * Copies the live main.cf, master.cf and dovecot.conf, as they are now, into `knownGoodDir` ON THE MAIL HOST, where
 * diagnosis compares against them and the fix catalog restores from them. A copy already there is kept: it may be
 * the good one, and the live files the broken ones.
 */
export async function saveKnownGoodCopy(
  session: SshSession,
  live: LiveConfig,
  knownGoodDir: string,
): Promise<KnownGoodOutcome> {
  if (!path.posix.isAbsolute(knownGoodDir)) {
    return { saved: false, reason: `${knownGoodDir} is not an absolute path on the mail host`, files: [] };
  }
  const copies = knownGoodCopies(live, knownGoodDir);
  const existing = await session.run(['stat', '-c', '%n', '--', ...copies.map((copy) => copy.to)]);
  const present = existing.output.split('\n').filter((line) => copies.some((copy) => copy.to === line.trim()));
  if (present.length > 0) {
    return { saved: false, reason: `a known-good copy is already there (${present.join(', ')}); kept it`, files: [] };
  }
  const directories = [...new Set(copies.map((copy) => path.posix.dirname(copy.to)))];
  const mkdir = await session.run(['mkdir', '-p', '-m', '0700', '--', ...directories]);
  if (mkdir.exitCode !== 0) return { saved: false, reason: `mkdir failed: ${mkdir.output.trim()}`, files: [] };
  const files: string[] = [];
  for (const copy of copies) {
    const cp = await session.run(['cp', '-p', '--', copy.from, copy.to]);
    if (cp.exitCode !== 0) return { saved: false, reason: `cp ${copy.from} failed: ${cp.output.trim()}`, files };
    files.push(copy.to);
  }
  return { saved: true, files };
}
