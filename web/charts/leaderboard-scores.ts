import type { TopLevelSpec } from 'vega-lite';
import { SCHEMA } from './spec.ts';

export interface VersionScore {
  /** Model version or checkpoint label. */
  label: string;
  suite: string;
  score: number;
  /** Confidence interval bounds of the score. */
  low: number;
  high: number;
}

/**
 * The leaderboard detail: each version's score with its confidence interval as an error bar,
 * one small multiple per suite. Suites are scored on unrelated scales (pass rate, BLEU, loss), so
 * each panel gets its own x scale; versions keep their given order on the shared y axis.
 *
 * @example
 * leaderboardScores({ versions: [{ label: 'v3', suite: 'gsm8k', score: 0.61, low: 0.58, high: 0.64 }] });
 */
export function leaderboardScores(input: { versions: readonly VersionScore[] }): TopLevelSpec {
  const labels = [...new Set(input.versions.map((v) => v.label))];
  const values = input.versions.map((v) => ({ ...v }));
  const y = { field: 'label', type: 'nominal', sort: labels, title: null } as const;
  return {
    $schema: SCHEMA,
    data: { values },
    facet: { field: 'suite', type: 'nominal', title: null },
    columns: 4,
    spec: {
      width: 180,
      height: { step: 18 },
      layer: [
        {
          name: 'intervals',
          mark: { type: 'rule', strokeWidth: 2, opacity: 0.6 },
          encoding: {
            y,
            x: { field: 'low', type: 'quantitative', title: 'score', scale: { zero: false } },
            x2: { field: 'high' },
          },
        },
        {
          name: 'scores',
          mark: { type: 'point', filled: true, tooltip: true },
          encoding: {
            y,
            x: { field: 'score', type: 'quantitative' },
            tooltip: [
              { field: 'label', title: 'version' },
              { field: 'suite' },
              { field: 'score', type: 'quantitative', format: '.4f' },
              { field: 'low', type: 'quantitative', format: '.4f', title: 'CI low' },
              { field: 'high', type: 'quantitative', format: '.4f', title: 'CI high' },
            ],
          },
        },
      ],
    },
    resolve: { scale: { x: 'independent' } },
  };
}
