import type { TopLevelSpec } from 'vega-lite';
import { SCHEMA } from './spec.ts';

export interface DeltaCell {
  checkpoint: string;
  suite: string;
  /** Score minus the base model's score on that suite. */
  delta: number;
  /** Confidence interval of the delta, when the evaluation has one. */
  low?: number;
  high?: number;
}

export interface DeltaHeatmapInput {
  /** Checkpoint labels, top to bottom. */
  rows: readonly string[];
  /** Suite names, left to right. */
  columns: readonly string[];
  cells: readonly DeltaCell[];
}

/**
 * Checkpoint × suite heatmap of the delta vs the base: a diverging scheme centred on 0 (red
 * worse, blue better) over a symmetric domain, so equal gains and losses get equal intensity,
 * and each cell labelled with its signed delta.
 *
 * @example
 * deltaHeatmap({ rows: ['ckpt-100'], columns: ['gsm8k'], cells: [{ checkpoint: 'ckpt-100', suite: 'gsm8k', delta: 0.04 }] });
 */
export function deltaHeatmap(input: DeltaHeatmapInput): TopLevelSpec {
  const extent = input.cells.reduce(
    (m, c) => (Number.isFinite(c.delta) ? Math.max(m, Math.abs(c.delta)) : m),
    0,
  );
  const values = input.cells.map((c) => ({
    checkpoint: c.checkpoint,
    suite: c.suite,
    delta: c.delta,
    low: c.low ?? null,
    high: c.high ?? null,
    label: formatDelta(c.delta),
    // Dark cells get white text; the threshold is relative to the strongest colour on screen.
    strong: Math.abs(c.delta) > 0.6 * extent,
  }));
  return {
    $schema: SCHEMA,
    // Cells wide enough for their signed label, whatever the number of suites.
    width: { step: 90 },
    height: { step: 26 },
    data: { values },
    encoding: {
      x: {
        field: 'suite',
        type: 'nominal',
        sort: [...input.columns],
        scale: { domain: [...input.columns] },
        title: 'suite',
      },
      y: {
        field: 'checkpoint',
        type: 'nominal',
        sort: [...input.rows],
        scale: { domain: [...input.rows] },
        title: 'checkpoint',
      },
    },
    layer: [
      {
        name: 'cells',
        mark: { type: 'rect', tooltip: true },
        encoding: {
          color: {
            field: 'delta',
            type: 'quantitative',
            title: 'Δ vs base',
            scale: {
              type: 'linear',
              scheme: 'redblue',
              domainMid: 0,
              // Without a symmetric domain an all-positive column would still show red.
              ...(extent > 0 ? { domain: [-extent, extent] } : {}),
            },
          },
          tooltip: [
            { field: 'checkpoint' },
            { field: 'suite' },
            { field: 'delta', type: 'quantitative', format: '+.4f', title: 'Δ vs base' },
            { field: 'low', type: 'quantitative', format: '+.4f', title: 'CI low' },
            { field: 'high', type: 'quantitative', format: '+.4f', title: 'CI high' },
          ],
        },
      },
      {
        name: 'labels',
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'label' },
          color: { condition: { test: 'datum.strong', value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

function formatDelta(delta: number): string {
  if (!Number.isFinite(delta)) return '–';
  const fixed = delta.toFixed(3);
  return delta > 0 ? `+${fixed}` : fixed;
}
