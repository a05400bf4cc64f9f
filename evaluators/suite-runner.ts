/**
 * Runs a suite version against a model: generates (in batches, through a cache), scores every case
 * with every metric, and aggregates with 95% bootstrap confidence intervals. Pure apart from the
 * model and cache it is handed, so the server can back the cache with Postgres and tests with a Map.
 */
import { createHash } from 'node:crypto';
import { bootstrapCi } from './stats/bootstrap.ts';
import { resampleIndices } from './stats/rng.ts';
import { quantile } from './stats/descriptive.ts';
import { corpusValue, getMetric, type MetricName } from './registry.ts';

/** A row of an `eval` dataset. `expected` may list several acceptable references. */
export interface EvalCase {
  id: string;
  input: string;
  expected: string | string[];
  metadata?: Record<string, unknown>;
}

/** Decoding parameters; part of the cache key, so any change regenerates. */
export interface DecodingParams {
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stop?: string[];
  [key: string]: unknown;
}

/** One generated output. */
export interface Generation {
  text: string;
  /** Natural-log probabilities of the generated tokens, when the backend reports them. */
  tokenLogprobs?: number[];
}

/** A model under evaluation, identified by its checkpoint's sha256. */
export interface ModelHandle {
  checkpointSha256: string;
  /** One generation per input, in order. */
  generate(inputs: string[], decoding: DecodingParams): Promise<Generation[]>;
  /** Optional: total log-likelihood of each continuation given its context (for likelihood metrics). */
  score?(requests: { context: string; continuation: string }[]): Promise<number[]>;
}

/** Where generated outputs are kept between evaluations. */
export interface OutputCache {
  get(key: string): Promise<CachedOutput | undefined>;
  set(key: string, value: CachedOutput): Promise<void>;
}

/** What the cache holds for one (checkpoint, case, decoding). */
export interface CachedOutput {
  generation: Generation;
  latencyMs: number;
}

/** A frozen suite version. */
export interface SuiteVersion {
  id: string;
  purpose: 'target' | 'retention' | 'safety';
  cases: EvalCase[];
  metrics: MetricName[];
  decoding: DecodingParams;
}

/** One case's result. */
export interface CaseResult {
  caseId: string;
  output: string;
  latencyMs: number;
  cached: boolean;
  scores: Partial<Record<MetricName, number>>;
}

/** One metric's aggregate: corpus value for BLEU/chrF, the mean of case scores otherwise. */
export interface Aggregate {
  value: number;
  low: number;
  high: number;
  confidence: number;
  n: number;
  metricVersion: string;
}

/** Everything an evaluation produces. */
export interface EvaluationResult {
  suiteId: string;
  checkpointSha256: string;
  decoding: DecodingParams;
  metricVersions: Partial<Record<MetricName, string>>;
  cases: CaseResult[];
  aggregates: Partial<Record<MetricName, Aggregate>>;
  latency: { p50: number; p95: number };
  generated: number;
  cacheHits: number;
}

/** Options of {@link runSuite}. */
export interface RunSuiteOptions {
  model: ModelHandle;
  suite: SuiteVersion;
  cache: OutputCache;
  /** Inputs per `generate` call; default 16. */
  batchSize?: number;
  /** Bootstrap seed for the confidence intervals; default 12345. */
  seed?: number;
  /** Milliseconds clock; injectable for tests. */
  now?: () => number;
}

/**
 * JSON with object keys sorted, so equal values hash equally.
 *
 * @example
 * canonical({ b: 1, a: [2] }) // '{"a":[2],"b":1}'
 */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * The hash of what determines a case's output: its input only (not its id or expected answer, so
 * fixing a reference does not regenerate).
 *
 * @example
 * caseHash({ id: 'q1', input: '2+2?', expected: '4' }).length // 64
 */
export function caseHash(c: EvalCase): string {
  return sha256(canonical({ input: c.input }));
}

/**
 * The cache key of one output: (checkpoint sha256, case hash, decoding parameters).
 *
 * @example
 * outputCacheKey('ab12…', caseHash(c), { temperature: 0 })
 */
export function outputCacheKey(
  checkpointSha256: string,
  hash: string,
  decoding: DecodingParams,
): string {
  return `output:v1:${checkpointSha256}:${hash}:${sha256(canonical(decoding))}`;
}

/**
 * An in-memory {@link OutputCache}, for tests and one-off runs.
 *
 * @example
 * const cache = memoryCache();
 */
export function memoryCache(
  map = new Map<string, CachedOutput>(),
): OutputCache & { map: Map<string, CachedOutput> } {
  return {
    map,
    get: async (key) => map.get(key),
    set: async (key, value) => {
      map.set(key, value);
    },
  };
}

const refsOf = (c: EvalCase) => (Array.isArray(c.expected) ? c.expected : [c.expected]);

function corpusCi(stats: number[][], fromStats: (s: number[]) => number, seed: number) {
  const rows = resampleIndices(stats.length, 1000, seed).map((idx) =>
    fromStats(sumIdx(stats, idx)),
  );
  return { low: quantile(rows, 0.025), high: quantile(rows, 0.975) };
}

function sumIdx(stats: number[][], idx: Uint32Array): number[] {
  const out = new Array<number>(stats[0]!.length).fill(0);
  for (const i of idx) for (let k = 0; k < out.length; k++) out[k]! += stats[i]![k]!;
  return out;
}

/**
 * Evaluates `model` on `suite`: per-case outputs, scores and latency, and aggregates with 95% CIs.
 * Outputs already in the cache are not generated again, so adding a metric costs no generation.
 *
 * @example
 * const result = await runSuite({ model, suite, cache: memoryCache() });
 * result.aggregates.bleu // { value, low, high, confidence: 0.95, n, metricVersion }
 */
export async function runSuite(opts: RunSuiteOptions): Promise<EvaluationResult> {
  const { model, suite, cache } = opts;
  const batchSize = opts.batchSize ?? 16;
  const seed = opts.seed ?? 12345;
  const now = opts.now ?? (() => performance.now());
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error('batchSize must be a positive integer');
  const metrics = suite.metrics.map((name) => [name, getMetric(name)] as const);

  const keys = suite.cases.map((c) =>
    outputCacheKey(model.checkpointSha256, caseHash(c), suite.decoding),
  );
  const outputs: (CachedOutput | undefined)[] = await Promise.all(keys.map((k) => cache.get(k)));
  const cached = outputs.map((o) => o !== undefined);
  const missing = suite.cases.map((_, i) => i).filter((i) => !cached[i]);
  for (let start = 0; start < missing.length; start += batchSize) {
    const batch = missing.slice(start, start + batchSize);
    const t0 = now();
    const generations = await model.generate(
      batch.map((i) => suite.cases[i]!.input),
      suite.decoding,
    );
    // A batch is timed as a whole; each case is charged its share.
    const latencyMs = (now() - t0) / batch.length;
    if (generations.length !== batch.length) {
      throw new Error(
        `model returned ${generations.length} generations for ${batch.length} inputs`,
      );
    }
    await Promise.all(
      batch.map(async (i, k) => {
        const value = { generation: generations[k]!, latencyMs };
        outputs[i] = value;
        await cache.set(keys[i]!, value);
      }),
    );
  }

  const texts = outputs.map((o) => o!.generation.text);
  const refs = suite.cases.map(refsOf);
  const cases: CaseResult[] = suite.cases.map((c, i) => ({
    caseId: c.id,
    output: texts[i]!,
    latencyMs: outputs[i]!.latencyMs,
    cached: cached[i]!,
    scores: Object.fromEntries(
      metrics.map(([name, m]) => [name, m.caseScore(texts[i]!, refs[i]!)]),
    ),
  }));

  const aggregates: Partial<Record<MetricName, Aggregate>> = {};
  const n = suite.cases.length;
  for (const [name, m] of metrics) {
    if (n === 0) continue;
    if (m.corpus) {
      const stats = m.corpus.stats(texts, refs);
      const ci = corpusCi(stats, (s) => m.corpus!.fromStats(s, false), seed);
      aggregates[name] = {
        value: corpusValue(m.corpus, stats),
        ...ci,
        confidence: 0.95,
        n,
        metricVersion: m.version,
      };
    } else {
      const ci = bootstrapCi(
        cases.map((c) => c.scores[name]!),
        { seed },
      );
      aggregates[name] = {
        value: ci.estimate,
        low: ci.low,
        high: ci.high,
        confidence: 0.95,
        n,
        metricVersion: m.version,
      };
    }
  }
  const latencies = cases.map((c) => c.latencyMs);
  return {
    suiteId: suite.id,
    checkpointSha256: model.checkpointSha256,
    decoding: suite.decoding,
    metricVersions: Object.fromEntries(metrics.map(([name, m]) => [name, m.version])),
    cases,
    aggregates,
    latency: { p50: quantile(latencies, 0.5), p95: quantile(latencies, 0.95) },
    generated: missing.length,
    cacheHits: n - missing.length,
  };
}
