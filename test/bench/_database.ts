import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { startEmbeddedPostgres } from '../../server/db/embedded-postgres.ts';
import { migrateDatabase } from '../../server/db/migrate.ts';

/**
 * A freshly migrated scratch database for a benchmark: on TEST_DATABASE_URL's server when set
 * (what CI and the notes quote), else on an embedded server. Dropped by `dispose()`.
 */
export async function benchDatabase(): Promise<{
  url: string;
  server: string;
  dispose(): Promise<void>;
}> {
  let adminUrl = process.env.TEST_DATABASE_URL;
  let stopEmbedded = async () => {};
  if (!adminUrl) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-bench-pg-'));
    fs.chmodSync(dir, 0o755);
    const pg = await startEmbeddedPostgres({ dir });
    adminUrl = pg.url();
    stopEmbedded = async () => {
      await pg.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  }
  const name = `heldout_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const [{ server_version: server } = { server_version: '?' }] = await admin<
    { server_version: string }[]
  >`show server_version`;
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  await migrateDatabase(u.toString());
  return {
    url: u.toString(),
    server: `PostgreSQL ${server}`,
    async dispose() {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
      await stopEmbedded();
    },
  };
}
