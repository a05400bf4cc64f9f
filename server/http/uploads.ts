import type { Context } from 'hono';
import { chunksOf, limitBytes } from '../storage/streams.ts';
import { AppError } from './errors.ts';

// Routes that read their body as a stream and enforce their own limits while reading; the JSON
// body limit must not buffer these (hono's bodyLimit reads a chunked body fully into memory).
const streamedUploads = [
  /^\/api\/v1\/runs\/[^/]+\/artifacts$/,
  /^\/api\/v1\/projects\/[^/]+\/datasets\/[^/]+\/versions$/,
];

/**
 * Whether a request is a streamed upload (see `uploadBody`).
 *
 * @example
 * isStreamedUpload('PUT', '/api/v1/runs/0b1.../artifacts'); // true
 */
export function isStreamedUpload(method: string, path: string): boolean {
  return method !== 'GET' && streamedUploads.some((re) => re.test(path));
}

/**
 * The request body as chunks, never buffered whole. A declared Content-Length over `maxBytes` is
 * refused before reading; a chunked body is counted and refused the moment it crosses the limit.
 *
 * @example
 * await store.put(uploadBody(c, config.HELDOUT_MAX_ARTIFACT_BYTES, 'an artifact'));
 */
export function uploadBody(c: Context, maxBytes: number, what: string): AsyncIterable<Uint8Array> {
  const tooLarge = (): never => {
    throw new AppError(413, 'payload_too_large', `${what} may hold at most ${maxBytes} bytes`, {
      maxBytes,
    });
  };
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > maxBytes) tooLarge();
  return limitBytes(chunksOf(c.req.raw.body), maxBytes, tooLarge);
}

/** The media type of the request without parameters, lower-cased; undefined when absent. */
export function mediaType(c: Context): string | undefined {
  return c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase() || undefined;
}

/**
 * `Content-Disposition: attachment` that is safe for any name (RFC 6266 + RFC 8187): a plain
 * ASCII `filename` for old clients, the exact name in `filename*`, and no quote, backslash or
 * control character that could end the header value early.
 *
 * @example
 * attachment('résumé "v2".txt'); // attachment; filename="r_sum_ _v2_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.txt
 */
export function attachment(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\%]/g, '_') || 'download';
  const exact = encodeURIComponent(filename).replace(
    /['()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

/**
 * A download of stored bytes: never rendered by a browser (octet-stream, attachment, nosniff),
 * with the sha256 as a strong ETag so clients can cache and verify. The blob is opened only when
 * the client does not already hold it (`If-None-Match`).
 *
 * @example
 * return download(c, () => store.open(row.storageKey), { filename: 'a.txt', sha256, sizeBytes });
 */
export async function download(
  c: Context,
  open: () => Promise<ReadableStream<Uint8Array>>,
  meta: { filename: string; sha256: string; sizeBytes: number },
): Promise<Response> {
  const etag = `"${meta.sha256}"`;
  const headers = {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': attachment(meta.filename),
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'private, no-cache',
    ETag: etag,
  };
  const ifNoneMatch = c.req.header('if-none-match');
  if (ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) {
    return c.body(null, 304, headers);
  }
  return c.body(await open(), 200, { ...headers, 'Content-Length': String(meta.sizeBytes) });
}
