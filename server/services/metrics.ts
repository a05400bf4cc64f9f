import type { Sql } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { AppError, notFound } from '../http/errors.ts';
import type { LogMetrics, MetricBuckets, MetricSummary } from '../schemas/metrics.ts';
import { decodeValue, encodeValue } from './metric-values.ts';
import { cursorField, decodePageToken, encodePageToken } from './page-token.ts';

interface SeriesBatch {
  key: string;
  steps: number[];
  values: number[];
  walls: number[];
  lastStep: number;
  lastValue: number;
  lastWall: number;
  min: number;
  max: number;
}

/** Groups a batch by key; a (key, step) sent twice keeps its last value, as a re-log would. */
function groupBatch(points: LogMetrics['metrics'], now: number): SeriesBatch[] {
  const byKey = new Map<string, Map<number, { value: number; wall: number }>>();
  for (const p of points) {
    let steps = byKey.get(p.key);
    if (!steps) byKey.set(p.key, (steps = new Map()));
    steps.set(p.step, { value: decodeValue(p.value), wall: p.timestamp ?? now });
  }
  // Sorted keys give every transaction the same lock order on metric_series: no deadlocks.
  return [...byKey.keys()].sort().map((key) => {
    const entries = [...byKey.get(key)!.entries()].sort((a, b) => a[0] - b[0]);
    const finite = entries.map(([, v]) => v.value).filter((v) => !Number.isNaN(v));
    const [lastStep, last] = entries[entries.length - 1]!;
    return {
      key,
      steps: entries.map(([s]) => s),
      values: entries.map(([, v]) => v.value),
      walls: entries.map(([, v]) => v.wall),
      lastStep,
      lastValue: last.value,
      lastWall: last.wall,
      min: finite.length ? Math.min(...finite) : Number.NaN,
      max: finite.length ? Math.max(...finite) : Number.NaN,
    };
  });
}

/**
 * Array literals built here rather than by the driver: for the thousands of elements of a batch,
 * joining numbers is several times cheaper than per-element serialisation, and NaN and the
 * infinities come out spelled the way Postgres reads them.
 */
const arrayLiteral = (values: readonly number[]) => `{${values.join(',')}}`;
const textArrayLiteral = (values: readonly string[]) =>
  `{${values.map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')}}`;

/** What one run may hold; see HELDOUT_MAX_METRIC_KEYS. */
export interface MetricLimits {
  maxKeys: number;
}

/**
 * Stores a batch of points all-or-nothing, in one statement (one round trip, one commit).
 * Re-logging a (key, step) overwrites it, so a client retrying a batch it never got an answer for
 * changes nothing. Each series keeps its latest point (by step) and its extremes (NaN ignored) for
 * run search. A batch that brings a run past `limits.maxKeys` distinct keys is refused (400, and
 * nothing of it is stored); points for keys the run already has are always taken.
 *
 * @example
 * await logMetrics(sql, runId, [{ key: 'loss', step: 10, value: 2.31 }], { maxKeys: 10_000 });
 */
export async function logMetrics(
  sql: Sql,
  runId: string,
  points: LogMetrics['metrics'],
  limits: MetricLimits,
): Promise<number> {
  const batches = groupBatch(points, Date.now());
  const ord: number[] = [];
  const steps: number[] = [];
  const values: number[] = [];
  const walls: number[] = [];
  batches.forEach((b, i) => {
    for (let j = 0; j < b.steps.length; j++) ord.push(i + 1);
    steps.push(...b.steps);
    values.push(...b.values);
    walls.push(...b.walls);
  });
  const keys = textArrayLiteral(batches.map((b) => b.key));
  // New points are the common case and a plain insert is markedly cheaper than an upsert; a batch
  // that re-logs a stored step fails as a whole (nothing of it stays) and is then upserted.
  // With `onlyKnownKeys` the statement writes nothing at all when the batch names a key the run
  // does not have yet, and says so (`fresh`): new keys then take the counted path below.
  const write = async (db: Sql, upsert: boolean, onlyKnownKeys: boolean) => {
    const [row] = await db<{ fresh: boolean }[]>`
    with k as (
      select * from unnest(
        ${keys}::text[], ${arrayLiteral(batches.map((b) => b.lastStep))}::int8[],
        ${arrayLiteral(batches.map((b) => b.lastValue))}::float8[], ${arrayLiteral(batches.map((b) => b.lastWall))}::int8[],
        ${arrayLiteral(batches.map((b) => b.min))}::float8[], ${arrayLiteral(batches.map((b) => b.max))}::float8[]
      ) with ordinality as k(key, last_step, last_value, last_wall_time, min_value, max_value, ord)
    ), fresh as (
      select ${onlyKnownKeys}::bool and exists (
        select 1 from k where not exists (
          select 1 from metric_series m where m.run_id = ${runId} and m.key = k.key)) as fresh
    ), s as (
      insert into metric_series as s (run_id, key, last_step, last_value, last_wall_time, min_value, max_value)
      select ${runId}, key, last_step, last_value, last_wall_time, min_value, max_value from k
      where not (select fresh from fresh) order by ord
      on conflict (run_id, key) do update set
        last_value = case when excluded.last_step >= s.last_step then excluded.last_value else s.last_value end,
        last_wall_time = case when excluded.last_step >= s.last_step then excluded.last_wall_time else s.last_wall_time end,
        last_step = greatest(s.last_step, excluded.last_step),
        -- Postgres orders NaN above every number: least() already skips it, greatest() must not.
        min_value = case when s.min_value = 'NaN' then excluded.min_value else least(s.min_value, excluded.min_value) end,
        max_value = case when excluded.max_value = 'NaN' then s.max_value
                         when s.max_value = 'NaN' then excluded.max_value
                         else greatest(s.max_value, excluded.max_value) end
      returning s.id, s.key
    ), p as (
      insert into metric_points (series_id, step, value, wall_time)
      select s.id, p.step, p.value, p.wall_time
      from unnest(${arrayLiteral(ord)}::int8[], ${arrayLiteral(steps)}::int8[], ${arrayLiteral(values)}::float8[],
                  ${arrayLiteral(walls)}::int8[]) as p(ord, step, value, wall_time)
      join k on k.ord = p.ord join s on s.key = k.key
      ${upsert ? db`on conflict (series_id, step) do update set value = excluded.value, wall_time = excluded.wall_time` : db``}
    )
    select fresh from fresh`;
    return row!.fresh;
  };
  let fresh: boolean;
  try {
    fresh = await write(sql, false, true);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    fresh = await write(sql, true, true);
  }
  if (fresh)
    await addKeys(sql, runId, { keys, count: batches.length }, limits, (tx) =>
      write(tx, true, false),
    );
  return steps.length;
}

/**
 * Writes a batch that brings new keys, after counting the run's keys against the cap. Such writes
 * of one run take turns on its row (a lock that plain point writes never take, so they go on), or
 * concurrent batches could each see room for their own keys and pass the cap together.
 */
async function addKeys(
  sql: Sql,
  runId: string,
  batch: { keys: string; count: number },
  { maxKeys }: MetricLimits,
  write: (tx: Sql) => Promise<unknown>,
) {
  await sql.begin(async (tx) => {
    await tx`select 1 from runs where id = ${runId} for no key update`;
    const [count] = await tx<{ total: number; present: number }[]>`
      select count(*)::int as total, count(*) filter (where key = any(${batch.keys}::text[]))::int as present
      from metric_series where run_id = ${runId}`;
    const added = batch.count - count!.present;
    if (count!.total + added > maxKeys)
      throw new AppError(
        400,
        'bad_request',
        `metrics: a run may log at most ${maxKeys} distinct metric keys (HELDOUT_MAX_METRIC_KEYS); run ${runId} has ${count!.total} and this batch adds ${added}. Points for keys it already has are still taken`,
        { maxKeys, keys: count!.total, adding: added },
      );
    await write(tx as unknown as Sql);
  });
}

/**
 * One page of a run's metrics (latest value and extremes of each key) in key order. `truncated`
 * says more keys follow, and `nextPageToken` continues after the last one.
 *
 * @example
 * const { metrics, nextPageToken } = await listMetrics(sql, runId, { limit: 1000 });
 */
export async function listMetrics(
  sql: Sql,
  runId: string,
  q: { limit: number; pageToken?: string },
): Promise<{ metrics: MetricSummary[]; truncated: boolean; nextPageToken: string | null }> {
  const view = `metrics:${runId}`;
  const after = q.pageToken
    ? decodePageToken<{ after: string }>(q.pageToken, view, { after: cursorField.text }).after
    : undefined;
  const rows = await sql<
    {
      key: string;
      last_step: number;
      last_value: number;
      last_wall_time: number;
      min_value: number;
      max_value: number;
    }[]
  >`
    select key, last_step, last_value, last_wall_time, min_value, max_value
    from metric_series where run_id = ${runId} ${after === undefined ? sql`` : sql`and key > ${after}`}
    order by key
    limit ${q.limit + 1}`;
  const page = rows.slice(0, q.limit);
  const truncated = rows.length > q.limit;
  return {
    metrics: page.map((r) => ({
      key: r.key,
      lastStep: r.last_step,
      lastValue: encodeValue(r.last_value),
      lastWallTime: r.last_wall_time,
      min: encodeValue(r.min_value),
      max: encodeValue(r.max_value),
    })),
    truncated,
    nextPageToken: truncated ? encodePageToken(view, { after: page.at(-1)!.key }) : null,
  };
}

async function seriesId(sql: Sql, runId: string, key: string): Promise<number> {
  const [row] = await sql<
    { id: number }[]
  >`select id from metric_series where run_id = ${runId} and key = ${key}`;
  if (!row) throw notFound(`metric "${key}" on run ${runId}`);
  return row.id;
}

const lowest = Number.MIN_SAFE_INTEGER;
const highest = Number.MAX_SAFE_INTEGER;

/**
 * One page of a metric's points in step order, as the JSON text of a MetricHistory.
 *
 * A long curve is the one read that moves a lot of data, so Postgres renders the three columns as
 * JSON array bodies itself (one text value each): decoding 100,000 rows in the driver and
 * re-encoding them cost several times more. The page subquery's order feeds the aggregates (no
 * join or grouping sits between them); values JSON cannot hold come out as "NaN", "Infinity".
 */
export async function metricHistoryJson(
  sql: Sql,
  runId: string,
  q: { key: string; minStep?: number; maxStep?: number; afterStep?: number; limit: number },
): Promise<string> {
  const id = await seriesId(sql, runId, q.key);
  const from = Math.max(q.minStep ?? lowest, q.afterStep === undefined ? lowest : q.afterStep + 1);
  const to = q.maxStep ?? highest;
  const [page] = await sql<
    { last_step: number | null; more: boolean; steps: string; vals: string; walls: string }[]
  >`
    with page as (
      select step, value, wall_time from metric_points
      where series_id = ${id} and step >= ${from} and step <= ${to}
      order by step limit ${q.limit}
    ), body as (
      select max(step) as last_step,
             coalesce(string_agg(step::text, ','), '') as steps,
             coalesce(string_agg(case when value in ('NaN', 'Infinity', '-Infinity') then '"' || value::text || '"'
                                      else value::text end, ','), '') as vals,
             coalesce(string_agg(wall_time::text, ','), '') as walls
      from page
    )
    select body.*, exists (select 1 from metric_points m
                           where m.series_id = ${id} and m.step > body.last_step and m.step <= ${to}) as more
    from body`;
  const next = page!.more ? page!.last_step : null;
  return `{"key":${JSON.stringify(q.key)},"steps":[${page!.steps}],"values":[${page!.vals}],"wallTimes":[${page!.walls}],"nextAfterStep":${next}}`;
}

/**
 * Min, max and last value per step bucket, computed by Postgres over the (series, step) index: a
 * chart of a million-point curve costs one small answer, and zooming is asking again with a
 * narrower step window.
 */
export async function metricBuckets(
  sql: Sql,
  runId: string,
  q: { key: string; minStep?: number; maxStep?: number; buckets: number },
): Promise<MetricBuckets> {
  const id = await seriesId(sql, runId, q.key);
  const [lo, hi] = [q.minStep ?? lowest, q.maxStep ?? highest];
  // Two index probes give the window's real extent, so buckets split the steps that exist.
  const [bounds] = await sql<{ first: number | null; last: number | null }[]>`
    select min(step) as first, max(step) as last from metric_points
    where series_id = ${id} and step between ${lo} and ${hi}`;
  if (bounds?.first == null || bounds.last == null) return { key: q.key, buckets: [] };
  const span = bounds.last - bounds.first + 1;
  const rows = await sql<
    {
      step_min: number;
      step_max: number;
      n: number;
      min: number | null;
      max: number | null;
      last: number;
      wall_time: number;
    }[]
  >`
    with a as (
      select min(step) as step_min, max(step) as step_max, count(*)::int as n,
             min(value) filter (where value <> 'NaN') as min,
             max(value) filter (where value <> 'NaN') as max
      from (select step, value, floor((step - ${bounds.first}::int8)::float8 * ${q.buckets}::float8 / ${span}::float8)::int4 as bucket
            from metric_points where series_id = ${id} and step between ${bounds.first} and ${bounds.last}) x
      group by bucket
    )
    -- A bucket's last value is one index probe at its last step: far cheaper than ordering every
    -- bucket's values to take the first.
    select a.*, l.value as last, l.wall_time
    from a cross join lateral (
      select m.value, m.wall_time from metric_points m where m.series_id = ${id} and m.step = a.step_max
    ) l order by a.step_min`;
  return {
    key: q.key,
    buckets: rows.map((r) => ({
      stepMin: r.step_min,
      stepMax: r.step_max,
      count: r.n,
      min: r.min === null ? null : encodeValue(r.min),
      max: r.max === null ? null : encodeValue(r.max),
      last: encodeValue(r.last),
      wallTime: Number(r.wall_time),
    })),
  };
}
