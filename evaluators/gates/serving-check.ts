/**
 * `serving_latency`: a latency budget on real traffic. The figures come from the requests the
 * candidate version answered while served (under an unprotected alias, before the promotion the
 * gate guards), gathered by the server for each window the policy's checks ask for.
 */
import { atMost, fmt } from './evidence.ts';
import { noData, type CheckOf, type LeafResult } from './checks.ts';
import type { GateCheck } from './policy.ts';
import type { GateInput } from './types.ts';

const HOW_TO_SERVE =
  'serve it under a non-protected alias such as `staging` or `canary` ' +
  '(PUT /api/v1/projects/{p}/models/{name}/aliases/staging) and send it traffic through /v1';

/**
 * Passes when the candidate's latency percentile over its latest `last` answered requests is at
 * most `maxMs`; no_data below `minRequests` answered requests, since a percentile of a handful of
 * requests says little.
 *
 * @example
 * servingLatency({ kind: 'serving_latency', percentile: 'p95', maxMs: 500, minRequests: 20, last: 1000 }, input).outcome
 */
export function servingLatency(check: CheckOf<'serving_latency'>, input: GateInput): LeafResult {
  const { percentile, maxMs, minRequests, last } = check;
  const metric = `latency ${percentile}`;
  const figures = input.serving?.find((s) => s.last === last);
  if (!figures) {
    return noData(
      undefined,
      metric,
      `No serving figures were gathered for the candidate (a verdict computed by the server ` +
        `gathers them); ${HOW_TO_SERVE}`,
    );
  }
  if (figures.requests < minRequests || !figures.latencyMs) {
    return {
      ...noData(
        undefined,
        metric,
        `The candidate answered ${figures.requests} served request` +
          `${figures.requests === 1 ? '' : 's'}, fewer than the ${minRequests} a ${percentile} ` +
          `latency budget needs; ${HOW_TO_SERVE}`,
      ),
      n: figures.requests,
    };
  }
  const observed = figures.latencyMs[percentile];
  const within = atMost(observed, maxMs);
  return {
    metric,
    outcome: within ? 'pass' : 'fail',
    observed,
    threshold: { max: maxMs },
    n: figures.requests,
    message:
      `Serving latency ${percentile} is ${fmt(observed)} ms over the latest ${figures.requests} ` +
      `answered requests; the budget is ≤ ${fmt(maxMs)} ms` +
      `${within ? '.' : `, exceeded by ${fmt(observed - maxMs)} ms.`}`,
  };
}

/**
 * The windows (`last`) the policy's `serving_latency` checks ask for, each once: what a server
 * must gather into `GateInput.serving` before evaluating.
 *
 * @example
 * servingWindows({ kind: 'serving_latency', percentile: 'p95', maxMs: 500, minRequests: 20, last: 1000 }) // [1000]
 */
export function servingWindows(check: GateCheck): number[] {
  if (check.kind === 'serving_latency') return [check.last];
  if (check.kind !== 'all' && check.kind !== 'any') return [];
  return [...new Set(check.checks.flatMap(servingWindows))];
}
