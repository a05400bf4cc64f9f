import type { TopLevelSpec } from 'vega-lite';
import { ema } from './ema.ts';
import { SCHEMA, type Layer } from './spec.ts';
import { xAxis, type TimedPoint, type XMode } from './x-axis.ts';

export interface LossPoint extends TimedPoint {
  value: number;
}

export interface LossChartInput {
  train: readonly LossPoint[];
  validation?: readonly LossPoint[];
  /** Min/max per step bucket from the server's bucketed series: drawn as a band. */
  buckets?: readonly { step: number; min: number; max: number }[];
  /** A vertical rule per checkpoint. */
  checkpoints?: readonly { step: number; id: string }[];
  /** The overfitting finding: shaded from `startStep` on, a rule at the best validation step. */
  overfitting?: { bestStep: number; startStep: number };
  x: XMode;
  /** TensorBoard-style smoothing weight in [0, 1); above 0 the raw line is drawn faint behind. */
  smoothing: number;
  /** Evaluation scores per checkpoint, on a second y axis with its own scale. */
  evaluations?: readonly { step: number; suite: string; value: number }[];
  /** Adds an x-interval brush named `zoom`: the page reads it to ask the server for that window. */
  zoomable?: boolean;
}

/**
 * The run page's loss chart: training and validation loss (smoothed, raw faint behind), the
 * bucket min/max band, checkpoint rules, the overfitting region and evaluation scores on a right
 * axis. Pure: the data is computed here and kept inline, ready for vega-embed (canvas renderer).
 *
 * @example
 * lossChart({ train: [{ step: 1, value: 2.3, wallTime: 0 }], x: 'step', smoothing: 0.6 });
 */
export function lossChart(input: LossChartInput): TopLevelSpec {
  const series = { train: input.train, validation: input.validation ?? [] };
  const axis = xAxis(input.x, [...series.train, ...series.validation]);
  const x = { field: 'x', type: axis.type, title: axis.title } as const;
  const xTip = { field: 'x', type: axis.type, title: axis.title } as const;

  const lines = Object.entries(series).flatMap(([name, points]) => {
    const smoothed =
      input.smoothing > 0
        ? ema(
            points.map((p) => p.value),
            input.smoothing,
          )
        : null;
    return points.map((p, i) => ({
      series: name,
      step: p.step,
      x: axis.ofPoint(p),
      value: p.value,
      smoothed: smoothed ? smoothed[i]! : p.value,
    }));
  });
  const color = { field: 'series', type: 'nominal', title: 'loss' } as const;
  const lossY = { type: 'quantitative', title: 'loss', scale: { zero: false } } as const;

  const loss: Layer[] = [];
  if (input.buckets?.length) {
    const values = input.buckets
      .map((b) => ({ x: axis.ofStep(b.step), step: b.step, min: b.min, max: b.max }))
      .filter((b) => Number.isFinite(b.x));
    loss.push({
      name: 'band',
      data: { values },
      mark: { type: 'area', opacity: 0.2 },
      encoding: { x, y: { ...lossY, field: 'min' }, y2: { field: 'max' } },
    });
  }
  if (input.smoothing > 0) {
    loss.push({
      name: 'raw',
      data: { values: lines },
      mark: { type: 'line', opacity: 0.25 },
      encoding: { x, y: { ...lossY, field: 'value' }, color },
    });
  }
  loss.push({
    name: 'loss',
    data: { values: lines },
    ...(input.zoomable
      ? { params: [{ name: 'zoom', select: { type: 'interval', encodings: ['x'] } }] }
      : {}),
    mark: { type: 'line', tooltip: true },
    encoding: {
      x,
      y: { ...lossY, field: 'smoothed' },
      color,
      tooltip: [
        { field: 'series' },
        { field: 'step', type: 'quantitative' },
        xTip,
        { field: 'value', type: 'quantitative', format: '.4g' },
        { field: 'smoothed', type: 'quantitative', format: '.4g' },
      ],
    },
  });
  if (input.overfitting) loss.push(...overfittingLayers(input.overfitting, lines, axis.ofStep, x));
  if (input.checkpoints?.length) {
    const values = input.checkpoints
      .map((c) => ({ x: axis.ofStep(c.step), step: c.step, id: c.id }))
      .filter((c) => Number.isFinite(c.x));
    loss.push({
      name: 'checkpoints',
      data: { values },
      mark: { type: 'rule', strokeDash: [4, 4], opacity: 0.6 },
      encoding: { x, tooltip: [{ field: 'id', title: 'checkpoint' }, { field: 'step' }] },
    });
  }

  const evaluations = evaluationLayers(input.evaluations ?? [], axis.ofStep, x);
  const base = { $schema: SCHEMA, width: 'container', height: 320 } as const;
  if (!evaluations.length) return { ...base, layer: loss };
  return {
    ...base,
    // Scores live on scales unrelated to loss: their own y axis and colours. The two groups are
    // nested so that the loss layers still share one y scale.
    layer: [{ layer: loss }, { layer: evaluations }],
    resolve: { scale: { y: 'independent', color: 'independent' } },
  };
}

const SUITE_COLOURS = ['#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

type XEncoding = { field: 'x'; type: 'quantitative' | 'temporal'; title: string };

function overfittingLayers(
  o: { bestStep: number; startStep: number },
  lines: readonly { step: number }[],
  ofStep: (step: number) => number,
  x: XEncoding,
): Layer[] {
  const lastStep = lines.reduce((m, p) => Math.max(m, p.step), o.startStep);
  const region = { x: ofStep(o.startStep), x2: ofStep(lastStep), startStep: o.startStep };
  const best = { x: ofStep(o.bestStep), bestStep: o.bestStep };
  return [
    {
      name: 'overfitting',
      data: { values: Number.isFinite(region.x) ? [region] : [] },
      mark: { type: 'rect', color: '#e45756', opacity: 0.08 },
      encoding: {
        x,
        x2: { field: 'x2' },
        tooltip: [{ field: 'startStep', title: 'overfitting from step' }],
      },
    },
    {
      name: 'best',
      data: { values: Number.isFinite(best.x) ? [best] : [] },
      mark: { type: 'rule', color: '#e45756' },
      encoding: { x, tooltip: [{ field: 'bestStep', title: 'best validation step' }] },
    },
  ];
}

function evaluationLayers(
  evaluations: readonly { step: number; suite: string; value: number }[],
  ofStep: (step: number) => number,
  x: XEncoding,
): Layer[] {
  if (!evaluations.length) return [];
  const values = evaluations
    .map((e) => ({ x: ofStep(e.step), step: e.step, suite: e.suite, value: e.value }))
    .filter((e) => Number.isFinite(e.x));
  const encoding = {
    x,
    y: {
      field: 'value',
      type: 'quantitative',
      title: 'evaluation score',
      axis: { orient: 'right' },
    },
    // Colours the loss lines do not use, so a suite is never mistaken for a loss curve.
    color: { field: 'suite', type: 'nominal', title: 'suite', scale: { range: SUITE_COLOURS } },
  } as const;
  return [
    {
      name: 'evaluation-lines',
      data: { values },
      mark: { type: 'line', strokeDash: [2, 2] },
      encoding,
    },
    {
      name: 'evaluations',
      data: { values },
      mark: { type: 'point', filled: true, tooltip: true },
      encoding: {
        ...encoding,
        tooltip: [
          { field: 'suite' },
          { field: 'step', type: 'quantitative' },
          { field: 'value', type: 'quantitative', format: '.4g', title: 'score' },
        ],
      },
    },
  ];
}
