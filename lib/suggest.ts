/**
 * "Did you mean ...?" for option names: the allowed name nearest to a rejected
 * one. Neutral (no `node:` import, no library state) so that every entry point
 * that rejects unknown names can use it.
 */

/** Suggested only within this many edits: further away, a hint is more noise than help. */
const MAX_EDITS = 2;

/**
 * The name in `allowed` that `name` most likely misspells: one that differs
 * only in case, else the nearest by Damerau-Levenshtein distance (insertions,
 * deletions, substitutions and adjacent transpositions, case ignored) if that is
 * at most 2 edits and fewer edits than the candidate has characters (so that `x`
 * does not suggest `id`), else one that begins with the other (five letters or
 * more). Ties go to the earlier name in `allowed`; `undefined` when nothing is near.
 */
export function suggest(name: string, allowed: readonly string[]): string | undefined {
  const wanted = name.toLowerCase();
  let best: string | undefined;
  let bestEdits = MAX_EDITS + 1;
  for (const candidate of allowed) {
    const edits = distance(wanted, candidate.toLowerCase());
    if (edits === 0) return candidate;
    if (edits < bestEdits && edits < candidate.length) {
      best = candidate;
      bestEdits = edits;
    }
  }
  if (best !== undefined) return best;
  // A longer or shorter form of a name (`compression` for `compress`), five letters or more in common.
  for (const candidate of allowed) {
    const c = candidate.toLowerCase();
    if (Math.min(c.length, wanted.length) >= 5 && (wanted.startsWith(c) || c.startsWith(wanted))) return candidate;
  }
  return undefined;
}

/**
 * The unrestricted Damerau-Levenshtein distance (Lowrance-Wagner): unlike the
 * "optimal string alignment" shortcut, an edit may follow a transposition
 * (`ca` -> `abc` is 2 edits, not 3). Quadratic, for short names only.
 */
function distance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  // d[(i + 1) * w + (j + 1)] is the distance between a[0, i) and b[0, j); row
  // and column 0 hold a bound larger than any distance, for the transposition step.
  const w = n + 2;
  const far = m + n;
  const d = new Array<number>((m + 2) * w).fill(0);
  d[0] = far;
  for (let i = 0; i <= m; i++) {
    d[(i + 1) * w] = far;
    d[(i + 1) * w + 1] = i;
  }
  for (let j = 0; j <= n; j++) {
    d[j + 1] = far;
    d[w + j + 1] = j;
  }
  // The last row of `a` (1-based) where each character was seen; 0: not yet.
  const lastRow = new Map<string, number>();
  for (let i = 1; i <= m; i++) {
    let lastCol = 0; // the last column of this row where a[i - 1] matched
    for (let j = 1; j <= n; j++) {
      const k = lastRow.get(b[j - 1]!) ?? 0;
      const l = lastCol;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      if (cost === 0) lastCol = j;
      d[(i + 1) * w + j + 1] = Math.min(
        d[i * w + j]! + cost, // substitution (or match)
        d[(i + 1) * w + j]! + 1, // insertion
        d[i * w + j + 1]! + 1, // deletion
        // transposition of a[k - 1] and a[i - 1], with what lies between them deleted or inserted
        d[k * w + l]! + (i - k - 1) + 1 + (j - l - 1),
      );
    }
    lastRow.set(a[i - 1]!, i);
  }
  return d[(m + 1) * w + n + 1]!;
}
