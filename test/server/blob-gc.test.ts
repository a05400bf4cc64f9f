import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../../plugins/model/base/builtin.ts';
import { loadConfig } from '../../server/config.ts';
import { checkpoints } from '../../server/db/schema/index.ts';
import { startServer } from '../../server/serve.ts';
import { checkpointCacheDir, checkpointDir } from '../../server/serve/checkpoint-files.ts';
import { collectStorageGarbage } from '../../server/services/storage-gc.ts';
import { listBlobs, removeBlob } from '../../server/storage/fs-blob-gc.ts';
import { blobStoreFor } from '../../server/storage/fs-blob-store.ts';
import { sendAs, testApp, type TestApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { waitFor } from '../helpers/live-server.ts';
import { memoryLogger } from '../helpers/logger.ts';

/**
 * Issue 21, "blobs whose rows are gone stay on disk forever" and "the serving cache is never
 * cleaned up": the collector removes exactly the blobs no row references once they are older than
 * the grace period, never a referenced one, a fresh one or a checkpoint's file, and the serving
 * cache keeps only what was used within a day.
 */

const HOUR = 3600_000;
let database: TestDatabase;
let t: TestApp;
let dataDir: string;
let projectId: number;
let writer: string;
let runs = 0;

const TINY = BUILTIN_MODELS['tiny-base']!;
const tiny = (name: string) => new Uint8Array(fs.readFileSync(path.join(TINY, name)));
const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const storeRoot = () => path.join(dataDir, 'store');
const blobFile = (bytes: Uint8Array | string) => {
  const sha = sha256(bytes);
  return path.join(storeRoot(), 'blobs', 'sha256', sha.slice(0, 2), sha.slice(2));
};
/** Makes a blob look written `hours` ago, as if the grace period had passed. */
const age = (file: string, hours = 2) => {
  const then = new Date(Date.now() - hours * HOUR);
  fs.utimesSync(file, then, then);
};
const ageAllBlobs = () => {
  const base = path.join(storeRoot(), 'blobs', 'sha256');
  for (const shard of fs.readdirSync(base))
    for (const f of fs.readdirSync(path.join(base, shard))) age(path.join(base, shard, f));
};

/** Sends as the project's writer: bytes and strings as octet-stream, anything else as JSON. */
const send = (method: string, url: string, body?: Uint8Array | string | object) =>
  sendAs(t, writer, method, url, body, { rawType: 'application/octet-stream' });

const newRun = async () =>
  (await send('POST', '/api/v1/projects/gc/runs', { name: `r${runs++}` })).json.id as string;
const put = (runId: string, rel: string, body: Uint8Array | string) =>
  send('PUT', `/api/v1/runs/${runId}/artifacts?path=${encodeURIComponent(rel)}`, body);
const drop = (runId: string, rel: string) =>
  send('DELETE', `/api/2.0/mlflow-artifacts/artifacts/${projectId}/${runId}/artifacts/${rel}`);
const download = async (runId: string, rel: string) =>
  (await send('GET', `/api/v1/runs/${runId}/artifacts/content?path=${encodeURIComponent(rel)}`))
    .text;

/** A registered checkpoint of the shipped model, with weights of its own. */
async function registeredCheckpoint() {
  const runId = await newRun();
  const files = {
    'config.json': tiny('config.json'),
    'model.safetensors': tiny('model.safetensors'),
    'tokenizer_config.json': tiny('tokenizer_config.json'),
  };
  for (const [name, bytes] of Object.entries(files))
    expect((await put(runId, `checkpoints/step-1/${name}`, bytes)).status).toBe(201);
  const c = await send('POST', `/api/v1/runs/${runId}/checkpoints`, { step: 1, kind: 'full' });
  expect(c.status, c.text).toBe(201);
  const [row] = await database.db.select().from(checkpoints).where(eq(checkpoints.id, c.json.id));
  return { runId, files, row: row! };
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = path.resolve(`.tmp/blob-gc-${database.name}`);
  t = await testApp(database, { HELDOUT_DATA_DIR: dataDir });
  projectId = (await t.call('POST', '/api/v1/projects', { name: 'gc' })).json.id;
  writer = (await t.call('POST', '/api/v1/projects/gc/tokens', { name: 'w', role: 'write' })).json
    .token;
});
afterAll(async () => {
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('blob garbage collection', () => {
  it('removes old unreferenced blobs only: referenced, shared, fresh and checkpoint blobs stay', async () => {
    const [a, b, gone] = [await newRun(), await newRun(), await newRun()];
    const checkpoint = await registeredCheckpoint();
    const bytes = {
      kept: 'kept by its artifact',
      dropped: 'an artifact deleted by a write token',
      shared: 'one blob, two artifacts',
      ofGoneRun: 'an artifact of a run removed with its rows',
      fresh: 'deleted, but written a moment ago',
      dataset: `${JSON.stringify({ text: 'a dataset row' })}\n`,
    };
    expect((await put(a, 'kept.txt', bytes.kept)).status).toBe(201);
    expect((await put(a, 'dropped.txt', bytes.dropped)).status).toBe(201);
    expect((await put(a, 'shared.txt', bytes.shared)).status).toBe(201);
    expect((await put(b, 'shared-too.txt', bytes.shared)).status).toBe(201);
    expect((await put(gone, 'x.txt', bytes.ofGoneRun)).status).toBe(201);
    const version = await t.app.request('/api/v1/projects/gc/datasets/d/versions?kind=text', {
      method: 'POST',
      body: bytes.dataset,
      headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/x-ndjson' },
    });
    expect(version.status).toBe(201);
    expect((await drop(a, 'dropped.txt')).status).toBe(200);
    expect((await drop(a, 'shared.txt')).status).toBe(200);
    await database.sql`delete from runs where id = ${gone}`;
    ageAllBlobs();
    // Written after the others aged: inside the grace period, as an upload whose row is coming.
    expect((await put(a, 'fresh.txt', bytes.fresh)).status).toBe(201);
    expect((await drop(a, 'fresh.txt')).status).toBe(200);
    // Not a blob name: the collector judges only what the store itself wrote.
    const stray = path.join(path.dirname(blobFile(bytes.kept)), 'notes.txt');
    fs.writeFileSync(stray, 'x');
    age(stray);

    const result = await collectStorageGarbage(database, dataDir);
    expect(result).toMatchObject({
      ran: true,
      removed: 2,
      bytesFreed: bytes.dropped.length + bytes.ofGoneRun.length,
    });
    expect(fs.existsSync(blobFile(bytes.dropped))).toBe(false);
    expect(fs.existsSync(blobFile(bytes.ofGoneRun))).toBe(false);
    for (const kept of [bytes.kept, bytes.shared, bytes.fresh, bytes.dataset])
      expect(fs.existsSync(blobFile(kept)), kept).toBe(true);
    for (const file of Object.values(checkpoint.files))
      expect(fs.existsSync(blobFile(file))).toBe(true);
    expect(fs.existsSync(stray)).toBe(true);
    expect(await download(a, 'kept.txt')).toBe(bytes.kept);
    expect(await download(b, 'shared-too.txt')).toBe(bytes.shared);
    // The checkpoint still loads: its files are all there and match its sha256.
    const cacheDir = checkpointCacheDir(dataDir);
    const store = blobStoreFor(dataDir);
    const dir = await checkpointDir({ db: database.db, store, cacheDir }, checkpoint.row);
    expect(fs.readdirSync(dir)).toHaveLength(3);

    // Nothing more to do on a second pass.
    expect(await collectStorageGarbage(database, dataDir)).toMatchObject({ removed: 0 });
  });

  it('skips its pass while another server holds the lock', async () => {
    const run = await newRun();
    expect((await put(run, 'tmp.txt', 'collected once the lock is free')).status).toBe(201);
    expect((await drop(run, 'tmp.txt')).status).toBe(200);
    const file = blobFile('collected once the lock is free');
    age(file);
    const other = await database.sql.reserve();
    try {
      await other`select pg_advisory_lock(hashtextextended('heldout:blob-gc', 0))`;
      expect(await collectStorageGarbage(database, dataDir)).toMatchObject({ ran: false });
      expect(fs.existsSync(file)).toBe(true);
      await other`select pg_advisory_unlock(hashtextextended('heldout:blob-gc', 0))`;
    } finally {
      other.release();
    }
    expect(await collectStorageGarbage(database, dataDir)).toMatchObject({ ran: true, removed: 1 });
    expect(fs.existsSync(file)).toBe(false);
  });

  it('never deletes the bytes of an upload that placed the same blob after it was judged', async () => {
    const run = await newRun();
    const bytes = 'uploaded again while the collector was deciding';
    expect((await put(run, 'again.txt', bytes)).status).toBe(201);
    expect((await drop(run, 'again.txt')).status).toBe(200);
    age(blobFile(bytes));
    const listed = [];
    for await (const batch of listBlobs(storeRoot(), new Date(Date.now() - HOUR), 1000))
      listed.push(...batch.filter((blob) => blob.key.endsWith(sha256(bytes).slice(2))));
    expect(listed).toHaveLength(1);
    // The same bytes again: the store renames a fresh file over the key and a row names it.
    expect((await put(run, 'again.txt', bytes)).status).toBe(201);
    expect(await removeBlob(storeRoot(), listed[0]!)).toBe(false);
    expect(await download(run, 'again.txt')).toBe(bytes);

    // A blob that a pass which died had moved aside is put back, then judged like any other.
    const file = blobFile(bytes);
    const aside = path.join(path.dirname(file), `.gc-${path.basename(file)}-0123456789abcdef`);
    fs.renameSync(file, aside);
    await collectStorageGarbage(database, dataDir);
    expect(fs.existsSync(aside)).toBe(false);
    expect(await download(run, 'again.txt')).toBe(bytes);
  });
});

describe('the server', () => {
  /** A data directory holding one blob no row names, written two hours ago. */
  function orphanedStore() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-gc-'));
    const sha = sha256('orphan');
    const file = path.join(dir, 'store', 'blobs', 'sha256', sha.slice(0, 2), sha.slice(2));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'orphan');
    age(file);
    return { dir, file };
  }
  const start = (dir: string, env: Record<string, string> = {}) => {
    const { logger, lines } = memoryLogger();
    const config = loadConfig({
      DATABASE_URL: database.url,
      PORT: '0',
      HELDOUT_DATA_DIR: dir,
      HELDOUT_WORKER: '0',
      HELDOUT_ADMIN_TOKEN: 'hld_blob-gc-admin-token-0123',
      ...env,
    });
    return { lines, server: startServer(config, logger) };
  };

  it('collects at start and logs what it freed; HELDOUT_BLOB_GC_INTERVAL_SECONDS=0 turns it off', async () => {
    const off = orphanedStore();
    const quiet = start(off.dir, { HELDOUT_BLOB_GC_INTERVAL_SECONDS: '0' });
    await (await quiet.server).close();
    expect(fs.existsSync(off.file)).toBe(true);

    const on = orphanedStore();
    const running = start(on.dir);
    const server = await running.server;
    try {
      const line = await waitFor(
        'the storage gc log line',
        async () => running.lines.find((l) => String(l.msg).startsWith('storage gc:')),
        10_000,
      );
      expect(line).toMatchObject({ ran: true, removed: 1, bytesFreed: 'orphan'.length });
      expect(fs.existsSync(on.file)).toBe(false);
    } finally {
      await server.close();
      for (const dir of [off.dir, on.dir]) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the serving cache', () => {
  it('keeps what was used within a day and removes the rest, with dead loads', async () => {
    const { row } = await registeredCheckpoint();
    const cacheDir = checkpointCacheDir(dataDir);
    const deps = { db: database.db, store: blobStoreFor(dataDir), cacheDir };
    const dir = await checkpointDir(deps, row);
    const dayAgo = (p: string) => age(p, 25);
    const deadLoad = path.join(cacheDir, '.tmp-0123456789abcdef');
    fs.mkdirSync(deadLoad);
    dayAgo(deadLoad);

    dayAgo(dir);
    await checkpointDir(deps, row); // used again: marked
    expect(await collectStorageGarbage(database, dataDir)).toMatchObject({ cacheDirsRemoved: 0 });
    expect(fs.existsSync(dir)).toBe(true);
    expect(fs.existsSync(deadLoad)).toBe(false);

    dayAgo(dir);
    expect(await collectStorageGarbage(database, dataDir)).toMatchObject({ cacheDirsRemoved: 1 });
    expect(fs.existsSync(dir)).toBe(false);
    // The next load lays it out again from the store.
    expect(await checkpointDir(deps, row)).toBe(dir);
    expect(fs.readdirSync(dir).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer_config.json',
    ]);
  });
});
