import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, rotatingWorkerToken } from '../../server/auth/tokens.ts';
import { HeldoutClient } from '../../server/client/index.ts';
import { apiTokens } from '../../server/db/schema/index.ts';
import { tokensCommand } from '../../server/tokens-command.ts';
import { startWorker } from '../../server/worker/worker.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { memoryLogger } from '../helpers/logger.ts';
import { runCli } from '../helpers/processes.ts';

// Remote workers ran with the admin token because nothing minted a global write token, and the
// in-process worker's token never expired, so a crashed server left a live one behind.
let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
const project: Record<'admin' | 'write', string> = { admin: '', write: '' };

const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
const mint = (body: object, token?: string | null) =>
  t.call('POST', '/api/v1/tokens', { name: 'gpu-box', expiresAt: inHours(1), ...body }, token);
const claim = (token: string | null, workerId = 'box:1:cpu0') =>
  t.call('POST', '/api/v1/jobs/claim', { workerId }, token);
const rowOf = async (token: string) =>
  (
    await database.db
      .select()
      .from(apiTokens)
      .where(eq(apiTokens.tokenHash, hashToken(token)))
  )[0]!;

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  await t.call('POST', '/api/v1/projects', { name: 'wt' });
  for (const role of ['admin', 'write'] as const)
    project[role] = (
      await t.call('POST', '/api/v1/projects/wt/tokens', { name: `wt ${role}`, role })
    ).json.token;
}, 60_000);
afterAll(() => database.drop());

describe('POST /tokens: a token for every project, for a worker', () => {
  it('is minted by a global admin: write, for every project, expiring, listed and revocable', async () => {
    const res = await mint({});
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      name: 'gpu-box',
      role: 'write',
      projectId: null,
      revokedAt: null,
      token: expect.stringMatching(/^hld_/),
    });
    expect(Date.parse(res.json.expiresAt)).toBeGreaterThan(Date.now());
    const listed = (await t.call('GET', '/api/v1/tokens')).json.tokens;
    expect(listed.map((x: { id: number }) => x.id)).toContain(res.json.id);
    expect(JSON.stringify(listed)).not.toContain(res.json.token);
    // A project's admin can neither list nor revoke it.
    expect((await t.call('GET', '/api/v1/tokens', undefined, project.admin)).status).toBe(403);
    const foreign = await t.call(
      'DELETE',
      `/api/v1/tokens/${res.json.id}`,
      undefined,
      project.admin,
    );
    expect(foreign.status).toBe(403);
    const revoked = await t.call('DELETE', `/api/v1/tokens/${res.json.id}`);
    expect(revoked.json.revokedAt).not.toBeNull();
    expect((await claim(res.json.token)).status).toBe(401);
  });

  it('refuses anyone but a global admin', async () => {
    const worker = (await mint({})).json.token;
    for (const [who, token] of [
      ["a project's admin", project.admin],
      ["a project's write token", project.write],
      ['a global write token', worker],
    ] as const) {
      const res = await mint({ name: 'sneaky' }, token);
      expect(res.status, who).toBe(403);
      expect(res.json.error.message).toBe(
        'only an admin token for every project may mint a token for every project',
      );
    }
    expect((await mint({}, null)).status).toBe(401);
  });

  it('always expires, within a year, and never mints an admin', async () => {
    const cases: [object, RegExp][] = [
      [{ expiresAt: undefined }, /^expiresAt: /],
      [
        { expiresAt: new Date(Date.now() - 1000).toISOString() },
        /^expiresAt: must be in the future/,
      ],
      [
        { expiresAt: inHours(367 * 24) },
        /^expiresAt: a token for every project lives at most 366 days/,
      ],
      [{ role: 'admin' }, /^role: must be read or write/],
      [{ name: '' }, /^name: /],
    ];
    for (const [body, message] of cases) {
      const res = await mint(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.message).toMatch(message);
    }
  });

  it('lets a worker claim jobs of any project; a project token claims none', async () => {
    const worker = (await mint({})).json.token;
    const upload = await t.app.request('/api/v1/projects/wt/datasets/train/versions?kind=sft', {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/x-ndjson' },
      body: '{"prompt":"Add: 1+1=","response":"2"}\n',
    });
    const submitted = await t.call('POST', '/api/v1/projects/wt/runs', {
      plugin: 'full',
      config: { steps: 5, warmupSteps: 1 },
      datasets: [{ datasetVersionId: ((await upload.json()) as { id: number }).id, role: 'train' }],
    });
    expect(submitted.status, submitted.text).toBe(201);
    // A project's own write token may not take it, even though the run is its project's.
    const scoped = await claim(project.write);
    let claimed = await claim(worker);
    for (let i = 0; i < 80 && claimed.status === 204; i++) {
      await new Promise((r) => setTimeout(r, 100));
      claimed = await claim(worker);
    }
    expect(claimed.status).toBe(200);
    expect(claimed.json.run).toMatchObject({ id: submitted.json.id, plugin: 'full' });
    expect(scoped.status).toBe(403);
    expect(scoped.json.error.message).toBe(
      'workers need a write or admin token that is not tied to one project',
    );
    // Past its expiry it is refused like any expired token.
    await database.db
      .update(apiTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiTokens.id, (await rowOf(worker)).id));
    expect((await claim(worker)).status).toBe(401);
  });
});

describe('heldout tokens', () => {
  const cli = async (args: string[], token: string = t.adminToken) => {
    let stdout = '';
    let stderr = '';
    const code = await tokensCommand(
      [...args, '--server', 'http://heldout.test', '--token', token],
      {
        stdout: (s) => void (stdout += s),
        stderr: (s) => void (stderr += s),
        env: {},
        fetch: async (input, init) => t.app.request(input, init),
      },
    );
    return { code, stdout, stderr };
  };

  it('creates a worker token (alone on stdout), lists and revokes it', async () => {
    const created = await cli(['create', '--worker', '--name', 'gpu-box-2', '--expires-in', '2h']);
    expect(created.code, created.stderr).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^hld_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(
      /^worker token \d+ "gpu-box-2" \(write, every project\) expires /,
    );
    const row = await rowOf(token);
    expect(row).toMatchObject({ projectId: null, role: 'write', revokedAt: null });
    expect(row.expiresAt!.getTime() - Date.now()).toBeGreaterThan(7_100_000);
    expect(row.expiresAt!.getTime() - Date.now()).toBeLessThan(7_300_000);
    expect((await claim(token)).status).toBe(204);

    const listed = await cli(['list']);
    expect(listed.stdout).toMatch(
      new RegExp(`^${row.id}\\twrite\\thld_\\S+\\texpires \\S+\\tgpu-box-2$`, 'm'),
    );
    expect((await cli(['revoke', String(row.id)])).stdout).toBe(
      `revoked token ${row.id} "gpu-box-2"\n`,
    );
    expect((await claim(token)).status).toBe(401);
  });

  it('exits 2 naming what to fix', async () => {
    const cases: [string[], RegExp][] = [
      [['create', '--name', 'x'], /^heldout: tokens create needs --worker/],
      [['create', '--worker'], /^heldout: tokens create needs --name NAME/],
      [
        ['create', '--worker', '--name', 'x', '--expires-in', '30'],
        /^heldout: --expires-in must be/,
      ],
      [['revoke', 'x'], /^heldout: tokens revoke needs the id of one token/],
      [['frob'], /^heldout: tokens: unknown action "frob"/],
    ];
    for (const [args, message] of cases) {
      const res = await cli(args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toMatch(message);
    }
    const refused = await cli(['create', '--worker', '--name', 'x'], project.admin);
    expect([refused.code, refused.stderr]).toEqual([
      2,
      'heldout: 403 forbidden: only an admin token for every project may mint a token for every project\n',
    ]);
  });

  it('is a heldout command', async () => {
    const run = runCli(['tokens', 'create', '--worker', '--name', 'x'], {});
    expect((await run.exited).code).toBe(2);
    expect(run.stderr()).toMatch(/^heldout: tokens needs --token ADMIN \(or HELDOUT_TOKEN\)/);
  });
});

describe("the in-process worker's token", () => {
  it('expires, and rotation hands over a new one and retires the old', async () => {
    const handed: string[] = [];
    const rotation = await rotatingWorkerToken(database.db, 'test:1', {
      ttlMs: 3_600_000,
      graceMs: 0,
      onToken: (token) => void handed.push(token),
    });
    const first = rotation.token;
    const row = await rowOf(first);
    expect(row).toMatchObject({ projectId: null, role: 'write' });
    expect(row.expiresAt!.getTime() - Date.now()).toBeGreaterThan(3_500_000);
    expect(row.expiresAt!.getTime() - Date.now()).toBeLessThan(3_700_000);
    expect((await claim(first)).status).toBe(204);

    const second = await rotation.rotate();
    expect(handed).toEqual([second]);
    expect(rotation.token).toBe(second);
    expect((await claim(second)).status).toBe(204);
    expect((await claim(first)).status).toBe(401);

    await rotation.stop();
    expect((await rowOf(second)).revokedAt).not.toBeNull();
    expect((await claim(second)).status).toBe(401);
  });

  it('keeps a replaced token alive for the grace period only', async () => {
    const rotation = await rotatingWorkerToken(database.db, 'test:2', {
      ttlMs: 3_600_000,
      graceMs: 30_000,
      onToken: () => {},
    });
    const old = rotation.token;
    await rotation.rotate();
    const left = (await rowOf(old)).expiresAt!.getTime() - Date.now();
    expect(left).toBeGreaterThan(20_000);
    expect(left).toBeLessThan(40_000);
    await rotation.stop();
  });

  it('rotates on its own at half its lifetime, and keeps the old token if the handover fails', async () => {
    const handed: string[] = [];
    const errors: unknown[] = [];
    let refuse = true;
    const rotation = await rotatingWorkerToken(database.db, 'test:3', {
      ttlMs: 600,
      graceMs: 0,
      onToken: (token) => {
        if (refuse) throw new Error('worker busy');
        handed.push(token);
      },
      onError: (err) => errors.push(err),
    });
    const first = rotation.token;
    await expect(rotation.rotate()).rejects.toThrow('worker busy');
    expect(rotation.token).toBe(first);
    refuse = false;
    for (let i = 0; i < 50 && handed.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    await rotation.stop();
    expect(handed.length).toBeGreaterThanOrEqual(2);
    expect(errors).toEqual([]);
    const all = await database.db
      .select()
      .from(apiTokens)
      .where(eq(apiTokens.name, 'in-process worker of test:3'));
    // The refused handover's token was revoked at once; none is left alive after stop.
    expect(all.every((r) => r.revokedAt !== null || r.expiresAt!.getTime() <= Date.now())).toBe(
      true,
    );
  });

  it('reaches the worker, which uses it for its next request', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization ?? '');
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const worker = startWorker({
      server: `http://127.0.0.1:${port}`,
      token: 'hld_first',
      gpus: [],
      pollMs: 10,
      logger: memoryLogger('silent').logger,
    });
    try {
      for (let i = 0; i < 100 && !seen.length; i++) await new Promise((r) => setTimeout(r, 10));
      worker.setToken('hld_second');
      const at = seen.length;
      for (let i = 0; i < 100 && seen.length <= at + 1; i++)
        await new Promise((r) => setTimeout(r, 10));
      expect(seen[0]).toBe('Bearer hld_first');
      expect(seen.at(-1)).toBe('Bearer hld_second');
    } finally {
      await worker.stop();
      server.close();
    }
  });

  it('is what a client built with a token getter sends', async () => {
    let token = t.adminToken;
    const client = new HeldoutClient({
      baseUrl: 'http://heldout.test',
      token: () => token,
      fetch: async (input, init) => t.app.request(input, init),
    });
    expect((await client.tokens.listGlobal()).length).toBeGreaterThan(0);
    token = project.write;
    await expect(client.tokens.listGlobal()).rejects.toMatchObject({ status: 403 });
  });
});
