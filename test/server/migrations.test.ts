import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ensureAdminToken } from '../../server/auth/tokens.ts';
import { migrateDatabase } from '../../server/db/migrate.ts';
import { databaseUrl } from '../helpers/database.ts';

// A blank database (not the template): this file tests migrating one.
const name = `${inject('templateDatabase').replace('_tpl_', '_t_')}_blank_${randomBytes(3).toString('hex')}`;
const admin = postgres(inject('adminDatabaseUrl'), { max: 1, onnotice: () => {} });
beforeAll(() => admin.unsafe(`create database ${name}`));
afterAll(async () => {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});

describe('migrateDatabase', () => {
  it('is safe when several servers start at once: one schema, one admin token', async () => {
    const url = databaseUrl(name);
    const created: (string | undefined)[] = [];
    await Promise.all(
      Array.from({ length: 4 }, () =>
        migrateDatabase(url, async (db) => void created.push((await ensureAdminToken(db)).created)),
      ),
    );
    expect(created.filter(Boolean)).toHaveLength(1);

    const sql = postgres(url, { max: 1 });
    const tables = await sql<{ table_name: string }[]>`
      select table_name from information_schema.tables where table_schema = 'public' order by 1`;
    expect(tables.map((t) => t.table_name)).toEqual([
      'alias_protections',
      'api_tokens',
      'artifacts',
      'checkpoints',
      'dataset_versions',
      'datasets',
      'evaluation_cases',
      'evaluations',
      'findings',
      'gates',
      'human_ratings',
      'jobs',
      'metric_points',
      'metric_series',
      'model_aliases',
      'model_outputs',
      'model_versions',
      'models',
      'preferences',
      'projects',
      'promotions',
      'run_datasets',
      'run_params',
      'run_tags',
      'runs',
      'serving_requests',
      'suite_versions',
      'suites',
      'verdicts',
    ]);
    const [applied] = await sql<
      { n: number }[]
    >`select count(*)::int as n from drizzle.__drizzle_migrations`;
    await migrateDatabase(url);
    const [again] = await sql<
      { n: number }[]
    >`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(again!.n).toBe(applied!.n);
    await sql.end();
  });
});
