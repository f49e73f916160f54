// Levenshtein distance, for the near-duplicate tests of the discard and repetition rules (Tabby `calcDistance`,
// Continue `lineIsRepeated`). Two rows of O(min(a, b)) memory; lines are short, so O(a·b) time is fine.

export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  if (short.length === 0) return long.length;
  let previous = Array.from({ length: short.length + 1 }, (_, i) => i);
  let current = new Array<number>(short.length + 1).fill(0);
  for (let i = 1; i <= long.length; i++) {
    current[0] = i;
    for (let j = 1; j <= short.length; j++) {
      const substitute = previous[j - 1]! + (long[i - 1] === short[j - 1] ? 0 : 1);
      current[j] = Math.min(substitute, previous[j]! + 1, current[j - 1]! + 1);
    }
    [previous, current] = [current, previous];
  }
  return previous[short.length]!;
}

/**
 * True when `a` and `b` (trimmed) are equal or differ by less than `ratio` of the longer one's length. Strictly
 * less, as Continue: `print("a")` and `print("b")` (1 edit in 10) are different lines.
 */
export function isNearDuplicate(a: string, b: string, ratio = 0.1): boolean {
  const x = a.trim();
  const y = b.trim();
  return x === y || editDistance(x, y) < ratio * Math.max(x.length, y.length);
}
