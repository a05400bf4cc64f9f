import type { TopLevelSpec } from 'vega-lite';

/** One entry of a layered spec's `layer`, taken from vega-lite's public type. */
export type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];

/** The vega-lite schema the specs are written against (an identifier only: nothing fetches it). */
export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
