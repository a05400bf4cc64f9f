import { createApp } from '../../server/app.ts';
import { createPluginHost } from '../../server/plugins/host.ts';
import { generateToken, hashToken, displayPrefix } from '../../server/auth/tokens.ts';
import { loadConfig } from '../../server/config.ts';
import { createJobQueue } from '../../server/jobs/queue.ts';
import { apiTokens } from '../../server/db/schema/index.ts';
import type { TestDatabase } from './database.ts';
import { memoryLogger } from './logger.ts';

/**
 * The real app on a test database, with a global admin token, and a `call` helper that sends
 * JSON with a bearer token. No socket: requests go through `app.request`.
 */
export async function testApp(database: TestDatabase, env: Record<string, string> = {}) {
  const { logger, lines } = memoryLogger();
  const config = loadConfig({ HELDOUT_DATA_DIR: `.tmp/test-data-${database.name}`, ...env });
  const queue = createJobQueue(database.sql, { retryDelay: 0 });
  const app = createApp({
    database,
    logger,
    config,
    version: 'test',
    plugins: createPluginHost(config.HELDOUT_PLUGINS),
    queue,
  });
  const adminToken = generateToken();
  await database.db.insert(apiTokens).values({
    name: 'test admin',
    role: 'admin',
    tokenHash: hashToken(adminToken),
    prefix: displayPrefix(adminToken),
  });

  async function call(
    method: string,
    path: string,
    body?: unknown,
    token: string | null = adminToken,
  ) {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await app.request(path, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return readReply(res);
  }
  return { app, config, queue, adminToken, call, logLines: lines };
}

/** What `testApp` gives a test. */
export type TestApp = Awaited<ReturnType<typeof testApp>>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON the server sent back
export type Json = any;

/** Reads a response once: its status, headers, text, and that text parsed when it is JSON. */
export async function readReply(res: Response) {
  const text = await res.text();
  let json: Json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * Sends `body` to the app with `token`, unlike `call` as it is: bytes, strings and streams go raw
 * (streams with no Content-Length), labelled `rawType` when given; anything else goes as JSON,
 * labelled so. `headers` come last and win.
 *
 * @example
 * await sendAs(t, writer, 'PUT', `/api/v1/runs/${id}/artifacts?path=w.bin`, bytes, {
 *   rawType: 'application/octet-stream',
 * });
 */
export async function sendAs(
  app: TestApp,
  token: string,
  method: string,
  url: string,
  body?: RequestInit['body'] | object,
  opts: { rawType?: string; headers?: Record<string, string> } = {},
) {
  const raw =
    body === undefined ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ReadableStream;
  const type = raw ? opts.rawType : 'application/json';
  const res = await app.app.request(url, {
    method,
    body: raw ? body : JSON.stringify(body),
    headers: {
      authorization: `Bearer ${token}`,
      ...(type ? { 'content-type': type } : {}),
      ...opts.headers,
    },
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  return readReply(res);
}
