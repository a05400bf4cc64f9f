/**
 * ROUGE-N, ROUGE-L and ROUGE-Lsum as Google's rouge-score package computes them
 * (`rouge_scorer.py`, `tokenize.py`, `scoring.py`): lowercase, every run of characters outside
 * [a-z0-9] becomes a space, optional Porter stemming (NLTK, tokens longer than 3 characters),
 * and Lsum's union-LCS over newline-separated sentences without double counting.
 */
import { clippedMatches, totalCount, wordNgrams } from './ngrams.ts';
import { porterStem } from './porter-stemmer.ts';

/** `rouge1`..`rouge9`, `rougeL` and `rougeLsum`. */
export type RougeType = `rouge${1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9}` | 'rougeL' | 'rougeLsum';

/** Precision, recall and F1 on the 0-1 scale. */
export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

/** Options of {@link rougeScore}. */
export interface RougeOptions<T extends RougeType = RougeType> {
  /** Default `['rouge1', 'rouge2', 'rougeL']`. */
  types?: readonly T[];
  /** Porter stemming; default false (rouge-score's `use_stemmer`). */
  stemmer?: boolean;
}

const VALID_TOKEN = /^[a-z0-9]+$/;

/**
 * rouge-score's default tokenizer.
 *
 * @example
 * rougeTokenize('The quick, brown foxes!', true) // ['the', 'quick', 'brown', 'fox']
 */
export function rougeTokenize(text: string, stemmer = false): string[] {
  const tokens = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ');
  const out: string[] = [];
  for (const t of tokens) {
    const token = stemmer && t.length > 3 ? porterStem(t) : t;
    if (VALID_TOKEN.test(token)) out.push(token);
  }
  return out;
}

function fmeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

const ZERO: RougeScore = { precision: 0, recall: 0, fmeasure: 0 };

function scoreNgrams(
  target: readonly string[],
  prediction: readonly string[],
  n: number,
): RougeScore {
  const t = wordNgrams(target, n);
  const p = wordNgrams(prediction, n);
  const overlap = clippedMatches(t, p);
  const precision = overlap / Math.max(totalCount(p), 1);
  const recall = overlap / Math.max(totalCount(t), 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

function lcsTable(ref: readonly string[], can: readonly string[]): Int32Array[] {
  const table = Array.from({ length: ref.length + 1 }, () => new Int32Array(can.length + 1));
  for (let i = 1; i <= ref.length; i++) {
    const row = table[i]!;
    const prev = table[i - 1]!;
    for (let j = 1; j <= can.length; j++) {
      row[j] = ref[i - 1] === can[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!);
    }
  }
  return table;
}

/**
 * The length of the longest common subsequence, in O(len(can)) memory.
 *
 * @example
 * lcsLength(['a', 'b', 'c'], ['a', 'c']) // 2
 */
export function lcsLength(ref: readonly string[], can: readonly string[]): number {
  let prev = new Int32Array(can.length + 1);
  let row = new Int32Array(can.length + 1);
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) {
      row[j] = ref[i - 1] === can[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, row[j - 1]!);
    }
    [prev, row] = [row, prev];
  }
  return prev[can.length]!;
}

/**
 * Indices into `ref` of one LCS, read back the way rouge-score's `_backtrack_norec` does.
 *
 * @example
 * lcsIndices(['1', '2', '3', '4', '5'], ['2', '5', '3', '4']) // [1, 2, 3]
 */
export function lcsIndices(ref: readonly string[], can: readonly string[]): number[] {
  const t = lcsTable(ref, can);
  let i = ref.length;
  let j = can.length;
  const out: number[] = [];
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if (t[i]![j - 1]! > t[i - 1]![j]!) {
      j--;
    } else {
      i--;
    }
  }
  return out.reverse();
}

function scoreLcs(target: readonly string[], prediction: readonly string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return ZERO;
  const lcs = lcsLength(target, prediction);
  const precision = lcs / prediction.length;
  const recall = lcs / target.length;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/**
 * Summary-level LCS (ROUGE paper, section 3.2) with rouge-score's guard against double counting.
 *
 * @example
 * summaryLevelLcs([['1', '2', '3', '4', '5']], [['1', '2', '6', '7', '8'], ['1', '3', '8', '9', '5']]).recall // 0.8
 */
export function summaryLevelLcs(
  refSents: readonly string[][],
  canSents: readonly string[][],
): RougeScore {
  if (refSents.length === 0 || canSents.length === 0) return ZERO;
  const m = refSents.reduce((s, x) => s + x.length, 0);
  const n = canSents.reduce((s, x) => s + x.length, 0);
  if (m === 0 || n === 0) return ZERO;
  const countsR = new Map<string, number>();
  const countsC = new Map<string, number>();
  for (const s of refSents) for (const t of s) countsR.set(t, (countsR.get(t) ?? 0) + 1);
  for (const s of canSents) for (const t of s) countsC.set(t, (countsC.get(t) ?? 0) + 1);
  let hits = 0;
  for (const r of refSents) {
    const union = new Set<number>();
    for (const c of canSents) for (const i of lcsIndices(r, c)) union.add(i);
    for (const i of [...union].sort((a, b) => a - b)) {
      const t = r[i]!;
      if ((countsC.get(t) ?? 0) > 0 && (countsR.get(t) ?? 0) > 0) {
        hits++;
        countsC.set(t, countsC.get(t)! - 1);
        countsR.set(t, countsR.get(t)! - 1);
      }
    }
  }
  const recall = hits / m;
  const precision = hits / n;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

const NGRAM_TYPE = /^rouge([1-9])$/;

/**
 * ROUGE scores of `prediction` against `target`, one entry per requested type.
 *
 * @example
 * rougeScore('testing one two', 'testing', { types: ['rouge1'] }).rouge1
 * // { precision: 1, recall: 1/3, fmeasure: 0.5 }
 */
export function rougeScore<T extends RougeType = 'rouge1' | 'rouge2' | 'rougeL'>(
  target: string,
  prediction: string,
  opts: RougeOptions<T> = {},
): Record<T, RougeScore> {
  const types = opts.types ?? (['rouge1', 'rouge2', 'rougeL'] as unknown as readonly T[]);
  const stem = opts.stemmer ?? false;
  const onlyLsum = types.length === 1 && types[0] === 'rougeLsum';
  const t = onlyLsum ? [] : rougeTokenize(target, stem);
  const p = onlyLsum ? [] : rougeTokenize(prediction, stem);
  const result = {} as Record<T, RougeScore>;
  for (const type of types) {
    if (type === 'rougeL') {
      result[type] = scoreLcs(t, p);
    } else if (type === 'rougeLsum') {
      const sents = (text: string) =>
        text
          .split('\n')
          .filter((s) => s.length > 0)
          .map((s) => rougeTokenize(s, stem));
      result[type] = summaryLevelLcs(sents(target), sents(prediction));
    } else {
      const m = NGRAM_TYPE.exec(type);
      if (!m)
        throw new Error(`invalid rouge type ${type}; use rouge1..rouge9, rougeL or rougeLsum`);
      result[type] = scoreNgrams(t, p, Number(m[1]));
    }
  }
  return result;
}

/**
 * Scores against several targets and keeps, per type, the target with the highest F1 (the first on
 * ties), like rouge-score's `score_multi`.
 *
 * @example
 * rougeScoreMulti(['a cat', 'the cat sat'], 'the cat sat', { types: ['rouge1'] }).rouge1.fmeasure // 1
 */
export function rougeScoreMulti<T extends RougeType = 'rouge1' | 'rouge2' | 'rougeL'>(
  targets: readonly string[],
  prediction: string,
  opts: RougeOptions<T> = {},
): Record<T, RougeScore> {
  if (targets.length === 0) throw new Error('rouge.scoreMulti needs at least one target');
  const all = targets.map((t) => rougeScore(t, prediction, opts));
  const result = {} as Record<T, RougeScore>;
  for (const type of Object.keys(all[0]!) as T[]) {
    let best = all[0]![type];
    for (const s of all) if (s[type].fmeasure > best.fmeasure) best = s[type];
    result[type] = best;
  }
  return result;
}
