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
    const text = await res.text();
    let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read what came back
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, text };
  }
  return { app, config, queue, adminToken, call, logLines: lines };
}
