import type { TopLevelSpec } from 'vega-lite';
import { SCHEMA } from './spec.ts';

export interface RunPoint {
  run: string;
  step: number;
  value: number;
}

/**
 * Several runs' curves of one metric on a shared step axis, a colour per run: the compare page's
 * overlaid chart.
 *
 * @example
 * runsOverlay({ points: [{ run: 'lora-r8', step: 1, value: 2.1 }], title: 'training loss' });
 */
export function runsOverlay(input: { points: readonly RunPoint[]; title: string }): TopLevelSpec {
  return {
    $schema: SCHEMA,
    width: 'container',
    height: 320,
    data: { values: input.points.map((p) => ({ ...p })) },
    mark: { type: 'line', tooltip: true },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: input.title, scale: { zero: false } },
      color: { field: 'run', type: 'nominal', title: 'run' },
    },
  };
}
