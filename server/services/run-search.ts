import type postgres from 'postgres';
import type { Sql } from '../db/client.ts';
import { AppError } from '../http/errors.ts';
import type { SearchRuns } from '../schemas/runs.ts';

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * The sort position of the last row of a page. `v` is the sort value (null when the run lacks the
 * metric or param being sorted on: those come last), `id` breaks ties.
 */
interface Cursor {
  o: string;
  v: string | null;
  id: string;
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

// What a sort value of each kind looks like as Postgres prints it: anything else in a token was
// not issued by us, and must be a 400 here rather than a failed cast in the query.
const timestampShape = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2})?$/;
const sortValueShape: Record<SearchRuns['orderBy']['field'], RegExp> = {
  createdAt: timestampShape,
  startedAt: timestampShape,
  endedAt: timestampShape,
  metric: /^(NaN|-?Infinity|-?\d+(\.\d+)?(e[+-]?\d+)?)$/,
  name: /^/,
  param: /^/,
  tag: /^/,
};

function decodeCursor(token: string, order: SearchRuns['orderBy']): Cursor {
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Cursor;
    if (
      c.o === orderKey(order) &&
      typeof c.id === 'string' &&
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(c.id) &&
      (c.v === null || (typeof c.v === 'string' && sortValueShape[order.field].test(c.v)))
    )
      return c;
  } catch {
    // fall through
  }
  throw new AppError(
    400,
    'bad_request',
    'pageToken: not a token this server issued for this order',
  );
}

/** A token only continues the ordering it was issued for. */
const orderKey = (o: SearchRuns['orderBy']) => `${o.field}:${o.key ?? ''}:${o.direction}`;

const ops = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' } as const;
const textOps = { '=': '=', '!=': '=', like: 'like', ilike: 'ilike' } as const;

/**
 * Which runs a search sees: `active` (the default) hides deleted runs and the runs of deleted
 * projects; `deleted` shows only those; `all` both. heldout's own API only searches active runs;
 * the MLflow adapter asks for the others (its run_view_type).
 */
export type RunView = 'active' | 'deleted' | 'all';

/**
 * Run ids of a project (or several) matching the filters, in the requested order, one keyset page
 * at a time. Filters on latest metric values read `metric_series` (one row per run and key), never
 * the points. `!=` on a param or tag also matches runs without it.
 */
export async function searchRunIds(
  sql: Sql,
  projectId: number | readonly number[],
  q: SearchRuns,
  view: RunView = 'active',
): Promise<{ ids: string[]; nextPageToken: string | null }> {
  const projectIds = typeof projectId === 'number' ? [projectId] : [...projectId];
  const dead = sql`(r.deleted_at is not null or exists (select 1 from projects pr where pr.id = r.project_id and pr.deleted_at is not null))`;
  const where: Fragment[] = [sql`r.project_id = any(${projectIds}::int8[])`];
  if (view !== 'all') where.push(view === 'deleted' ? dead : sql`not ${dead}`);
  if (q.status?.length) where.push(sql`r.status = any(${q.status}::run_status[])`);
  if (q.nameContains) where.push(sql`strpos(lower(r.name), lower(${q.nameContains})) > 0`);
  for (const n of q.names ?? [])
    where.push(
      n.op === '!='
        ? sql`r.name <> ${n.value}`
        : sql`r.name ${sql.unsafe(textOps[n.op])} ${n.value}`,
    );
  if (q.ids) where.push(sql`r.id = any(${q.ids}::uuid[])`);
  if (q.excludeIds?.length) where.push(sql`not (r.id = any(${q.excludeIds}::uuid[]))`);
  for (const t of q.times ?? []) {
    const column =
      t.field === 'endedAt' ? sql`r.ended_at` : sql`coalesce(r.started_at, r.created_at)`;
    where.push(sql`${column} ${sql.unsafe(ops[t.op])} to_timestamp(${t.value}::float8 / 1000)`);
  }
  for (const p of q.params ?? []) {
    const match = sql`exists (select 1 from run_params p where p.run_id = r.id and p.key = ${p.key} and p.value ${sql.unsafe(textOps[p.op])} ${p.value})`;
    where.push(p.op === '!=' ? sql`not ${match}` : match);
  }
  for (const t of q.tags ?? []) {
    if (t.op === 'exists')
      where.push(sql`exists (select 1 from run_tags t where t.run_id = r.id and t.key = ${t.key})`);
    else {
      const match = sql`exists (select 1 from run_tags t where t.run_id = r.id and t.key = ${t.key} and t.value ${sql.unsafe(textOps[t.op])} ${t.value ?? ''})`;
      where.push(t.op === '!=' ? sql`not ${match}` : match);
    }
  }
  for (const m of q.metrics ?? []) {
    where.push(sql`exists (select 1 from metric_series s where s.run_id = r.id and s.key = ${m.key}
                           and s.last_value ${sql.unsafe(ops[m.op])} ${m.value}::float8)`);
  }

  const { field, key, direction } = q.orderBy;
  const sortValue: Fragment =
    field === 'metric'
      ? sql`(select s.last_value from metric_series s where s.run_id = r.id and s.key = ${key!})`
      : field === 'param'
        ? sql`(select p.value from run_params p where p.run_id = r.id and p.key = ${key!})`
        : field === 'tag'
          ? sql`(select t.value from run_tags t where t.run_id = r.id and t.key = ${key!})`
          : field === 'name'
            ? sql`r.name`
            : field === 'startedAt'
              ? sql`coalesce(r.started_at, r.created_at)`
              : field === 'endedAt'
                ? sql`r.ended_at`
                : sql`r.created_at`;
  const cast =
    field === 'metric'
      ? sql`::float8`
      : field === 'createdAt' || field === 'startedAt' || field === 'endedAt'
        ? sql`::timestamptz`
        : sql`::text`;
  const dir = sql.unsafe(direction);
  const after = direction === 'asc' ? sql.unsafe('>') : sql.unsafe('<');

  let cursor: Fragment = sql`true`;
  if (q.pageToken) {
    const c = decodeCursor(q.pageToken, q.orderBy);
    // Rows without a sort value come last; within each group the (value, id) pair orders them.
    cursor =
      c.v === null
        ? sql`(x.v is null and x.id::text ${after} ${c.id})`
        : sql`(x.v is null or (x.v, x.id::text) ${after} (${c.v}${cast}, ${c.id}))`;
  }

  // The cursor keeps the sort value as Postgres prints it, so it reads back exactly
  // (microsecond timestamps, shortest round-trip floats).
  const rows = await sql<{ id: string; v: string | null }[]>`
    select x.id, x.v::text as v from (
      select r.id, ${sortValue} as v from runs r where ${joinAnd(sql, where)}
    ) x
    where ${cursor}
    order by (x.v is null), x.v ${dir}, x.id::text ${dir}
    limit ${q.limit + 1}`;
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  const last = page[page.length - 1];
  return {
    ids: page.map((r) => r.id),
    nextPageToken:
      more && last ? encodeCursor({ o: orderKey(q.orderBy), v: last.v, id: last.id }) : null,
  };
}

function joinAnd(sql: Sql, parts: Fragment[]): Fragment {
  return parts.reduce((acc, part, i) => (i === 0 ? part : sql`${acc} and ${part}`));
}
