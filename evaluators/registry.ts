/**
 * The suite metrics by name: an exhaustive map, so adding a name without an implementation fails
 * the type check. `version` is stamped on every result; bump it whenever a change could alter a
 * score, because evaluations with different metric versions are never compared.
 */
import { bleuCorpusStats, bleuFromStats, resolveBleuOptions } from './metrics/bleu.ts';
import { chrfCorpusStats, chrfFromStats, resolveChrfOptions } from './metrics/chrf.ts';
import { rougeScoreMulti, type RougeType } from './metrics/rouge.ts';
import { squadExactMatch, squadF1 } from './metrics/squad.ts';

/** Every metric a suite version can name. */
export type MetricName =
  | 'bleu'
  | 'chrf'
  | 'chrf++'
  | 'rouge1'
  | 'rouge2'
  | 'rougeL'
  | 'rougeLsum'
  | 'exact-match'
  | 'squad-f1';

/** Sufficient statistics of a corpus metric: resampled by the bootstraps instead of the scores. */
export interface CorpusStatistics {
  stats: (outputs: readonly string[], refs: readonly (readonly string[])[]) => number[][];
  fromStats: (summed: number[], float32: boolean) => number;
}

/** How a metric scores. */
export interface MetricImpl {
  /** Implementation version, e.g. `sacrebleu-2.6.0/1`: the reference it matches and heldout's revision. */
  version: string;
  /** Scale of the score, for display. */
  scale: '0-1' | '0-100';
  /** The score of one output against its references. */
  caseScore: (output: string, refs: readonly string[]) => number;
  /** For corpus metrics (BLEU, chrF), whose aggregate is not the mean of case scores. */
  corpus?: CorpusStatistics;
}

const bleuOpts = resolveBleuOptions({}, false);
const bleuSentenceOpts = resolveBleuOptions({}, true);
const chrfOpts = resolveChrfOptions({});
const chrfPlusOpts = resolveChrfOptions({ wordOrder: 2 });

const sumRows = (rows: number[][]) =>
  rows.reduce((s, r) => s.map((x, i) => x + r[i]!), new Array<number>(rows[0]!.length).fill(0));

function rouge(type: RougeType): MetricImpl {
  return {
    version: 'rouge-score-0.1.2/1',
    scale: '0-1',
    caseScore: (output, refs) =>
      rougeScoreMulti(refs, output, { types: [type], stemmer: false })[type].fmeasure,
  };
}

/** The registry. */
export const METRICS = {
  bleu: {
    version: 'sacrebleu-2.6.0/1',
    scale: '0-100',
    caseScore: (output, refs) =>
      bleuFromStats(bleuCorpusStats([output], [refs], bleuSentenceOpts)[0]!, bleuSentenceOpts)
        .score,
    corpus: {
      stats: (outputs, refs) => bleuCorpusStats(outputs, refs, bleuOpts),
      fromStats: (summed, f32) => bleuFromStats(summed, bleuOpts, f32).score,
    },
  },
  chrf: {
    version: 'sacrebleu-2.6.0/1',
    scale: '0-100',
    caseScore: (output, refs) =>
      chrfFromStats(chrfCorpusStats([output], [refs], chrfOpts)[0]!, chrfOpts),
    corpus: {
      stats: (outputs, refs) => chrfCorpusStats(outputs, refs, chrfOpts),
      fromStats: (summed) => chrfFromStats(summed, chrfOpts),
    },
  },
  'chrf++': {
    version: 'sacrebleu-2.6.0/1',
    scale: '0-100',
    caseScore: (output, refs) =>
      chrfFromStats(chrfCorpusStats([output], [refs], chrfPlusOpts)[0]!, chrfPlusOpts),
    corpus: {
      stats: (outputs, refs) => chrfCorpusStats(outputs, refs, chrfPlusOpts),
      fromStats: (summed) => chrfFromStats(summed, chrfPlusOpts),
    },
  },
  rouge1: rouge('rouge1'),
  rouge2: rouge('rouge2'),
  rougeL: rouge('rougeL'),
  rougeLsum: rouge('rougeLsum'),
  'exact-match': { version: 'squad-v1.1/1', scale: '0-1', caseScore: squadExactMatch },
  'squad-f1': { version: 'squad-v1.1/1', scale: '0-1', caseScore: squadF1 },
} satisfies Record<MetricName, MetricImpl>;

/**
 * Looks a metric up by name, with an error that lists the valid ones.
 *
 * @example
 * getMetric('bleu').version // 'sacrebleu-2.6.0/1'
 */
export function getMetric(name: string): MetricImpl {
  const impl = (METRICS as Record<string, MetricImpl>)[name];
  if (!impl)
    throw new Error(`unknown metric ${name}; use one of ${Object.keys(METRICS).join(', ')}`);
  return impl;
}

/**
 * The corpus value of a corpus metric from per-segment statistics.
 *
 * @example
 * corpusValue(METRICS.bleu.corpus, [[2, 2, 2, 1, 0, 0, 2, 1, 0, 0]])
 */
export function corpusValue(corpus: CorpusStatistics, stats: number[][]): number {
  return corpus.fromStats(sumRows(stats), false);
}
