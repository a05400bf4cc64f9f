/**
 * BLEU exactly as sacrebleu 2.x computes it (`sacrebleu/metrics/bleu.py`): tokenizers, smoothing,
 * effective order, closest reference length with ties to the shorter, and the same sufficient
 * statistics `[sysLen, refLen, correct_1..N, total_1..N]`, so that significance tests can resample
 * segments without re-tokenizing.
 */
import { pyRstrip, pySplit } from '../text/python-str.ts';
import { clippedMatches, wordNgrams } from './ngrams.ts';
import { BLEU_TOKENIZERS, type BleuTokenizerName } from './tokenizers.ts';

/** BLEU smoothing (Chen & Cherry 2014): `exp` is mteval's (method 3), `floor` method 1, `add-k` method 2. */
export type BleuSmoothMethod = 'exp' | 'floor' | 'add-k' | 'none';

/** Options, named like sacrebleu's in camelCase. */
export interface BleuOptions {
  /** Default `13a`. */
  tokenize?: BleuTokenizerName;
  /** Default `exp`. */
  smoothMethod?: BleuSmoothMethod;
  /** For `floor` (default 0.1) and `add-k` (default 1). */
  smoothValue?: number;
  lowercase?: boolean;
  /** Stop at the highest n-gram order the hypothesis has. Default: true for sentences, false for corpora. */
  effectiveOrder?: boolean;
  /** Default 4. */
  maxNgramOrder?: number;
}

/** A BLEU result; `score` and `precisions` are on sacrebleu's 0-100 scale. */
export interface BleuScore {
  score: number;
  /** Matched n-grams per order (after add-k smoothing, as sacrebleu reports them). */
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

interface ResolvedBleuOptions {
  tokenize: (line: string) => string;
  smoothMethod: BleuSmoothMethod;
  smoothValue: number;
  lowercase: boolean;
  effectiveOrder: boolean;
  maxNgramOrder: number;
}

const SMOOTH_DEFAULTS: Record<BleuSmoothMethod, number> = {
  none: 0,
  floor: 0.1,
  'add-k': 1,
  exp: 0,
};

/** sacrebleu's `my_log`: log floored for zero precisions. */
const LOG_ZERO = -9999999999;

/**
 * Fills in defaults and validates options.
 *
 * @example
 * resolveBleuOptions({ tokenize: 'intl' }, false).maxNgramOrder // 4
 */
export function resolveBleuOptions(opts: BleuOptions, sentence: boolean): ResolvedBleuOptions {
  const smoothMethod = opts.smoothMethod ?? 'exp';
  if (!(smoothMethod in SMOOTH_DEFAULTS)) {
    throw new Error(
      `unknown BLEU smoothMethod ${smoothMethod}; use one of exp, floor, add-k, none`,
    );
  }
  const name = opts.tokenize ?? '13a';
  const tokenize = BLEU_TOKENIZERS[name];
  if (!tokenize) {
    throw new Error(
      `unknown BLEU tokenizer ${name}; use one of ${Object.keys(BLEU_TOKENIZERS).join(', ')}`,
    );
  }
  const maxNgramOrder = opts.maxNgramOrder ?? 4;
  if (!Number.isInteger(maxNgramOrder) || maxNgramOrder < 1) {
    throw new Error(`maxNgramOrder must be a positive integer, got ${maxNgramOrder}`);
  }
  return {
    tokenize,
    smoothMethod,
    smoothValue: opts.smoothValue ?? SMOOTH_DEFAULTS[smoothMethod],
    lowercase: opts.lowercase ?? false,
    effectiveOrder: opts.effectiveOrder ?? sentence,
    maxNgramOrder,
  };
}

function preprocess(sent: string, o: ResolvedBleuOptions): string[] {
  const s = o.lowercase ? sent.toLowerCase() : sent;
  return pySplit(o.tokenize(pyRstrip(s)));
}

/** The reference side of one segment, computed once and reused for every system. */
export interface BleuReferenceInfo {
  ngrams: Map<string, number>[];
  lengths: number[];
}

/**
 * Tokenizes the references of one segment and merges their n-gram counts (max per n-gram).
 *
 * @example
 * bleuReferenceInfo(['a b', 'a a'], resolveBleuOptions({}, false)).lengths // [2, 2]
 */
export function bleuReferenceInfo(
  refs: readonly string[],
  o: ResolvedBleuOptions,
): BleuReferenceInfo {
  if (refs.length === 0) throw new Error('BLEU needs at least one reference per segment');
  const ngrams: Map<string, number>[] = [];
  const lengths: number[] = [];
  for (const ref of refs) {
    const tokens = preprocess(ref, o);
    lengths.push(tokens.length);
    for (let n = 1; n <= o.maxNgramOrder; n++) {
      const counts = wordNgrams(tokens, n);
      const merged = ngrams[n - 1];
      if (!merged) {
        ngrams[n - 1] = counts;
        continue;
      }
      for (const [gram, c] of counts) if (c > (merged.get(gram) ?? 0)) merged.set(gram, c);
    }
  }
  return { ngrams, lengths };
}

/**
 * The reference length closest to `hypLen`; on a tie, the shorter one.
 *
 * @example
 * closestRefLength(5, [3, 7]) // 3
 */
export function closestRefLength(hypLen: number, refLens: readonly number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = len;
    } else if (diff === closestDiff && len < closestLen) {
      closestLen = len;
    }
  }
  return closestLen;
}

/**
 * The sufficient statistics of one segment: `[hypLen, refLen, correct_1..N, total_1..N]`.
 *
 * @example
 * const o = resolveBleuOptions({}, false);
 * bleuSegmentStats('a b', bleuReferenceInfo(['a b c'], o), o) // [2, 3, 2, 1, 0, 0, 2, 1, 0, 0]
 */
export function bleuSegmentStats(
  hyp: string,
  ref: BleuReferenceInfo,
  o: ResolvedBleuOptions,
): number[] {
  const tokens = preprocess(hyp, o);
  const max = o.maxNgramOrder;
  const stats = new Array<number>(2 + 2 * max).fill(0);
  stats[0] = tokens.length;
  stats[1] = closestRefLength(tokens.length, ref.lengths);
  for (let n = 1; n <= max; n++) {
    const counts = wordNgrams(tokens, n);
    stats[2 + n - 1] = clippedMatches(counts, ref.ngrams[n - 1]!);
    stats[2 + max + n - 1] = Math.max(0, tokens.length - n + 1);
  }
  return stats;
}

/**
 * BLEU from summed sufficient statistics (sacrebleu's `compute_bleu`). With `float32`, the
 * precisions are computed in float32 as numpy does when sacrebleu resamples statistics stored as
 * float32 arrays (its bootstrap and paired bootstrap), so resampled scores match sacrebleu's.
 *
 * @example
 * bleuFromStats([2, 3, 2, 1, 0, 0, 2, 1, 0, 0], resolveBleuOptions({ effectiveOrder: true }, true)).score
 */
export function bleuFromStats(
  stats: readonly number[],
  o: ResolvedBleuOptions,
  float32 = false,
): BleuScore {
  const max = o.maxNgramOrder;
  const f = float32 ? Math.fround : (x: number) => x;
  const sysLen = Math.trunc(stats[0]!);
  const refLen = Math.trunc(stats[1]!);
  const counts = stats.slice(2, 2 + max);
  const totals = stats.slice(2 + max, 2 + 2 * max);
  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;
  const precisions = new Array<number>(max).fill(0);
  if (!counts.some((c) => c !== 0))
    return { score: 0, counts, totals, precisions, bp, sysLen, refLen };

  let smoothMteval = 1;
  let effOrder = max;
  for (let n = 1; n <= max; n++) {
    if (o.smoothMethod === 'add-k' && n > 1) {
      counts[n - 1] = f(counts[n - 1]! + f(o.smoothValue));
      totals[n - 1] = f(totals[n - 1]! + f(o.smoothValue));
    }
    const total = totals[n - 1]!;
    if (total === 0) break;
    if (o.effectiveOrder) effOrder = n;
    const correct = counts[n - 1]!;
    if (correct === 0) {
      if (o.smoothMethod === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = f(100 / f(smoothMteval * total));
      } else if (o.smoothMethod === 'floor') {
        precisions[n - 1] = f(f(100 * o.smoothValue) / total);
      }
    } else {
      precisions[n - 1] = f(f(100 * correct) / total);
    }
  }
  let logSum = 0;
  for (let i = 0; i < effOrder; i++) {
    const p = precisions[i]!;
    logSum += p === 0 ? LOG_ZERO : Math.log(p);
  }
  return {
    score: bp * Math.exp(logSum / effOrder),
    counts,
    totals,
    precisions,
    bp,
    sysLen,
    refLen,
  };
}

/**
 * Element-wise sum of segment statistics.
 *
 * @example
 * sumStats([[1, 2], [3, 4]]) // [4, 6]
 */
export function sumStats(stats: readonly (readonly number[])[]): number[] {
  const width = stats[0]?.length ?? 0;
  const total = new Array<number>(width).fill(0);
  for (const row of stats) for (let i = 0; i < width; i++) total[i]! += row[i]!;
  return total;
}

/**
 * Per-segment statistics of a corpus. `refs[i]` holds the references of `hyps[i]`.
 *
 * @example
 * bleuCorpusStats(['a b'], [['a b']], resolveBleuOptions({}, false)).length // 1
 */
export function bleuCorpusStats(
  hyps: readonly string[],
  refs: readonly (readonly string[])[],
  o: ResolvedBleuOptions,
): number[][] {
  if (hyps.length !== refs.length) {
    throw new Error(`BLEU: ${hyps.length} hypotheses but ${refs.length} reference sets`);
  }
  return hyps.map((hyp, i) => bleuSegmentStats(hyp, bleuReferenceInfo(refs[i]!, o), o));
}

/**
 * Corpus BLEU, identical to sacrebleu's `BLEU(...).corpus_score(hyps, transposed refs)`.
 *
 * @example
 * bleuCorpus(['the cat sat on the mat'], [['the cat sat on the mat']]).score // 100
 */
export function bleuCorpus(
  hyps: readonly string[],
  refs: readonly (readonly string[])[],
  opts: BleuOptions = {},
): BleuScore {
  const o = resolveBleuOptions(opts, false);
  if (hyps.length === 0) throw new Error('BLEU: empty corpus');
  return bleuFromStats(sumStats(bleuCorpusStats(hyps, refs, o)), o);
}

/**
 * Sentence BLEU, identical to sacrebleu's `sentence_bleu` (effective order on by default).
 *
 * @example
 * bleuSentence('the cat', ['the cat sat']).bp // ~0.6065
 */
export function bleuSentence(
  hyp: string,
  refs: readonly string[],
  opts: BleuOptions = {},
): BleuScore {
  const o = resolveBleuOptions(opts, true);
  return bleuFromStats(bleuSegmentStats(hyp, bleuReferenceInfo(refs, o), o), o);
}
