/** An error answer from a heldout server: `{"error": {code, message, details?}}` as a throwable. */
export class HeldoutApiError extends Error {
  override name = 'HeldoutApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:4242` (no trailing /api/v1). */
  baseUrl: string;
  /** A token, or a function asked before each request (for a token that is rotated). */
  token?: string | (() => string | undefined);
  /** Another fetch (a test's `app.request`, a proxy-aware one). */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
}

export type Query = Record<string, string | number | boolean | undefined>;

/** The one place the client touches HTTP; the resource helpers are built on it. */
export interface Transport {
  json<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T>;
  /** For streamed bodies and downloads: the raw response, already checked for an error status. */
  raw(
    method: string,
    path: string,
    init?: { body?: RequestInit['body']; headers?: Record<string, string>; query?: Query },
  ): Promise<Response>;
}

export function createTransport(options: ClientOptions): Transport {
  const base = options.baseUrl.replace(/\/+$/, '') + '/api/v1';
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));

  function url(path: string, query?: Query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return `${base}${path}${qs ? `?${qs}` : ''}`;
  }

  async function raw(
    method: string,
    path: string,
    init: { body?: RequestInit['body']; headers?: Record<string, string>; query?: Query } = {},
  ) {
    const headers: Record<string, string> = { ...init.headers };
    const token = typeof options.token === 'function' ? options.token() : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await doFetch(url(path, init.query), {
      method,
      headers,
      body: init.body,
      // Node's fetch needs this to stream a ReadableStream body.
      ...(init.body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
    if (!res.ok) {
      const text = await res.text();
      let error: { code?: string; message?: string; details?: unknown } = {};
      try {
        error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
      } catch {
        // not our error shape (a proxy's page, say): keep the status and the start of the text
      }
      throw new HeldoutApiError(
        res.status,
        error.code ?? 'http_error',
        error.message ?? text.slice(0, 200),
        error.details,
      );
    }
    return res;
  }

  return {
    raw,
    async json<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
      const res = await raw(method, path, {
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        query,
      });
      return (res.status === 204 ? undefined : await res.json()) as T;
    },
  };
}
