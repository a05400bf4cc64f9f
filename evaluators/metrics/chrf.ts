/**
 * chrF and chrF++ exactly as sacrebleu 2.x computes them (`sacrebleu/metrics/chrf.py`): character
 * n-grams up to `charOrder` (whitespace removed unless `whitespace`), word n-grams up to `wordOrder`
 * after chrF's punctuation splitting, the best-F reference per segment, and sacrebleu's
 * effective-order averaging unless `epsSmoothing`.
 */
import { codePoints, pySplit } from '../text/python-str.ts';
import { charNgrams, clippedMatches, totalCount, wordNgrams } from './ngrams.ts';

/** Options, named like sacrebleu's in camelCase. chrF: the defaults; chrF++: `wordOrder: 2`. */
export interface ChrfOptions {
  /** Default 6. */
  charOrder?: number;
  /** Default 0 (chrF); 2 gives chrF++. */
  wordOrder?: number;
  /** Default 2. */
  beta?: number;
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams. */
  whitespace?: boolean;
  /** chrF++.py/NLTK/Moses-style epsilon smoothing instead of sacrebleu's effective order. */
  epsSmoothing?: boolean;
}

/** A chrF result on the 0-100 scale. */
export interface ChrfScore {
  score: number;
}

interface ResolvedChrfOptions {
  charOrder: number;
  wordOrder: number;
  beta: number;
  lowercase: boolean;
  whitespace: boolean;
  epsSmoothing: boolean;
}

/**
 * Fills in defaults.
 *
 * @example
 * resolveChrfOptions({ wordOrder: 2 }).charOrder // 6
 */
export function resolveChrfOptions(opts: ChrfOptions = {}): ResolvedChrfOptions {
  const o = {
    charOrder: opts.charOrder ?? 6,
    wordOrder: opts.wordOrder ?? 0,
    beta: opts.beta ?? 2,
    lowercase: opts.lowercase ?? false,
    whitespace: opts.whitespace ?? false,
    epsSmoothing: opts.epsSmoothing ?? false,
  };
  if (
    !Number.isInteger(o.charOrder) ||
    o.charOrder < 0 ||
    !Number.isInteger(o.wordOrder) ||
    o.wordOrder < 0
  ) {
    throw new Error('chrF: charOrder and wordOrder must be non-negative integers');
  }
  if (o.charOrder + o.wordOrder === 0)
    throw new Error('chrF: charOrder + wordOrder must be positive');
  return o;
}

const PUNCTS = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/**
 * chrF's primitive word splitting: one leading or trailing ASCII punctuation mark becomes its own
 * word (so `(hi)` gives `(hi` and `)`, as in sacrebleu, issue #124).
 *
 * @example
 * chrfWords('Hello, (world)') // ['Hello', ',', '(world', ')']
 */
export function chrfWords(sent: string): string[] {
  const out: string[] = [];
  for (const w of pySplit(sent)) {
    const cps = codePoints(w);
    if (cps.length === 1) {
      out.push(w);
    } else if (PUNCTS.has(cps[cps.length - 1]!)) {
      out.push(cps.slice(0, -1).join(''), cps[cps.length - 1]!);
    } else if (PUNCTS.has(cps[0]!)) {
      out.push(cps[0]!, cps.slice(1).join(''));
    } else {
      out.push(w);
    }
  }
  return out;
}

function extractNgrams(sent: string, o: ResolvedChrfOptions): Map<string, number>[] {
  const text = o.lowercase ? sent.toLowerCase() : sent;
  const chars = codePoints(o.whitespace ? text : pySplit(text).join(''));
  const all: Map<string, number>[] = [];
  for (let n = 1; n <= o.charOrder; n++) all.push(charNgrams(chars, n));
  if (o.wordOrder > 0) {
    const words = chrfWords(text);
    for (let n = 1; n <= o.wordOrder; n++) all.push(wordNgrams(words, n));
  }
  return all;
}

/**
 * The F-score from flattened `[hyp, ref, match]` triplets per order (sacrebleu's `_compute_f_score`).
 *
 * @example
 * chrfFromStats([3, 3, 3], resolveChrfOptions({ charOrder: 1 })) // 100
 */
export function chrfFromStats(stats: readonly number[], o: ResolvedChrfOptions): number {
  const eps = 1e-16;
  const factor = o.beta ** 2;
  const order = o.charOrder + o.wordOrder;
  let score = 0;
  let effectiveOrder = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < order; i++) {
    const nHyp = stats[3 * i]!;
    const nRef = stats[3 * i + 1]!;
    const nMatch = stats[3 * i + 2]!;
    const prec = nHyp > 0 ? nMatch / nHyp : eps;
    const rec = nRef > 0 ? nMatch / nRef : eps;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effectiveOrder += 1;
    }
  }
  if (o.epsSmoothing) return (100 * score) / order;
  if (effectiveOrder === 0) return 0;
  avgPrec /= effectiveOrder;
  avgRec /= effectiveOrder;
  if (avgPrec + avgRec === 0) return 0;
  return 100 * (((1 + factor) * avgPrec * avgRec) / (factor * avgPrec + avgRec));
}

/** A number tagged with whether numpy would hold it as float32 (vs a Python float). */
interface Tagged {
  v: number;
  f32: boolean;
}

// numpy 2 (NEP 50): an operation with any float32 operand casts the Python float to float32 and
// rounds the result to float32; two Python floats stay float64.
function op(a: Tagged, b: Tagged, fn: (x: number, y: number) => number): Tagged {
  if (a.f32 || b.f32) return { v: Math.fround(fn(Math.fround(a.v), Math.fround(b.v))), f32: true };
  return { v: fn(a.v, b.v), f32: false };
}
const add = (x: number, y: number) => x + y;
const mul = (x: number, y: number) => x * y;
const div = (x: number, y: number) => x / y;
const py = (v: number): Tagged => ({ v, f32: false });
const f32 = (v: number): Tagged => ({ v: Math.fround(v), f32: true });

/**
 * {@link chrfFromStats} on statistics held as float32, replaying numpy's float32 arithmetic the
 * way sacrebleu's bootstrap and paired bootstrap evaluate resampled statistics.
 *
 * @example
 * chrfFromStatsFloat32([3, 3, 2], resolveChrfOptions({ charOrder: 1 })) // 66.66666412353516
 */
export function chrfFromStatsFloat32(stats: readonly number[], o: ResolvedChrfOptions): number {
  const eps = py(1e-16);
  const factor = py(o.beta ** 2);
  const onePlusFactor = py(1 + o.beta ** 2);
  const order = o.charOrder + o.wordOrder;
  let score = py(0);
  let effectiveOrder = 0;
  let avgPrec = py(0);
  let avgRec = py(0);
  for (let i = 0; i < order; i++) {
    const nHyp = f32(stats[3 * i]!);
    const nRef = f32(stats[3 * i + 1]!);
    const nMatch = f32(stats[3 * i + 2]!);
    const prec = nHyp.v > 0 ? op(nMatch, nHyp, div) : eps;
    const rec = nRef.v > 0 ? op(nMatch, nRef, div) : eps;
    const denom = op(op(factor, prec, mul), rec, add);
    const term = denom.v > 0 ? op(op(op(onePlusFactor, prec, mul), rec, mul), denom, div) : eps;
    score = op(score, term, add);
    if (nHyp.v > 0 && nRef.v > 0) {
      avgPrec = op(avgPrec, prec, add);
      avgRec = op(avgRec, rec, add);
      effectiveOrder += 1;
    }
  }
  if (o.epsSmoothing) return op(op(py(100), score, mul), py(order), div).v;
  if (effectiveOrder === 0) return 0;
  avgPrec = op(avgPrec, py(effectiveOrder), div);
  avgRec = op(avgRec, py(effectiveOrder), div);
  if (op(avgPrec, avgRec, add).v === 0) return 0;
  const num = op(op(onePlusFactor, avgPrec, mul), avgRec, mul);
  const den = op(op(factor, avgPrec, mul), avgRec, add);
  return op(py(100), op(num, den, div), mul).v;
}

/** The reference side of one segment: the n-grams of each reference. */
export type ChrfReferenceInfo = Map<string, number>[][];

/**
 * Extracts the n-grams of each reference of one segment.
 *
 * @example
 * chrfReferenceInfo(['ab'], resolveChrfOptions({ charOrder: 2 })).length // 1
 */
export function chrfReferenceInfo(
  refs: readonly string[],
  o: ResolvedChrfOptions,
): ChrfReferenceInfo {
  if (refs.length === 0) throw new Error('chrF needs at least one reference per segment');
  return refs.map((ref) => extractNgrams(ref, o));
}

/**
 * The `[hyp, ref, match]` statistics of one segment against its best reference (highest F).
 *
 * @example
 * const o = resolveChrfOptions({ charOrder: 1 });
 * chrfSegmentStats('ab', chrfReferenceInfo(['abc'], o), o) // [2, 3, 2]
 */
export function chrfSegmentStats(
  hyp: string,
  refs: ChrfReferenceInfo,
  o: ResolvedChrfOptions,
): number[] {
  const hypNgrams = extractNgrams(hyp, o);
  let best: number[] = [];
  let bestF = -1;
  for (const refNgrams of refs) {
    const stats: number[] = [];
    for (let i = 0; i < hypNgrams.length; i++) {
      const h = hypNgrams[i]!;
      const r = refNgrams[i]!;
      stats.push(r.size > 0 ? totalCount(h) : 0, totalCount(r), clippedMatches(h, r));
    }
    const f = chrfFromStats(stats, o);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best;
}

/**
 * Per-segment statistics of a corpus. `refs[i]` holds the references of `hyps[i]`.
 *
 * @example
 * chrfCorpusStats(['ab'], [['ab']], resolveChrfOptions()).length // 1
 */
export function chrfCorpusStats(
  hyps: readonly string[],
  refs: readonly (readonly string[])[],
  o: ResolvedChrfOptions,
): number[][] {
  if (hyps.length !== refs.length) {
    throw new Error(`chrF: ${hyps.length} hypotheses but ${refs.length} reference sets`);
  }
  return hyps.map((hyp, i) => chrfSegmentStats(hyp, chrfReferenceInfo(refs[i]!, o), o));
}

function sum(rows: number[][]): number[] {
  const width = rows[0]?.length ?? 0;
  const out = new Array<number>(width).fill(0);
  for (const row of rows) for (let i = 0; i < width; i++) out[i]! += row[i]!;
  return out;
}

/**
 * Corpus chrF (or chrF++ with `wordOrder: 2`), identical to sacrebleu's `CHRF(...).corpus_score`.
 *
 * @example
 * chrfCorpus(['the cat'], [['the cat']]).score // 100
 */
export function chrfCorpus(
  hyps: readonly string[],
  refs: readonly (readonly string[])[],
  opts: ChrfOptions = {},
): ChrfScore {
  const o = resolveChrfOptions(opts);
  if (hyps.length === 0) throw new Error('chrF: empty corpus');
  return { score: chrfFromStats(sum(chrfCorpusStats(hyps, refs, o)), o) };
}

/**
 * Sentence chrF, identical to sacrebleu's `sentence_chrf`.
 *
 * @example
 * chrfSentence('the cat', ['the cat', 'a dog']).score // 100
 */
export function chrfSentence(
  hyp: string,
  refs: readonly string[],
  opts: ChrfOptions = {},
): ChrfScore {
  const o = resolveChrfOptions(opts);
  return { score: chrfFromStats(chrfSegmentStats(hyp, chrfReferenceInfo(refs, o), o), o) };
}
