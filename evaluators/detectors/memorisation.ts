/**
 * Memorisation (Carlini et al. 2021/2023, "extractable" memorisation): prompt the model with the
 * start of a training example and check whether its greedy continuation reproduces the rest
 * verbatim. Lengths are in characters (Unicode code points), not tokens, so probes do not depend
 * on the model's tokenizer and two checkpoints with different tokenizers stay comparable.
 */
import { fmt, type Finding } from './finding.ts';

/** Options of {@link memorisationProbes}. */
export interface ProbeOptions {
  /** Characters given to the model; default 100. */
  prefixChars?: number;
  /** Characters the model must reproduce; default 50. */
  suffixChars?: number;
  /** At most this many probes, taken in input order (deterministic); default all. */
  limit?: number;
}

/** One probe: `index` is the position of its training text in the input. */
export interface MemorisationProbe {
  index: number;
  prefix: string;
  suffix: string;
}

/**
 * Probes from training texts: the first `prefixChars` characters as the prompt and the next
 * `suffixChars` as the expected continuation. Texts shorter than both together are skipped, since
 * a shorter suffix would make a verbatim match much easier and rates incomparable.
 *
 * @example
 * memorisationProbes(['abcdef', 'ab'], { prefixChars: 2, suffixChars: 3 })
 * // [{ index: 0, prefix: 'ab', suffix: 'cde' }]
 */
export function memorisationProbes(
  texts: readonly string[],
  opts: ProbeOptions = {},
): MemorisationProbe[] {
  const prefixChars = opts.prefixChars ?? 100;
  const suffixChars = opts.suffixChars ?? 50;
  if (prefixChars < 1 || suffixChars < 1)
    throw new Error('prefixChars and suffixChars must be ≥ 1');
  const limit = opts.limit ?? Infinity;
  const probes: MemorisationProbe[] = [];
  for (let index = 0; index < texts.length && probes.length < limit; index++) {
    // Code points, so a probe never splits a surrogate pair (emoji, CJK extension B).
    const chars = Array.from(texts[index]!);
    if (chars.length < prefixChars + suffixChars) continue;
    probes.push({
      index,
      prefix: chars.slice(0, prefixChars).join(''),
      suffix: chars.slice(prefixChars, prefixChars + suffixChars).join(''),
    });
  }
  return probes;
}

/** A probe with the model's greedy continuation of its prefix. */
export interface MemorisationResult {
  prefix: string;
  suffix: string;
  continuation: string;
  /** The probe's index; the result's position is reported when absent. */
  index?: number;
}

/** What {@link memorisationRate} returns. */
export interface MemorisationSummary {
  /** memorised / total; NaN when nothing was probed. */
  rate: number;
  memorised: number;
  total: number;
  /** `index` (or position) of each memorised result, in input order. */
  memorisedIndices: number[];
  finding?: Finding;
}

/**
 * The share of probes whose continuation starts with the training suffix exactly (the first
 * suffix-length characters are compared, so a model that keeps generating is not penalised).
 * Results with an empty suffix are not probes and are not counted. The finding is `warn` when the
 * rate exceeds `threshold` (default 0.1) and `info` otherwise.
 *
 * @example
 * memorisationRate([
 *   { prefix: 'ab', suffix: 'cde', continuation: 'cdefg' },
 *   { prefix: 'xy', suffix: 'zzz', continuation: 'zz!' },
 * ]) // { rate: 0.5, memorised: 1, total: 2, memorisedIndices: [0], finding: { severity: 'warn', ... } }
 */
export function memorisationRate(
  results: readonly MemorisationResult[],
  opts: { threshold?: number } = {},
): MemorisationSummary {
  const threshold = opts.threshold ?? 0.1;
  const memorisedIndices: number[] = [];
  let total = 0;
  results.forEach((r, position) => {
    const suffix = Array.from(r.suffix);
    if (suffix.length === 0) return;
    total++;
    const head = Array.from(r.continuation).slice(0, suffix.length).join('');
    if (head === r.suffix) memorisedIndices.push(r.index ?? position);
  });
  const memorised = memorisedIndices.length;
  if (total === 0) return { rate: Number.NaN, memorised, total, memorisedIndices };
  const rate = memorised / total;
  const severity = rate > threshold ? 'warn' : 'info';
  return {
    rate,
    memorised,
    total,
    memorisedIndices,
    finding: {
      detector: 'memorisation',
      severity,
      summary:
        `The model reproduced the training suffix verbatim for ${memorised} of ${total} probes ` +
        `(rate ${fmt(rate)}, ${severity === 'warn' ? 'above' : 'within'} the threshold ${fmt(threshold)}).`,
      evidence: { rate, memorised, total, threshold, memorisedIndices },
    },
  };
}
