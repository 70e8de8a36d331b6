/**
 * "Did you mean": the allowed name nearest to a misspelt one. Neutral: no `node:` import.
 */

/**
 * The entry of `allowed` closest to `name`: the same ignoring case, else within
 * two edits (insert, delete, substitute, or swap two neighbours), else one that
 * begins with the other (five letters or more), else undefined.
 */
export function suggest(name: string, allowed: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // Two edits on a name of three letters or fewer can turn anything into anything.
  if (best !== undefined && (bestDistance <= 1 || Math.min(name.length, best.length) > 3)) return best;
  // A longer or shorter form of a name (`compression` for `compress`, `heartbeatMs`), five letters or more in common.
  for (const candidate of allowed) {
    const c = candidate.toLowerCase();
    if (Math.min(c.length, lower.length) >= 5 && (lower.startsWith(c) || c.startsWith(lower))) return candidate;
  }
  return undefined;
}

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits of one substring). */
function distance(a: string, b: string): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1);
      row.push(d);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[b.length];
}
