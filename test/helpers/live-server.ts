import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HeldoutClient } from '../../server/client/index.ts';
import { loadConfig } from '../../server/config.ts';
import { startServer, type RunningServer } from '../../server/serve.ts';
import { startWorker } from '../../server/worker/worker.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { memoryLogger } from './logger.ts';

/**
 * A real server on its own test database and a free port, with an admin client, and optionally
 * one real worker (child processes, real training and evaluation) claiming its jobs over HTTP.
 *
 * @example
 * const live = await startLiveServer('hld_my-test-token', { worker: true });
 * await live.client.projects.create({ name: 'bank' });
 * await live.close();
 */
export async function startLiveServer(
  token: string,
  opts: { worker?: boolean; env?: Record<string, string> } = {},
) {
  const database: TestDatabase = await createTestDatabase();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-live-'));
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    HELDOUT_ADMIN_TOKEN: token,
    HELDOUT_DATA_DIR: path.join(dir, 'data'),
    // Tests start their own workers, so they can stop or kill them.
    HELDOUT_WORKER: '0',
    ...opts.env,
  });
  const server: RunningServer = await startServer(config, memoryLogger('warn').logger);
  const client = new HeldoutClient({ baseUrl: server.url, token });
  const worker = opts.worker
    ? startWorker({ server: server.url, token, gpus: [], logger: memoryLogger('warn').logger })
    : undefined;
  return {
    database,
    server,
    client,
    dir,
    async close() {
      await worker?.stop();
      await server.close();
      await database.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns something, or fails after `ms` naming what it waited for. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export { feePlans, jsonl } from '../../server/quickstart/data.ts';

/** Submits a run for the worker and waits for it to finish; returns its last checkpoint. */
export async function trainedCheckpoint(
  client: HeldoutClient,
  project: string,
  body: Parameters<HeldoutClient['runs']['create']>[1],
) {
  const run = await client.runs.create(project, body);
  const done = await waitFor(
    'the run to end',
    async () => {
      const r = await client.runs.get(run.id);
      return ['finished', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
    },
    150_000,
  );
  if (done.status !== 'finished') throw new Error(`run ${done.status}: ${done.error}`);
  return (await client.checkpoints.list(run.id)).at(-1)!;
}
