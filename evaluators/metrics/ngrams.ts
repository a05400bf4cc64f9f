/** n-gram counting shared by BLEU, chrF and ROUGE. Keys join tokens with a space, which no token holds. */

/**
 * Counts of the n-grams of one order.
 *
 * @example
 * wordNgrams(['a', 'b', 'a', 'b'], 2) // Map { 'a b' => 2, 'b a' => 1 }
 */
export function wordNgrams(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = n === 1 ? tokens[i]! : tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * Counts of the character n-grams of one order, over code points.
 *
 * @example
 * charNgrams(['a', 'b', 'a'], 2) // Map { 'ab' => 1, 'ba' => 1 }
 */
export function charNgrams(chars: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const key = n === 1 ? chars[i]! : chars.slice(i, i + n).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/**
 * The clipped overlap: for each n-gram of `hyp`, the smaller of its two counts.
 *
 * @example
 * clippedMatches(new Map([['a', 2]]), new Map([['a', 1]])) // 1
 */
export function clippedMatches(hyp: Map<string, number>, ref: Map<string, number>): number {
  let matches = 0;
  for (const [gram, count] of hyp) {
    const other = ref.get(gram);
    if (other !== undefined) matches += Math.min(count, other);
  }
  return matches;
}

/**
 * The sum of all counts.
 *
 * @example
 * totalCount(new Map([['a', 2], ['b', 1]])) // 3
 */
export function totalCount(counts: Map<string, number>): number {
  let total = 0;
  for (const c of counts.values()) total += c;
  return total;
}
