import { api, query } from './api.ts';
import type { Buckets, MetricSummary, Wire } from './types.ts';

export interface Series {
  points: { step: number; value: number; wallTime: number }[];
  /** Present when some bucket holds more than one point: its min/max band. */
  band: { step: number; min: number; max: number }[] | null;
}

/**
 * Every metric summary of a run. The server answers them a page at a time (a run may hold tens of
 * thousands of keys), and the loss keys the charts want may sit on any page.
 */
export async function loadMetricSummaries(runId: string): Promise<MetricSummary[]> {
  const all: MetricSummary[] = [];
  let pageToken: string | undefined;
  do {
    const page = await api<{ metrics: MetricSummary[]; nextPageToken: string | null }>(
      `/runs/${runId}/metrics${query({ pageToken })}`,
    );
    all.push(...page.metrics);
    pageToken = page.nextPageToken ?? undefined;
  } while (pageToken);
  return all;
}

const finite = (v: Wire | null): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * A metric as at most `buckets` points, whatever its length: the server buckets it by step (min,
 * max, last), so a million-point curve costs one small answer. Zooming asks again for a window.
 */
export async function loadSeries(
  runId: string,
  key: string,
  window: { from?: number | null; to?: number | null } = {},
  buckets = 1000,
): Promise<Series> {
  const res = await api<Buckets>(
    `/runs/${runId}/metric-history${query({ key, buckets, minStep: window.from, maxStep: window.to })}`,
  );
  const points = res.buckets
    .filter((b) => finite(b.last))
    .map((b) => ({ step: b.stepMax, value: b.last as number, wallTime: b.wallTime }));
  const dense = res.buckets.some((b) => b.count > 1);
  const band = dense
    ? res.buckets
        .filter((b) => finite(b.min) && finite(b.max))
        .map((b) => ({ step: b.stepMax, min: b.min as number, max: b.max as number }))
    : null;
  return { points, band };
}
