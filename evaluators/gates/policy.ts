/**
 * The gate policy language as zod schemas: the single source of the policy types, and what the
 * server validates an uploaded policy with (issues carry the field path, e.g. `checks.1.metric`).
 */
import { z } from 'zod';

/** A suite by name, or every suite of a purpose (expanded into one result per suite). */
export const suiteSelectorSchema = z.union(
  [z.string().min(1), z.strictObject({ purpose: z.enum(['target', 'retention', 'safety']) })],
  { error: "suite must be a suite name or { purpose: 'target' | 'retention' | 'safety' }" },
);

const baseline = z.enum(['base', 'champion']);
const direction = z.enum(['higher_is_better', 'lower_is_better']);
const metric = z.string().min(1);

const thresholdCheck = z
  .strictObject({
    kind: z.literal('threshold'),
    suite: suiteSelectorSchema,
    metric,
    min: z.number().optional(),
    max: z.number().optional(),
  })
  // A threshold without bounds would pass anything: reject it rather than let it pass silently.
  .refine((c) => c.min !== undefined || c.max !== undefined, {
    message: 'a threshold needs min, max or both',
    path: ['min'],
  });

const changeCheck = z
  .strictObject({
    kind: z.literal('change'),
    baseline,
    suite: suiteSelectorSchema,
    metric,
    direction,
    // Negative values mean "a drop of at most": -0.02 allows falling by up to 0.02.
    minAbsoluteChange: z.number().optional(),
    minRelativeChange: z.number().optional(),
  })
  .refine((c) => c.minAbsoluteChange !== undefined || c.minRelativeChange !== undefined, {
    message: 'a change check needs minAbsoluteChange, minRelativeChange or both',
    path: ['minAbsoluteChange'],
  });

const nonInferiorityCheck = z.strictObject({
  kind: z.literal('non_inferiority'),
  baseline,
  suite: suiteSelectorSchema,
  metric,
  margin: z.number().nonnegative(),
  confidence: z.number().gt(0).lt(1).default(0.95),
  direction,
});

const maxRegressionsCheck = z.strictObject({
  kind: z.literal('max_regressions'),
  baseline,
  suite: suiteSelectorSchema,
  max: z.number().int().nonnegative(),
});

const noBlockingFindingsCheck = z.strictObject({
  kind: z.literal('no_blocking_findings'),
  detectors: z.array(z.string().min(1)).optional(),
});

const servingLatencyCheck = z
  .strictObject({
    kind: z.literal('serving_latency'),
    percentile: z.enum(['p50', 'p95', 'p99']).default('p95'),
    maxMs: z.number().positive(),
    minRequests: z.number().int().positive().default(20),
    // The window: the candidate's most recent answered requests, so old traffic ages out.
    last: z.number().int().positive().max(100_000).default(1000),
  })
  // A window smaller than the minimum could never hold enough requests: no_data forever.
  .refine((c) => c.minRequests <= c.last, {
    message: 'minRequests must not exceed last',
    path: ['minRequests'],
  });

// Composites refer back to the union; zod 4 resolves the cycle through getters.
const allCheck = z.strictObject({
  kind: z.literal('all'),
  get checks() {
    return z.array(gateCheckSchema).min(1);
  },
});

const anyCheck = z.strictObject({
  kind: z.literal('any'),
  get checks() {
    return z.array(gateCheckSchema).min(1);
  },
});

/**
 * One check of a gate: a leaf (`threshold`, `change`, `non_inferiority`, `max_regressions`,
 * `no_blocking_findings`, `serving_latency`) or a composite (`all`, `any`) of nested checks.
 *
 * @example
 * gateCheckSchema.parse({ kind: 'threshold', suite: 'qa', metric: 'exact_match', min: 0.6 })
 */
export const gateCheckSchema = z.discriminatedUnion('kind', [
  thresholdCheck,
  changeCheck,
  nonInferiorityCheck,
  maxRegressionsCheck,
  noBlockingFindingsCheck,
  servingLatencyCheck,
  allCheck,
  anyCheck,
]);

/**
 * A gate policy: its root check (usually `all`). The gate's name and version are kept by the
 * server beside the JSON, so the policy itself is only the check tree.
 *
 * @example
 * const policy = gatePolicySchema.parse({
 *   kind: 'all',
 *   checks: [
 *     { kind: 'threshold', suite: 'qa', metric: 'exact_match', min: 0.6 },
 *     { kind: 'max_regressions', baseline: 'champion', suite: { purpose: 'retention' }, max: 2 },
 *     { kind: 'no_blocking_findings' },
 *   ],
 * });
 */
export const gatePolicySchema = gateCheckSchema;

/**
 * A parsed gate check (defaults applied).
 *
 * @example
 * const check: GateCheck = { kind: 'no_blocking_findings', detectors: ['contamination'] };
 */
export type GateCheck = z.output<typeof gateCheckSchema>;

/**
 * A parsed gate policy (its root check).
 *
 * @example
 * const policy: GatePolicy = { kind: 'all', checks: [{ kind: 'no_blocking_findings' }] };
 */
export type GatePolicy = z.output<typeof gatePolicySchema>;

/**
 * The kinds of check, keys of the exhaustive handler registry.
 *
 * @example
 * const kind: CheckKind = 'non_inferiority';
 */
export type CheckKind = GateCheck['kind'];

/**
 * A suite selector: a name or `{ purpose }`.
 *
 * @example
 * const s: SuiteSelector = { purpose: 'retention' };
 */
export type SuiteSelector = z.output<typeof suiteSelectorSchema>;

/** Path segments as `checks[1].metric`, the way a policy author reads them. */
function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, k) => {
    if (typeof k === 'number') return `${s}[${k}]`;
    return s === '' ? String(k) : `${s}.${String(k)}`;
  }, '');
}

/**
 * Validates untrusted JSON as a policy; on failure returns one `{path, message}` per problem.
 *
 * @example
 * parseGatePolicy({ kind: 'all', checks: [{ kind: 'threshold', suite: 'qa', min: 1 }] })
 * // { ok: false, errors: [{ path: 'checks[0].metric', message: 'Invalid input: ...' }] }
 */
export function parseGatePolicy(
  json: unknown,
): { ok: true; policy: GatePolicy } | { ok: false; errors: { path: string; message: string }[] } {
  const parsed = gatePolicySchema.safeParse(json);
  if (parsed.success) return { ok: true, policy: parsed.data };
  return {
    ok: false,
    errors: parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
  };
}
