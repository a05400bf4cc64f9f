/**
 * The paired bootstrap test for corpus metrics: both systems' segments are scored once into
 * sufficient statistics, then resampled (see {@link pairedBootstrapStats}).
 */
import {
  bleuCorpusStats,
  bleuFromStats,
  resolveBleuOptions,
  type BleuOptions,
} from '../metrics/bleu.ts';
import {
  chrfCorpusStats,
  chrfFromStats,
  chrfFromStatsFloat32,
  resolveChrfOptions,
  type ChrfOptions,
} from '../metrics/chrf.ts';
import {
  pairedBootstrapStats,
  type PairedBootstrapInput,
  type PairedBootstrapResult,
} from './paired-bootstrap.ts';

/** Which corpus metric to compare on, with its options. */
export type CorpusMetricSpec =
  | { metric: 'bleu'; options?: BleuOptions }
  | { metric: 'chrf'; options?: ChrfOptions };

/** Resampling options shared with {@link pairedBootstrapStats}. */
export type ResamplingOptions = Pick<
  PairedBootstrapInput,
  'samples' | 'seed' | 'indices' | 'confidence'
>;

/**
 * sacrebleu's `--paired-bs` between a baseline and a system on the same segments and references.
 *
 * @example
 * pairedBootstrapCorpus({ metric: 'bleu' }, ['a cat'], ['the cat'], [['the cat']]).pValue
 */
export function pairedBootstrapCorpus(
  spec: CorpusMetricSpec,
  baselineHyps: readonly string[],
  systemHyps: readonly string[],
  refs: readonly (readonly string[])[],
  opts: ResamplingOptions = {},
): PairedBootstrapResult {
  if (spec.metric === 'bleu') {
    const o = resolveBleuOptions(spec.options ?? {}, false);
    return pairedBootstrapStats({
      ...opts,
      baseline: bleuCorpusStats(baselineHyps, refs, o),
      system: bleuCorpusStats(systemHyps, refs, o),
      score: (s, f32) => bleuFromStats(s, o, f32).score,
      float32Scores: false,
    });
  }
  const o = resolveChrfOptions(spec.options ?? {});
  return pairedBootstrapStats({
    ...opts,
    baseline: chrfCorpusStats(baselineHyps, refs, o),
    system: chrfCorpusStats(systemHyps, refs, o),
    score: (s, f32) => (f32 ? chrfFromStatsFloat32(s, o) : chrfFromStats(s, o)),
    float32Scores: true,
  });
}
