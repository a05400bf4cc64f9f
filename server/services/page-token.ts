import { AppError } from '../http/errors.ts';

/**
 * An opaque keyset page token: where the next page starts, bound to the view (filters, order) it
 * was issued for, so a token is never silently applied to another query.
 *
 * @example
 * const token = encodePageToken('outcome=failed', { after: 'q17' });
 * decodePageToken(token, 'outcome=failed', (c) => typeof c.after === 'string'); // { after: 'q17' }
 */
export function encodePageToken(view: string, cursor: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ v: view, c: cursor })).toString('base64url');
}

export function decodePageToken<T extends Record<string, unknown>>(
  token: string,
  view: string,
  valid: (cursor: Record<string, unknown>) => boolean,
): T {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      v?: unknown;
      c?: unknown;
    };
    if (t.v === view && t.c && typeof t.c === 'object' && valid(t.c as Record<string, unknown>))
      return t.c as T;
  } catch {
    // falls through to the one error below
  }
  throw new AppError(400, 'bad_request', 'pageToken: not a token this server issued for this view');
}
