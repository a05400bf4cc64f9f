import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';
import { startServer } from '../../server/serve.ts';
import { BLOB_GC_GRACE_MS } from '../../server/services/storage-gc.ts';
import { removeStaleUploads } from '../../server/storage/fs-blob-store.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { memoryLogger } from '../helpers/logger.ts';

let database: TestDatabase;
const dirs: string[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  await database.drop();
});

function dataDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-stale-'));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'store', 'tmp'), { recursive: true });
  return dir;
}

/** A file in `dir` last written `ageMs` ago. */
function written(dir: string, name: string, ageMs: number) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, 'partial upload');
  const at = new Date(Date.now() - ageMs);
  fs.utimesSync(file, at, at);
  return file;
}

describe('partial uploads left by a killed server', () => {
  it('are removed when the server starts; uploads written since, and anything outside tmp/, stay', async () => {
    const dir = dataDir();
    const tmp = path.join(dir, 'store', 'tmp');
    const longAgo = BLOB_GC_GRACE_MS + 3600_000;
    const stale = written(tmp, '1700000000000-0123456789abcdef', longAgo);
    // Older than this start but within the grace: another server sharing the data directory may
    // still be streaming it.
    const otherServers = written(tmp, '1700000000001-fedcba9876543210', 60_000);
    const outside = written(dir, 'precious.txt', longAgo);
    // A link planted in tmp/ goes, never what it points at.
    fs.symlinkSync(outside, path.join(tmp, 'link'));
    const then = new Date(Date.now() - longAgo);
    fs.lutimesSync(path.join(tmp, 'link'), then, then);
    fs.mkdirSync(path.join(tmp, 'a-directory'));
    const { logger, lines } = memoryLogger();
    const server = await startServer(
      loadConfig({
        DATABASE_URL: database.url,
        PORT: '0',
        HELDOUT_DATA_DIR: dir,
        HELDOUT_WORKER: '0',
        HELDOUT_ADMIN_TOKEN: 'hld_stale-uploads-admin-token',
      }),
      logger,
    );
    try {
      expect(fs.existsSync(stale)).toBe(false);
      expect(fs.readFileSync(otherServers, 'utf8')).toBe('partial upload');
      expect(fs.existsSync(path.join(tmp, 'link'))).toBe(false);
      expect(fs.readFileSync(outside, 'utf8')).toBe('partial upload');
      expect(fs.existsSync(path.join(tmp, 'a-directory'))).toBe(true);
      expect(lines).toContainEqual(
        expect.objectContaining({
          removed: 2,
          msg: 'removed partial uploads left by an earlier run',
        }),
      );
    } finally {
      await server.close();
    }
  });

  it('spares files written after the cut-off (an upload in flight) and a missing tmp/', async () => {
    const dir = dataDir();
    const tmp = path.join(dir, 'store', 'tmp');
    const cutOff = new Date(Date.now() - 30_000);
    const old = written(tmp, 'old', 60_000);
    const inFlight = written(tmp, 'in-flight', 0);
    expect(await removeStaleUploads(dir, cutOff)).toBe(1);
    expect([fs.existsSync(old), fs.existsSync(inFlight)]).toEqual([false, true]);
    expect(await removeStaleUploads(path.join(dir, 'nowhere'), cutOff)).toBe(0);
  });

  it('refuses to follow a tmp/ that is a link out of the store', async () => {
    const dir = dataDir();
    const elsewhere = dataDir();
    const victim = written(elsewhere, 'victim', 60_000);
    fs.rmSync(path.join(dir, 'store', 'tmp'), { recursive: true });
    fs.symlinkSync(elsewhere, path.join(dir, 'store', 'tmp'));
    expect(await removeStaleUploads(dir, new Date())).toBe(0);
    expect(fs.existsSync(victim)).toBe(true);
  });
});
