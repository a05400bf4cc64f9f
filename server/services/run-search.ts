import type postgres from 'postgres';
import type { Sql } from '../db/client.ts';
import type { SearchRuns } from '../schemas/runs.ts';
import { likePattern } from './like-pattern.ts';
import { cursorField, decodePageToken, encodePageToken } from './page-token.ts';

type Fragment = postgres.PendingQuery<postgres.Row[]>;

/**
 * The sort position of the last row of a page. `v` is the sort value (null when the run lacks the
 * metric or param being sorted on: those come last), `id` breaks ties.
 */
interface Cursor extends Record<string, unknown> {
  v: string | null;
  id: string;
}

// What a sort value of each kind looks like as Postgres prints it: anything else in a token was
// not issued by us, and must be a 400 here rather than a failed cast in the query.
const sortValueShape: Record<SearchRuns['orderBy']['field'], (x: unknown) => boolean> = {
  createdAt: cursorField.timestamp,
  startedAt: cursorField.timestamp,
  endedAt: cursorField.timestamp,
  metric: cursorField.float8,
  name: cursorField.text,
  param: cursorField.text,
  tag: cursorField.text,
};

const decodeCursor = (token: string, order: SearchRuns['orderBy'], field: string) =>
  decodePageToken<Cursor>(
    token,
    orderKey(order),
    { v: (v) => v === null || sortValueShape[order.field](v), id: cursorField.uuid },
    field,
  );

/** A token only continues the ordering it was issued for. */
const orderKey = (o: SearchRuns['orderBy']) => `${o.field}:${o.key ?? ''}:${o.direction}`;

const ops = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' } as const;
const textOps = { '=': '=', '!=': '=', like: 'like', ilike: 'ilike' } as const;
/** The right-hand side of a text comparison: LIKE patterns made ones Postgres accepts. */
const operand = (op: keyof typeof textOps, value: string) =>
  op === 'like' || op === 'ilike' ? likePattern(value) : value;

/**
 * Which runs a search sees: `active` (the default) hides deleted runs and the runs of deleted
 * projects; `deleted` shows only those; `all` both. heldout's own API only searches active runs;
 * the MLflow adapter asks for the others (its run_view_type).
 */
export type RunView = 'active' | 'deleted' | 'all';

export interface SearchOptions {
  view?: RunView;
  /** How the caller's API names the page token, for its 400 (MLflow's `page_token`). */
  tokenField?: string;
}

/**
 * Run ids of a project (or several) matching the filters, in the requested order, one keyset page
 * at a time. Filters on latest metric values read `metric_series` (one row per run and key), never
 * the points. `!=` on a param or tag also matches runs without it.
 */
export async function searchRunIds(
  sql: Sql,
  projectId: number | readonly number[],
  q: SearchRuns,
  { view = 'active', tokenField = 'pageToken' }: SearchOptions = {},
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
        : sql`r.name ${sql.unsafe(textOps[n.op])} ${operand(n.op, n.value)}`,
    );
  if (q.ids) where.push(sql`r.id = any(${q.ids}::uuid[])`);
  if (q.excludeIds?.length) where.push(sql`not (r.id = any(${q.excludeIds}::uuid[]))`);
  for (const t of q.times ?? []) {
    const column =
      t.field === 'endedAt' ? sql`r.ended_at` : sql`coalesce(r.started_at, r.created_at)`;
    where.push(sql`${column} ${sql.unsafe(ops[t.op])} to_timestamp(${t.value}::float8 / 1000)`);
  }
  for (const p of q.params ?? []) {
    const match = sql`exists (select 1 from run_params p where p.run_id = r.id and p.key = ${p.key} and p.value ${sql.unsafe(textOps[p.op])} ${operand(p.op, p.value)})`;
    where.push(p.op === '!=' ? sql`not ${match}` : match);
  }
  for (const t of q.tags ?? []) {
    if (t.op === 'exists')
      where.push(sql`exists (select 1 from run_tags t where t.run_id = r.id and t.key = ${t.key})`);
    else {
      const match = sql`exists (select 1 from run_tags t where t.run_id = r.id and t.key = ${t.key} and t.value ${sql.unsafe(textOps[t.op])} ${operand(t.op, t.value ?? '')})`;
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
    const c = decodeCursor(q.pageToken, q.orderBy, tokenField);
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
      more && last ? encodePageToken(orderKey(q.orderBy), { v: last.v, id: last.id }) : null,
  };
}

function joinAnd(sql: Sql, parts: Fragment[]): Fragment {
  return parts.reduce((acc, part, i) => (i === 0 ? part : sql`${acc} and ${part}`));
}
