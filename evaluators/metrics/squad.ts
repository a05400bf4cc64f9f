/**
 * SQuAD v1.1 exact match and token F1 (the official `evaluate-v1.1.py`): lowercase, drop ASCII
 * punctuation, drop the articles a/an/the, collapse whitespace; the best over all ground truths.
 */
import { pySplit } from '../text/python-str.ts';

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
// Python's `\b` in a str pattern is Unicode-aware (letters and digits of any script, plus "_"),
// JavaScript's is ASCII-only even with the `u` flag, so the boundary is spelled out.
const ARTICLES = /(?<![\p{L}\p{N}_])(a|an|the)(?![\p{L}\p{N}_])/gu;

/**
 * The official SQuAD answer normalisation.
 *
 * @example
 * normalizeAnswer('The  Eiffel Tower!') // 'eiffel tower'
 */
export function normalizeAnswer(s: string): string {
  let text = s.toLowerCase();
  text = Array.from(text)
    .filter((ch) => !PUNCTUATION.has(ch))
    .join('');
  text = text.replace(ARTICLES, ' ');
  return pySplit(text).join(' ');
}

function best(
  prediction: string,
  groundTruths: readonly string[],
  fn: (p: string, g: string) => number,
) {
  if (groundTruths.length === 0) throw new Error('SQuAD metrics need at least one ground truth');
  return Math.max(...groundTruths.map((g) => fn(prediction, g)));
}

function f1Single(prediction: string, truth: string): number {
  const p = pySplit(normalizeAnswer(prediction));
  const g = pySplit(normalizeAnswer(truth));
  const counts = new Map<string, number>();
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1);
  let same = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      same++;
      counts.set(t, c - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / p.length;
  const recall = same / g.length;
  return (2 * precision * recall) / (precision + recall);
}

/**
 * 1 when the normalised prediction equals some normalised ground truth, else 0.
 *
 * @example
 * squadExactMatch('the Eiffel tower', ['Eiffel Tower']) // 1
 */
export function squadExactMatch(prediction: string, groundTruths: readonly string[]): number {
  return best(prediction, groundTruths, (p, g) =>
    normalizeAnswer(p) === normalizeAnswer(g) ? 1 : 0,
  );
}

/**
 * The best token-level F1 over the ground truths (0-1).
 *
 * @example
 * squadF1('Eiffel', ['the Eiffel Tower']) // 0.6666666666666666
 */
export function squadF1(prediction: string, groundTruths: readonly string[]): number {
  return best(prediction, groundTruths, f1Single);
}
