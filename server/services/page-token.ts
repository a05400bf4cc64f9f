import { AppError } from '../http/errors.ts';

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// A timestamptz as Postgres prints it (`created_at::text`), in any session time zone.
const timestampShape =
  /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?[+-](\d{2})(?::(\d{2}))?(?::(\d{2}))?$/;
// A float8 as Postgres prints it (`value::text`): shortest round-trip digits, or a special value.
const float8Shape = /^(NaN|-?Infinity|-?\d+(\.\d+)?(e[+-]?\d+)?)$/;

/** Whether `s` is a real time in Postgres' printed form: a shape alone lets 2024-13-45 through. */
function isTimestamp(s: string): boolean {
  const m = timestampShape.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second, offHour, offMinute, offSecond] = m
    .slice(1)
    .map((g) => Number(g ?? 0));
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, takes years 1-99 as they are; an impossible day rolls over.
  date.setUTCFullYear(year!, month! - 1, day!);
  return (
    year! >= 1 &&
    date.getUTCMonth() === month! - 1 &&
    date.getUTCDate() === day &&
    hour! < 24 &&
    minute! < 60 &&
    second! < 60 &&
    offHour! <= 15 &&
    offMinute! < 60 &&
    offSecond! < 60
  );
}

/**
 * What a cursor field may hold. A token travels through the client, so every value in it is
 * checked before it reaches SQL: a forged one is a 400 naming the token, never a failed cast (500).
 */
export const cursorField = {
  /** A row id (uuid), lower case as Postgres prints it. */
  uuid: (x: unknown) => typeof x === 'string' && uuidShape.test(x),
  /** A timestamptz as Postgres prints it, keeping its microseconds. */
  timestamp: (x: unknown) => typeof x === 'string' && isTimestamp(x),
  /** A float8 as Postgres prints it. */
  float8: (x: unknown) => typeof x === 'string' && float8Shape.test(x),
  /** A bigint id or offset that JavaScript holds exactly. */
  int: (x: unknown) => Number.isSafeInteger(x),
  text: (x: unknown) => typeof x === 'string',
} satisfies Record<string, (x: unknown) => boolean>;

type Check = (x: unknown) => boolean;

/**
 * An opaque keyset page token: where the next page starts, bound to the view (filters, order) it
 * was issued for, so a token is never silently applied to another query.
 *
 * @example
 * const token = encodePageToken('outcome=failed', { after: 'q17' });
 * decodePageToken(token, 'outcome=failed', { after: cursorField.text }); // { after: 'q17' }
 */
export function encodePageToken(view: string, cursor: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ v: view, c: cursor })).toString('base64url');
}

/**
 * The cursor of a token issued by `encodePageToken` for `view`, each field checked by `shape`
 * (see `cursorField`); anything else is a 400 naming `field`.
 *
 * @example
 * decodePageToken<{ t: string; id: string }>(token, view, { t: cursorField.timestamp, id: cursorField.uuid });
 */
export function decodePageToken<T extends Record<string, unknown>>(
  token: string,
  view: string,
  shape: { [K in keyof T]: Check },
  field = 'pageToken',
): T {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      v?: unknown;
      c?: unknown;
    };
    const c = t.c as Record<string, unknown> | null | undefined;
    if (
      t.v === view &&
      c &&
      typeof c === 'object' &&
      !Array.isArray(c) &&
      Object.entries(shape).every(([k, check]) => (check as Check)(c[k]))
    )
      return c as T;
  } catch {
    // falls through to the one error below
  }
  throw new AppError(400, 'bad_request', `${field}: not a token this server issued for this view`);
}
