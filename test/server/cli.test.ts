import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../server/auth/tokens.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { processesMentioning, runCli } from '../helpers/processes.ts';

const RUNNING = /heldout is running at (http:\/\/\S+)/;
const TOKEN = /^\s+(hld_[A-Za-z0-9_-]{43})$/m;

async function health(url: string) {
  const res = await fetch(`${url}/api/v1/health`);
  return { status: res.status, body: (await res.json()) as { database: { status: string } } };
}

describe('heldout serve: configuration errors', () => {
  it.each([
    ['PORT', 'abc', 'heldout: invalid configuration: PORT must be a port number (got "abc")'],
    [
      'PORT',
      '70000',
      'heldout: invalid configuration: PORT must be between 0 and 65535 (got "70000")',
    ],
    [
      'DATABASE_URL',
      'mysql://x',
      'heldout: invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL (got "mysql://x")',
    ],
  ])('%s=%s prints one line and exits 2', async (key, value, line) => {
    const cli = runCli(['serve'], { [key]: value });
    expect(await cli.exited).toEqual({ code: 2, signal: null });
    expect(cli.stderr()).toBe(`${line}\n`);
    expect(cli.stdout()).toBe('');
  });

  it('rejects an unknown command with usage and exit 2', async () => {
    const cli = runCli(['frobnicate'], {});
    expect((await cli.exited).code).toBe(2);
    expect(cli.stderr()).toMatch(/^heldout: unknown command "frobnicate"/);
    expect(cli.stderr()).toContain('heldout serve');
  });
});

describe('heldout serve with DATABASE_URL', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  it('uses the given database and the given admin token, trains with its worker, and stops on SIGTERM', async () => {
    const adminToken = 'hld_given-by-the-operator-for-ci';
    const cli = runCli(['serve'], {
      DATABASE_URL: database.url,
      PORT: '0',
      HELDOUT_ADMIN_TOKEN: adminToken,
    });
    const [, url] = await cli.waitForStdout(RUNNING);
    expect(await health(url!)).toMatchObject({ status: 200, body: { database: { status: 'ok' } } });
    const rows = await database.sql`select name, role, prefix from api_tokens where role = 'admin'`;
    expect(rows).toEqual([
      { name: 'admin (HELDOUT_ADMIN_TOKEN)', role: 'admin', prefix: 'hld_given-' },
    ]);
    expect(cli.stdout()).not.toMatch(TOKEN);
    expect(cli.stdout() + cli.stderr()).not.toContain(adminToken);

    // Its in-process worker trains a submitted run.
    const api = async (method: string, p: string, body?: unknown, type = 'application/json') => {
      const res = await fetch(`${url}/api/v1${p}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': type },
        body:
          body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      return (await res.json()) as Record<string, unknown>;
    };
    await api('POST', '/projects', { name: 'serve' });
    const data = await api(
      'POST',
      '/projects/serve/datasets/sft/versions?kind=sft',
      '{"prompt":"Add: 1+1=","response":"2"}\n',
      'application/x-ndjson',
    );
    const run = await api('POST', '/projects/serve/runs', {
      plugin: 'full',
      config: { steps: 3, warmupSteps: 1 },
      datasets: [{ datasetVersionId: data.id, role: 'train' }],
    });
    let status = run.status;
    for (let i = 0; i < 300 && status !== 'finished' && status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await api('GET', `/runs/${run.id as string}`)).status;
    }
    expect(status).toBe('finished');

    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    // The worker's token dies with the server.
    const [worker] = await database.sql`select revoked_at from api_tokens where role = 'write'`;
    expect(worker!.revoked_at).not.toBeNull();
  });
});

describe('heldout serve on an embedded database', () => {
  let dataDir: string;
  beforeAll(() => {
    // World-traversable, so that as root the "postgres" user can reach its cluster under it.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-cli-'));
    fs.chmodSync(dataDir, 0o755);
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('starts on an empty data directory, prints the admin token once, and reuses the data', async () => {
    const first = runCli(['serve'], { HELDOUT_DATA_DIR: dataDir, PORT: '0' });
    const [, url] = await first.waitForStdout(RUNNING, 60_000);
    expect(await health(url!)).toMatchObject({ status: 200, body: { database: { status: 'ok' } } });
    const [, token] = await first.waitForStdout(TOKEN);
    expect(processesMentioning(dataDir).length).toBeGreaterThan(0);

    first.child.kill('SIGINT');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(processesMentioning(dataDir)).toEqual([]);

    const second = runCli(['serve'], { HELDOUT_DATA_DIR: dataDir, PORT: '0' });
    const [, url2] = await second.waitForStdout(RUNNING, 60_000);
    expect((await health(url2!)).status).toBe(200);
    expect(second.stdout()).not.toMatch(TOKEN);
    const port = fs
      .readFileSync(path.join(dataDir, 'postgres', 'cluster', 'postmaster.pid'), 'utf8')
      .split('\n')[3];
    const password = fs.readFileSync(path.join(dataDir, 'postgres', 'superuser-password'), 'utf8');
    const sql = postgres(
      `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/heldout`,
      { max: 1 },
    );
    // One admin token, stored as its SHA-256 only (beside the in-process workers' tokens).
    const tokens = await sql<{ row: string; hash: Buffer }[]>`
      select row_to_json(t)::text as row, token_hash as hash from api_tokens t where role = 'admin'`;
    await sql.end();
    expect(tokens).toHaveLength(1);
    expect(tokens[0]!.hash.equals(hashToken(token!))).toBe(true);
    expect(tokens[0]!.row).not.toContain(token!.slice(12));

    second.child.kill('SIGINT');
    expect((await second.exited).code).toBe(0);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 120_000);
});
