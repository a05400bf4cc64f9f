import { and, asc, desc, eq, ilike, like, ne, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { MlflowError } from './errors.ts';

/**
 * The small part of MLflow's search syntax the registry searches take: `key = 'v'`, `!=`, `LIKE`
 * and `ILIKE` clauses joined by AND, an `order_by` list of `key [ASC|DESC]`, and offset page
 * tokens.
 */

const bad = (field: string, message: string) =>
  new MlflowError('INVALID_PARAMETER_VALUE', `Invalid value for parameter '${field}': ${message}`);

const CLAUSE =
  /^(`[^`]+`|"[^"]+"|[A-Za-z_][\w.]*)\s*(=|!=|<>|ILIKE\b|LIKE\b)\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*/i;

/**
 * Parses `filter` into conditions. `columns` maps each searchable key to how it compares; a
 * mapper returning undefined for a value means "matches nothing" (a malformed id, say).
 *
 * @example
 * parseFilter("name LIKE 'bot%'", { name: (op, v) => compare(models.name, op, v) });
 */
export function parseFilter(
  filter: string | undefined,
  columns: Record<string, (op: string, value: string) => SQL>,
): SQL | undefined {
  const conditions: SQL[] = [];
  let rest = (filter ?? '').trim();
  while (rest) {
    const m = CLAUSE.exec(rest);
    if (!m) throw bad('filter', `cannot parse "${rest}"; write e.g. name = 'x' or name LIKE '%x%'`);
    const key = m[1]!.replace(/^[`"]|[`"]$/g, '');
    const op = m[2]!.toUpperCase().replace('<>', '!=');
    const value = m[3]!.slice(1, -1).replace(/\\(.)/g, '$1');
    const column = columns[key];
    if (!column)
      throw bad(
        'filter',
        `cannot search by "${key}"; searchable: ${Object.keys(columns).join(', ')}`,
      );
    conditions.push(column(op, value));
    rest = rest.slice(m[0].length);
    if (rest) {
      const and = /^AND\s+/i.exec(rest);
      if (!and) throw bad('filter', `expected AND before "${rest}"`);
      rest = rest.slice(and[0].length);
    }
  }
  return conditions.length ? and(...conditions) : undefined;
}

/** A text column compared as MLflow's filter says. */
export function compare(column: AnyColumn, op: string, value: string): SQL {
  if (op === '=') return eq(column, value);
  if (op === '!=') return ne(column, value);
  if (op === 'LIKE') return like(column, value);
  return ilike(column, value);
}

/** An exact-match-only key (ids): `=` and `!=`; a value `parse` rejects matches nothing. */
export function exact(column: AnyColumn, parse: (v: string) => string | number | null) {
  return (op: string, value: string): SQL => {
    if (op !== '=' && op !== '!=') throw bad('filter', `only = and != apply to this key`);
    const parsed = parse(value);
    if (parsed === null) return op === '=' ? sql`false` : sql`true`;
    return op === '=' ? eq(column, parsed) : ne(column, parsed);
  };
}

/** `order_by` entries (`key`, `key ASC`, `key DESC`) over the columns allowed, then `tiebreak`. */
export function parseOrder(
  orderBy: string[] | undefined,
  columns: Record<string, AnyColumn>,
  fallback: SQL[],
): SQL[] {
  if (!orderBy?.length) return fallback;
  return [
    ...orderBy.map((entry) => {
      const m = /^\s*`?([\w.]+)`?(?:\s+(ASC|DESC))?\s*$/i.exec(entry);
      const column = m && columns[m[1]!];
      if (!column)
        throw bad(
          'order_by',
          `cannot order by "${entry}"; use one of ${Object.keys(columns).join(', ')} with ASC or DESC`,
        );
      return m[2]?.toUpperCase() === 'DESC' ? desc(column) : asc(column);
    }),
    ...fallback,
  ];
}

/** The offset a page token stands for (0 without one). */
export function pageOffset(token: string | undefined): number {
  if (!token) return 0;
  const offset = Number(Buffer.from(token, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(offset) || offset < 0 || pageToken(offset) !== token)
    throw bad('page_token', 'not a token this server issued');
  return offset;
}

export const pageToken = (offset: number) => Buffer.from(String(offset)).toString('base64url');

/** A page of `rows` (fetched with one extra), with MLflow's next_page_token when more remain. */
export function page<T>(rows: T[], offset: number, max: number) {
  const more = rows.length > max;
  return { rows: rows.slice(0, max), next: more ? pageToken(offset + max) : undefined };
}
