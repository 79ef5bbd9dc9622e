/** Edits (insert, delete, replace one character) between two strings. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const replace = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, replace));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate a mistyped name most likely meant, for a "did you mean" hint: the nearest within a third of its
 * length (at least two edits), ignoring case; nothing when none is that close or two are equally close.
 *
 * @example closestName('mx-1', ['mx1', 'mx2', 'relay']) // 'mx1'
 */
export function closestName(input: string, candidates: readonly string[]): string | undefined {
  const wanted = input.toLowerCase();
  const ranked = candidates
    .map((candidate) => ({ candidate, distance: editDistance(wanted, candidate.toLowerCase()) }))
    .sort((a, b) => a.distance - b.distance);
  const [best, second] = ranked;
  if (!best || best.distance > Math.max(2, Math.floor(input.length / 3))) return undefined;
  return second && second.distance === best.distance ? undefined : best.candidate;
}
