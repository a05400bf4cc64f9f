import type { RunStatus, SearchRuns } from '../schemas/runs.ts';
import { MlflowError } from './errors.ts';
import { fromMlflowStatus, inEpochRange } from './tracking.ts';

/**
 * MLflow's search filter (`metrics.loss < 0.5 and params.lr = '0.1' and tags.x LIKE 'a%'`)
 * translated onto heldout's run search: the same engine answers both APIs. Clauses are joined by
 * AND only (MLflow has no OR either); a clause that does not parse is an INVALID_PARAMETER_VALUE
 * naming it.
 */

type Entity = 'metric' | 'param' | 'tag' | 'attribute';
type Value = string | number | string[];
interface Clause {
  entity: Entity;
  key: string;
  op: string;
  value: Value;
  text: string;
}

const entities: Record<string, Entity> = {
  metric: 'metric',
  metrics: 'metric',
  param: 'param',
  params: 'param',
  parameter: 'param',
  parameters: 'param',
  tag: 'tag',
  tags: 'tag',
  attribute: 'attribute',
  attributes: 'attribute',
  attr: 'attribute',
  run: 'attribute',
};

const invalid = (text: string, why: string) =>
  new MlflowError('INVALID_PARAMETER_VALUE', `Invalid clause '${text}' in filter: ${why}`);

/** Splits on AND outside quotes; refuses OR, which MLflow does not support either. */
function splitClauses(filter: string): string[] {
  const parts: string[] = [];
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < filter.length; i++) {
    const ch = filter[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') {
      quote = ch;
      continue;
    }
    const joint = /^\s+(and|or)\s+/i.exec(filter.slice(i));
    if (joint) {
      if (joint[1]!.toLowerCase() === 'or')
        throw new MlflowError(
          'INVALID_PARAMETER_VALUE',
          `Invalid filter '${filter}': OR is not supported, only AND`,
        );
      parts.push(filter.slice(start, i));
      i += joint[0].length - 1;
      start = i + 1;
    }
  }
  parts.push(filter.slice(start));
  return parts.map((p) => p.trim());
}

const clauseShape =
  /^(?:(\w+)\.)?(`[^`]+`|"[^"]+"|[^\s=!<>`"']+)\s*(!=|<>|<=|>=|=|<|>|(?:not\s+)?(?:in|i?like)(?=[\s('"]))\s*(.*)$/is;

function parseValue(raw: string, text: string): Value {
  const quoted = /^'([^']*)'$|^"([^"]*)"$/s.exec(raw);
  if (quoted) return quoted[1] ?? quoted[2]!;
  const list = /^\((.*)\)$/s.exec(raw);
  if (list) {
    const items: string[] = [];
    const item = /\s*(?:'([^']*)'|"([^"]*)")\s*(,|$)/y;
    let m: RegExpExecArray | null;
    while (item.lastIndex < list[1]!.length && (m = item.exec(list[1]!))) items.push(m[1] ?? m[2]!);
    if (item.lastIndex !== list[1]!.length || !items.length)
      throw invalid(text, "expected a list of quoted strings, like ('a', 'b')");
    return items;
  }
  if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw)) return Number(raw);
  throw invalid(text, 'expected a number or a quoted string');
}

function parseClause(text: string): Clause {
  const m = clauseShape.exec(text);
  if (!m) throw invalid(text, "expected '<entity>.<key> <op> <value>', e.g. metrics.loss < 0.5");
  const entity = m[1] === undefined ? 'attribute' : entities[m[1].toLowerCase()];
  if (!entity)
    throw invalid(text, `unknown entity '${m[1]}'; use metrics, params, tags or attributes`);
  const key = /^[`"]/.test(m[2]!) ? m[2]!.slice(1, -1) : m[2]!;
  const op = m[3]!.toLowerCase().replace(/\s+/g, ' ').replace('<>', '!=');
  return { entity, key, op, value: parseValue(m[4]!.trim(), text), text };
}

const comparisons = ['=', '!=', '<', '<=', '>', '>='] as const;
const textComparisons = ['=', '!=', 'like', 'ilike'] as const;
const isOneOf = <T extends string>(list: readonly T[], v: string): v is T =>
  (list as readonly string[]).includes(v);

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function text(c: Clause, allowed: readonly string[] = textComparisons): string {
  if (!allowed.includes(c.op)) throw invalid(c.text, `'${c.op}' is not supported here`);
  if (typeof c.value !== 'string') throw invalid(c.text, 'the value must be a quoted string');
  return c.value;
}

function number(c: Clause): number {
  if (!isOneOf(comparisons, c.op)) throw invalid(c.text, `'${c.op}' is not supported here`);
  if (typeof c.value !== 'number') throw invalid(c.text, 'the value must be a number');
  return c.value;
}

/** The filters of heldout's run search that an MLflow filter string asks for. */
export function filterToSearch(filter: string | undefined): Partial<SearchRuns> {
  const q: Partial<SearchRuns> = {};
  if (!filter?.trim()) return q;
  let statuses: Set<RunStatus> | undefined;
  for (const c of splitClauses(filter.trim()).map(parseClause)) {
    if (c.entity === 'metric') {
      (q.metrics ??= []).push({ key: c.key, value: number(c), op: c.op as never });
    } else if (c.entity === 'param') {
      (q.params ??= []).push({ key: c.key, op: c.op as never, value: text(c) });
    } else if (c.entity === 'tag') {
      if (c.key === 'mlflow.runName') (q.names ??= []).push({ op: c.op as never, value: text(c) });
      else (q.tags ??= []).push({ key: c.key, op: c.op as never, value: text(c) });
    } else {
      const key = c.key.toLowerCase();
      if (key === 'run_name' || key === 'name') {
        (q.names ??= []).push({ op: c.op as never, value: text(c) });
      } else if (key === 'status') {
        const values = Array.isArray(c.value) ? c.value : [text(c, ['=', '!='])];
        if (!['=', '!=', 'in', 'not in'].includes(c.op))
          throw invalid(c.text, `'${c.op}' is not supported for status`);
        const named = new Set(
          values.map((v) => {
            const s = fromMlflowStatus[v.toUpperCase()];
            if (!s) throw invalid(c.text, `unknown status '${v}'`);
            return s;
          }),
        );
        const negate = c.op === '!=' || c.op === 'not in';
        const base = statuses ?? new Set(Object.values(fromMlflowStatus));
        statuses = new Set([...base].filter((s) => named.has(s) !== negate));
      } else if (key === 'run_id' || key === 'run_uuid') {
        if (!['=', '!=', 'in', 'not in'].includes(c.op))
          throw invalid(c.text, `'${c.op}' is not supported for run_id`);
        const values = Array.isArray(c.value) ? c.value : [text(c, ['=', '!='])];
        // An id that is not a UUID names no run: it matches nothing, it is not an error.
        const ids = values.filter((v) => uuidShape.test(v)).map((v) => v.toLowerCase());
        if (c.op === '=' || c.op === 'in')
          q.ids = q.ids ? q.ids.filter((id) => ids.includes(id)) : ids;
        else q.excludeIds = [...(q.excludeIds ?? []), ...ids];
      } else if (key === 'start_time' || key === 'end_time' || key === 'created') {
        const value = Math.trunc(number(c));
        if (!inEpochRange(value))
          throw invalid(c.text, 'the value must be a time in milliseconds since 1970');
        (q.times ??= []).push({
          field: key === 'end_time' ? 'endedAt' : 'startedAt',
          op: c.op as never,
          value,
        });
      } else {
        throw invalid(
          c.text,
          `unknown attribute '${c.key}'; searchable: run_id, run_name, status, start_time, end_time`,
        );
      }
    }
  }
  if (statuses) q.status = [...statuses];
  return q;
}

/**
 * MLflow's order_by (`metrics.loss ASC`, `attributes.start_time DESC`, `params.lr`) as heldout's
 * one sort key; MLflow's default is the start time, newest first.
 */
export function orderByToSearch(orderBy: string[] | undefined): SearchRuns['orderBy'] {
  if (!orderBy?.length) return { field: 'startedAt', direction: 'desc' };
  if (orderBy.length > 1)
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `Invalid order_by: only one clause is supported, got ${orderBy.length}`,
    );
  const clause = orderBy[0]!;
  const m = /^\s*(?:(\w+)\.)?(`[^`]+`|"[^"]+"|\S+?)(?:\s+(asc|desc))?\s*$/i.exec(clause);
  const bad = (why: string) =>
    new MlflowError('INVALID_PARAMETER_VALUE', `Invalid order_by clause '${clause}': ${why}`);
  if (!m) throw bad("expected '<entity>.<key> [ASC|DESC]'");
  const entity = m[1] === undefined ? 'attribute' : entities[m[1].toLowerCase()];
  const key = /^[`"]/.test(m[2]!) ? m[2]!.slice(1, -1) : m[2]!;
  const direction = (m[3]?.toLowerCase() ?? 'asc') as 'asc' | 'desc';
  if (entity === 'metric') return { field: 'metric', key, direction };
  if (entity === 'param') return { field: 'param', key, direction };
  if (entity === 'tag')
    return key === 'mlflow.runName'
      ? { field: 'name', direction }
      : { field: 'tag', key, direction };
  if (entity === 'attribute') {
    const field = (
      {
        start_time: 'startedAt',
        created: 'startedAt',
        end_time: 'endedAt',
        run_name: 'name',
      } as const
    )[key.toLowerCase()];
    if (field) return { field, direction };
    throw bad(`cannot order by attribute '${key}'; use start_time, end_time or run_name`);
  }
  throw bad(`unknown entity '${m[1]}'`);
}
