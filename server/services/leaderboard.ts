import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { builtinStorageKey } from '../../plugins/model/base/builtin.ts';
import type { Db } from '../db/client.ts';
import {
  checkpoints,
  datasets,
  datasetVersions,
  evaluations,
  gates,
  modelAliases,
  models,
  modelVersions,
  runDatasets,
  runs,
  suites,
  suiteVersions,
  verdicts,
} from '../db/schema/index.ts';
import { AppError } from '../http/errors.ts';
import type { Leaderboard, LeaderboardQuery, LeaderboardRow } from '../schemas/leaderboard.ts';
import { answeredWindow, percentile } from './serving-figures.ts';

type Suite = Leaderboard['suites'][number] & { versionId: number };
interface Aggregate {
  value?: number;
  low?: number;
  high?: number;
  n?: number;
}
type Interval = { value: number; low: number; high: number };

/** A list of ids as one parameter, so a board of any size is one statement of fixed shape. */
const anyOf = (column: unknown, ids: (string | number)[], type: 'uuid' | 'bigint') =>
  sql`${column} = any(string_to_array(${ids.join(',')}, ',')::${sql.raw(type)}[])`;

/** The serving window of the board's column: as the serving statistics' default. */
const SERVED_WINDOW = 1000;

/**
 * Each version's serving figures over its latest answered requests, as a lateral join of the
 * versions query: an unserved version costs one index probe, and the board no extra query.
 */
function servedFigures(db: Db) {
  const w = answeredWindow(db, modelVersions.id, SERVED_WINDOW);
  // Pooled as the serving statistics do: all tokens over all generation time.
  const rate = sql`sum(${w.completionTokens}) / nullif(sum(${w.totalMs}) / 1000, 0)`;
  return db
    .select({
      requests: sql<number>`count(*)::int`.as('served_requests'),
      p50Ms: percentile(0.5, w.totalMs).as('served_p50'),
      p95Ms: percentile(0.95, w.totalMs).as('served_p95'),
      tokensPerSecond: sql<number | null>`round((${rate})::numeric, 2)::float8`.as('served_tps'),
    })
    .from(w)
    .as('served');
}

/** The newest version of each active suite, by name: the board's columns. */
async function activeSuites(db: Db, projectId: number): Promise<Suite[]> {
  const rows = await db
    .selectDistinctOn([suites.id], {
      name: suites.name,
      purpose: suites.purpose,
      metrics: suiteVersions.metrics,
      version: suiteVersions.version,
      versionId: suiteVersions.id,
    })
    .from(suites)
    .innerJoin(suiteVersions, eq(suiteVersions.suiteId, suites.id))
    .where(and(eq(suites.projectId, projectId), eq(suites.active, true)))
    .orderBy(asc(suites.id), desc(suiteVersions.version));
  return rows
    .map(({ metrics, ...s }) => ({ ...s, metric: (metrics as string[])[0]! }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Per checkpoint and suite version, the primary metric's aggregate of the newest finished run. */
async function primaryAggregates(db: Db, projectId: number, suiteList: Suite[]) {
  // By checkpoint, then suite version: one lookup per row instead of a string key per cell.
  const byCheckpoint = new Map<string, Map<number, Aggregate>>();
  if (!suiteList.length) return byCheckpoint;
  const rows = await db
    .selectDistinctOn([evaluations.checkpointId, evaluations.suiteVersionId], {
      checkpointId: evaluations.checkpointId,
      suiteVersionId: evaluations.suiteVersionId,
      aggregate: sql<Aggregate | null>`${evaluations.aggregates} -> (${suiteVersions.metrics} ->> 0)`,
    })
    .from(evaluations)
    .innerJoin(suiteVersions, eq(suiteVersions.id, evaluations.suiteVersionId))
    .where(
      and(
        eq(evaluations.projectId, projectId),
        eq(evaluations.status, 'finished'),
        inArray(
          evaluations.suiteVersionId,
          suiteList.map((s) => s.versionId),
        ),
      ),
    )
    .orderBy(
      asc(evaluations.checkpointId),
      asc(evaluations.suiteVersionId),
      sql`${evaluations.finishedAt} desc nulls last`,
      desc(evaluations.createdAt),
    );
  for (const r of rows) {
    if (!r.aggregate) continue;
    let of = byCheckpoint.get(r.checkpointId);
    if (!of) byCheckpoint.set(r.checkpointId, (of = new Map()));
    of.set(r.suiteVersionId, r.aggregate);
  }
  return byCheckpoint;
}

/**
 * The root base of each checkpoint, as `rootBase` finds it (up the base checkpoints to one no run
 * produced, else the shipped base), in one recursive query instead of one walk per row.
 */
async function rootBases(db: Db, projectId: number, ids: string[]) {
  const roots = new Map<string, { id: string; name: string | null }>();
  if (!ids.length) return roots;
  const walked = (await db.execute(sql`
    with recursive walk as (
      select c.id as start, c.id, c.run_id, c.base_checkpoint_id, c.name, 0 as hops
      from checkpoints c where ${anyOf(sql`c.id`, ids, 'uuid')}
      union all
      select w.start, p.id, p.run_id, p.base_checkpoint_id, p.name, w.hops + 1
      from walk w join checkpoints p on p.id = w.base_checkpoint_id
      where w.run_id is not null and w.hops < 100
    )
    select distinct on (start) start, id, run_id, name from walk order by start, hops desc
  `)) as unknown as { start: string; id: string; run_id: string | null; name: string | null }[];
  let builtin: { id: string; name: string | null } | undefined;
  if (walked.some((w) => w.run_id))
    [builtin] = await db
      .select({ id: checkpoints.id, name: checkpoints.name })
      .from(checkpoints)
      .where(
        and(
          eq(checkpoints.projectId, projectId),
          isNull(checkpoints.runId),
          eq(checkpoints.storageKey, builtinStorageKey('tiny-base')),
        ),
      );
  for (const w of walked) {
    const root = w.run_id ? builtin : { id: w.id, name: w.name };
    if (root) roots.set(w.start, root);
  }
  return roots;
}

/** The run's plugin name, with the method for plugins that hold several; 'base' without a run. */
function methodOf(runId: string | null, plugin: string | null, config: unknown): string {
  if (!runId) return 'base';
  if (!plugin) return 'external';
  const name = plugin.split('@')[0]!;
  const method = (config as { method?: unknown } | null)?.method;
  return (name === 'peft' || name === 'rlhf') && typeof method === 'string'
    ? `${name}:${method}`
    : name;
}

/** How many of `sortedAsc` are strictly greater than x. */
function countAbove(sortedAsc: number[], x: number): number {
  let lo = 0;
  let hi = sortedAsc.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sortedAsc[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return sortedAsc.length - lo;
}

type Entry = {
  row: LeaderboardRow;
  aggregates: Map<number, Aggregate>;
  baseAggregates: Map<number, Aggregate>;
};

/**
 * Scores, deltas vs base, min-max normalisation per suite, the average and retention of each row:
 * all over the whole board, so filtering never changes a row's numbers.
 */
function score(entries: Entry[], suiteList: Suite[]) {
  const interval = (a: Aggregate | undefined): Interval | null =>
    a && Number.isFinite(a.value)
      ? { value: a.value!, low: a.low ?? a.value!, high: a.high ?? a.value! }
      : null;
  // Running sums of each row's normalised value, low and high, and how many suites scored it.
  const sums = entries.map(() => ({ n: 0, value: 0, low: 0, high: 0, retention: 0, retained: 0 }));
  const intervals: (Interval | null)[] = new Array(entries.length);
  for (const s of suiteList) {
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < entries.length; k++) {
      const i = interval(entries[k]!.aggregates.get(s.versionId));
      intervals[k] = i;
      if (i) {
        if (i.value < min) min = i.value;
        if (i.value > max) max = i.value;
      }
    }
    const range = max - min;
    // No spread: every row is as good as the best.
    const norm = (x: number) => (range > 0 ? (x - min) / range : 1);
    for (let k = 0; k < entries.length; k++) {
      const i = intervals[k];
      if (!i) continue;
      const e = entries[k]!;
      const base = interval(e.baseAggregates.get(s.versionId));
      const delta = base ? i.value - base.value : null;
      e.row.scores[s.name] = {
        ...i,
        n: e.aggregates.get(s.versionId)!.n ?? 0,
        delta,
        normalised: norm(i.value),
      };
      const sum = sums[k]!;
      sum.n++;
      sum.value += norm(i.value);
      sum.low += norm(i.low);
      sum.high += norm(i.high);
      if (s.purpose === 'retention' && delta !== null) {
        sum.retention += delta;
        sum.retained++;
      }
    }
  }
  entries.forEach((e, k) => {
    const sum = sums[k]!;
    e.row.suitesScored = sum.n;
    e.row.average = sum.n
      ? { value: sum.value / sum.n, low: sum.low / sum.n, high: sum.high / sum.n }
      : null;
    e.row.retention = sum.retained ? sum.retention / sum.retained : null;
  });
}

/**
 * Sorts highest first (rows without a score last) and ranks over the whole board. `rank` counts
 * the rows with a higher value; `rankUpperBound` is the best rank the intervals allow, 1 + the rows
 * whose low exceeds this row's high (those are surely ahead).
 */
function rank(rows: LeaderboardRow[], sort: string) {
  const key = (r: LeaderboardRow): Interval | null =>
    sort === 'average' ? r.average : (r.scores[sort.slice('suite:'.length)] ?? null);
  const values = rows.flatMap((r) => key(r)?.value ?? []).sort((a, b) => a - b);
  const lows = rows.flatMap((r) => key(r)?.low ?? []).sort((a, b) => a - b);
  for (const r of rows) {
    const k = key(r);
    r.rank = k ? 1 + countAbove(values, k.value) : null;
    r.rankUpperBound = k ? 1 + countAbove(lows, k.high) : null;
  }
  const label = (r: LeaderboardRow) =>
    `${r.model ?? '~'}\u0000${r.version ?? 0}\u0000${r.checkpointId}`;
  rows.sort(
    (a, b) =>
      (a.rank ?? Infinity) - (b.rank ?? Infinity) ||
      (label(a) < label(b) ? -1 : label(a) > label(b) ? 1 : 0),
  );
}

const encodeToken = (o: string, offset: number) =>
  Buffer.from(JSON.stringify({ o, offset })).toString('base64url');

function decodeToken(token: string, o: string): number {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      o: unknown;
      offset: unknown;
    };
    if (t.o === o && Number.isSafeInteger(t.offset) && (t.offset as number) >= 0)
      return t.offset as number;
  } catch {
    // fall through
  }
  throw new AppError(400, 'bad_request', 'pageToken: not a token this server issued for this view');
}

/**
 * The project's leaderboard: a row per model version (and, with `include: 'checkpoints'`, per
 * evaluated checkpoint outside the registry) scored on the newest version of each active suite.
 * A fixed number of queries whatever the board's size (at most 9, serving figures included); the
 * board is built, normalised and ranked whole, then filtered and paged (the page token is an
 * offset into that order).
 *
 * @example
 * const board = await leaderboard(db, project.id, { sort: 'average', limit: 100 });
 */
export async function leaderboard(
  db: Db,
  projectId: number,
  q: LeaderboardQuery,
): Promise<Leaderboard> {
  const suiteList = await activeSuites(db, projectId);
  if (q.sort !== 'average' && !suiteList.some((s) => `suite:${s.name}` === q.sort))
    throw new AppError(400, 'bad_request', `sort: no active suite "${q.sort.slice(6)}"`);
  const offset = q.pageToken ? decodeToken(q.pageToken, viewKey(q)) : 0;

  const served = servedFigures(db);
  const [versions, aggregates] = await Promise.all([
    db
      .select({
        id: modelVersions.id,
        model: models.name,
        version: modelVersions.version,
        checkpointId: modelVersions.checkpointId,
        runId: modelVersions.runId,
        served: {
          requests: served.requests,
          p50Ms: served.p50Ms,
          p95Ms: served.p95Ms,
          tokensPerSecond: served.tokensPerSecond,
        },
      })
      .from(modelVersions)
      .innerJoin(models, eq(models.id, modelVersions.modelId))
      .leftJoinLateral(served, sql`true`)
      .where(eq(models.projectId, projectId)),
    primaryAggregates(db, projectId, suiteList),
  ]);
  const registered = new Set(versions.map((v) => v.checkpointId));
  const extra = q.include ? [...aggregates.keys()].filter((id) => !registered.has(id)) : [];
  const ids = [...registered, ...extra];
  const [details, roots] = await Promise.all([
    ids.length
      ? db
          .select({
            id: checkpoints.id,
            name: checkpoints.name,
            runId: checkpoints.runId,
            trainableParams: checkpoints.trainableParams,
            totalParams: checkpoints.totalParams,
            plugin: runs.plugin,
            config: runs.config,
          })
          .from(checkpoints)
          .leftJoin(runs, eq(runs.id, checkpoints.runId))
          .where(anyOf(checkpoints.id, ids, 'uuid'))
      : Promise.resolve([]),
    rootBases(db, projectId, ids),
  ]);
  const detailOf = new Map(details.map((d) => [d.id, d]));
  const runIds = [...new Set(details.flatMap((d) => d.runId ?? []))];
  const [aliasRows, verdictRows, datasetRows] = await Promise.all([
    db
      .select({ versionId: modelAliases.modelVersionId, alias: modelAliases.alias })
      .from(modelAliases)
      .innerJoin(models, eq(models.id, modelAliases.modelId))
      .where(eq(models.projectId, projectId))
      .orderBy(asc(modelAliases.alias)),
    db
      .selectDistinctOn([verdicts.modelVersionId], {
        versionId: verdicts.modelVersionId,
        outcome: verdicts.outcome,
        gate: gates.name,
        gateVersion: gates.version,
        createdAt: verdicts.createdAt,
      })
      .from(verdicts)
      .innerJoin(gates, eq(gates.id, verdicts.gateId))
      .where(eq(gates.projectId, projectId))
      .orderBy(asc(verdicts.modelVersionId), desc(verdicts.createdAt)),
    runIds.length
      ? db
          .select({
            runId: runDatasets.runId,
            name: datasets.name,
            version: datasetVersions.version,
          })
          .from(runDatasets)
          .innerJoin(datasetVersions, eq(datasetVersions.id, runDatasets.datasetVersionId))
          .innerJoin(datasets, eq(datasets.id, datasetVersions.datasetId))
          .where(and(anyOf(runDatasets.runId, runIds, 'uuid'), eq(runDatasets.role, 'train')))
          .orderBy(asc(datasets.name), asc(datasetVersions.version))
      : Promise.resolve([]),
  ]);

  const aliasesOf = group(
    aliasRows,
    (a) => a.versionId,
    (a) => a.alias,
  );
  const datasetsOf = group(
    datasetRows,
    (d) => d.runId,
    (d) => `${d.name}@${d.version}`,
  );
  const verdictOf = new Map(verdictRows.map((v) => [v.versionId, v]));
  const registryLabel = new Map<string, string>();
  for (const v of versions) registryLabel.set(v.checkpointId, `${v.model}@v${v.version}`);
  const none = new Map<number, Aggregate>();
  const aggregatesOf = (checkpointId: string | undefined) =>
    (checkpointId && aggregates.get(checkpointId)) || none;

  const entries: Entry[] = [
    ...versions.map((v) => ({ ...v, versionId: v.id as number | null })),
    ...extra.map((checkpointId) => ({
      versionId: null,
      model: null,
      version: null,
      checkpointId,
      runId: null,
      served: null,
    })),
  ].map((v) => {
    const d = detailOf.get(v.checkpointId);
    const runId = v.runId ?? d?.runId ?? null;
    const root = roots.get(v.checkpointId);
    const verdict = v.versionId === null ? undefined : verdictOf.get(v.versionId);
    return {
      aggregates: aggregatesOf(v.checkpointId),
      baseAggregates: aggregatesOf(root?.id),
      row: {
        rank: null,
        rankUpperBound: null,
        model: v.model,
        version: v.version,
        checkpointId: v.checkpointId,
        checkpointName: d?.name ?? null,
        runId,
        aliases: v.versionId === null ? [] : (aliasesOf.get(v.versionId) ?? []),
        method: methodOf(d?.runId ?? null, d?.plugin ?? null, d?.config),
        base: root
          ? {
              checkpointId: root.id,
              label: registryLabel.get(root.id) ?? root.name ?? root.id.slice(0, 8),
            }
          : null,
        trainableParams: d?.trainableParams ?? null,
        totalParams: d?.totalParams ?? null,
        datasets: runId ? (datasetsOf.get(runId) ?? []) : [],
        scores: {},
        average: null,
        suitesScored: 0,
        retention: null,
        serving: servingOf(v.served),
        verdict: verdict
          ? {
              outcome: verdict.outcome,
              gate: verdict.gate,
              gateVersion: verdict.gateVersion,
              createdAt: verdict.createdAt.toISOString(),
            }
          : null,
      },
    };
  });
  score(entries, suiteList);
  const rows = entries.map((e) => e.row);
  rank(rows, q.sort);

  const shown = rows.filter((r) => matches(r, q));
  const page = shown.slice(offset, offset + q.limit);
  return {
    suites: suiteList.map(({ name, purpose, metric, version }) => ({
      name,
      purpose,
      metric,
      version,
    })),
    sort: q.sort,
    total: shown.length,
    rows: page,
    nextPageToken:
      offset + q.limit < shown.length ? encodeToken(viewKey(q), offset + q.limit) : null,
  };
}

function servingOf(
  s: {
    requests: number | null;
    p50Ms: number | null;
    p95Ms: number | null;
    tokensPerSecond: number | null;
  } | null,
): LeaderboardRow['serving'] {
  if (!s?.requests || s.p50Ms === null || s.p95Ms === null) return null;
  return {
    requests: s.requests,
    p50Ms: s.p50Ms,
    p95Ms: s.p95Ms,
    ...(s.tokensPerSecond !== null && { tokensPerSecond: s.tokensPerSecond }),
  };
}

/** Whether a row passes the view's filters (they hide rows; ranks stay the whole board's). */
function matches(r: LeaderboardRow, q: LeaderboardQuery): boolean {
  const search = q.search?.toLowerCase();
  const dataset = q.dataset?.includes('@') ? q.dataset : q.dataset && `${q.dataset}@`;
  return (
    (!q.method || r.method === q.method || r.method.startsWith(`${q.method}:`)) &&
    (!search || (r.model ?? r.checkpointName ?? '').toLowerCase().includes(search)) &&
    (!q.base ||
      r.base?.checkpointId === q.base ||
      (r.base?.label.toLowerCase().includes(q.base.toLowerCase()) ?? false)) &&
    (!dataset ||
      r.datasets.some((d) => (dataset.endsWith('@') ? d.startsWith(dataset) : d === dataset))) &&
    (!q.gate || (r.verdict?.outcome ?? 'none') === q.gate)
  );
}

/** A page token continues only the view (sort, filters) it was issued for. */
const viewKey = (q: LeaderboardQuery) =>
  JSON.stringify([
    q.sort,
    q.method ?? '',
    q.search ?? '',
    q.base ?? '',
    q.dataset ?? '',
    q.gate ?? '',
    q.include ?? '',
  ]);

function group<T, K, V>(rows: T[], key: (r: T) => K, value: (r: T) => V): Map<K, V[]> {
  const out = new Map<K, V[]>();
  for (const r of rows) {
    const list = out.get(key(r));
    if (list) list.push(value(r));
    else out.set(key(r), [value(r)]);
  }
  return out;
}
