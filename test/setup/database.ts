import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../server/db/embedded-postgres.ts';
import { migrateDatabase } from '../../server/db/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A superuser connection to the server that holds the test databases. */
    adminDatabaseUrl: string;
    /** A migrated database that each test file clones (CREATE DATABASE ... TEMPLATE). */
    templateDatabase: string;
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * One Postgres for the whole run: TEST_DATABASE_URL when set, otherwise an embedded server in a
 * temporary directory. Migrations run once into a template; each test file clones it.
 */
export default async function setup(project: TestProject) {
  let pg: EmbeddedPostgres | undefined;
  let tmp: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-test-pg-'));
    fs.chmodSync(tmp, 0o755);
    // Durability buys nothing for a cluster deleted at the end of the run.
    pg = await startEmbeddedPostgres({
      dir: tmp,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    adminUrl = pg.url();
  }
  const run = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const template = `heldout_tpl_${run}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${template}`);
  await migrateDatabase(withDatabase(adminUrl, template));

  project.provide('adminDatabaseUrl', adminUrl);
  project.provide('templateDatabase', template);

  return async () => {
    const leftovers = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${`heldout_%${run}%`}`;
    for (const { datname } of leftovers)
      await admin.unsafe(`drop database if exists ${datname} with (force)`);
    await admin.end();
    await pg?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  };
}
