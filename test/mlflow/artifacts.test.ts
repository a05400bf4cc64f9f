import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type mlflowModule from 'mlflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startLiveServer } from '../helpers/live-server.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let dataDir: string;
let exp: string;
let runId: string;
let otherExp: string;
let otherRunId: string;
let writer: string;
let reader: string;
let outsider: string;

const A = '/api/2.0/mlflow-artifacts/artifacts';
const root = () => `${exp}/${runId}/artifacts`;

async function send(
  method: string,
  url: string,
  token: string | null = t.adminToken,
  body?: RequestInit['body'],
) {
  const res = await t.app.request(url, {
    method,
    body,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/octet-stream' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const bytes = new Uint8Array(await res.arrayBuffer());
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read what came back
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, bytes };
}

const put = (rel: string, body: RequestInit['body'], token: string | null = t.adminToken) =>
  send('PUT', `${A}/${root()}/${rel}`, token, body);

/** A body in pieces with no Content-Length, as a client streaming a file sends it. */
function chunked(chunks: number, size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ === chunks) controller.close();
      else controller.enqueue(new Uint8Array(size).fill(97));
    },
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = path.resolve(`.tmp/mlflow-artifacts-${database.name}`);
  t = await testApp(database, { HELDOUT_DATA_DIR: dataDir, HELDOUT_MAX_ARTIFACT_BYTES: '1000' });
  const project = async (name: string): Promise<[string, string]> => {
    const p = (await t.call('POST', '/api/v1/projects', { name })).json;
    const run = (await t.call('POST', `/api/v1/projects/${name}/runs`, { name: 'r' })).json;
    return [String(p.id), run.id as string];
  };
  [exp, runId] = await project('mlf-art');
  [otherExp, otherRunId] = await project('mlf-other');
  const token = async (p: string, role: string) =>
    (await t.call('POST', `/api/v1/projects/${p}/tokens`, { name: role, role })).json.token;
  writer = await token('mlf-art', 'write');
  reader = await token('mlf-art', 'read');
  outsider = await token('mlf-other', 'write');
});
afterAll(async () => {
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('MLflow proxied artifacts', () => {
  it('PUT stores the bytes as a heldout artifact of the run; GET downloads them', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 60, 115, 99, 114, 105, 112, 116, 62]);
    const up = await put('plots/loss.bin', bytes, writer);
    expect([up.status, up.json]).toEqual([200, {}]);
    // The same file heldout's own API shows.
    const native = await t.call('GET', `/api/v1/runs/${runId}/artifacts`);
    expect(native.json.artifacts).toMatchObject([{ path: 'plots/loss.bin', sizeBytes: 12 }]);

    const down = await send('GET', `${A}/${root()}/plots/loss.bin`, reader);
    expect(down.status).toBe(200);
    expect(down.bytes).toEqual(bytes);
    expect(down.headers.get('content-type')).toBe('application/octet-stream');
    expect(down.headers.get('content-disposition')).toMatch(/^attachment; filename="loss.bin"/);
    expect(down.headers.get('x-content-type-options')).toBe('nosniff');

    // Last write wins, still 200 (never 201).
    expect((await put('plots/loss.bin', 'v2', writer)).status).toBe(200);
    const again = await send('GET', `${A}/${root()}/plots/loss.bin`, reader);
    expect(new TextDecoder().decode(again.bytes)).toBe('v2');
    // The /ajax-api alias the UI uses.
    const ajax = await send(
      'GET',
      `/ajax-api/2.0/mlflow-artifacts/artifacts/${root()}/plots/loss.bin`,
    );
    expect(ajax.status).toBe(200);
  });

  it('streams a body without Content-Length and refuses one over the size cap, keeping nothing', async () => {
    const fits = await put('stream/fits.txt', chunked(10, 100));
    expect([fits.status, fits.json]).toEqual([200, {}]);
    const over = await put('stream/over.txt', chunked(11, 100));
    // heldout's 413, or MLflow's 400 for the code: a client mistake either way, never a 5xx.
    expect(over.status).toBeOneOf([400, 413]);
    expect(over.json.error_code).toBe('INVALID_PARAMETER_VALUE');
    const declared = await put('stream/over.txt', new Uint8Array(1001));
    expect(declared.status).toBeOneOf([400, 413]);
    expect(declared.json.error_code).toBe('INVALID_PARAMETER_VALUE');
    const gone = await send('GET', `${A}/${root()}/stream/over.txt`);
    expect([gone.status, gone.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
  });

  it('lists one directory with names relative to it, directories from path prefixes', async () => {
    for (const p of ['ls/a.txt', 'ls/sub/b.txt', 'ls/sub/deep/c.txt', 'ls/z.bin'])
      await put(p, 'x'.repeat(p.length), writer);
    const ls = await send('GET', `${A}?path=${encodeURIComponent(`${root()}/ls`)}`, reader);
    expect([ls.status, ls.json]).toEqual([
      200,
      {
        files: [
          { path: 'a.txt', is_dir: false, file_size: 8 },
          { path: 'sub', is_dir: true },
          { path: 'z.bin', is_dir: false, file_size: 8 },
        ],
      },
    ]);
    const sub = await send('GET', `${A}?path=${root()}/ls/sub/`, reader);
    expect(sub.json.files).toEqual([
      { path: 'b.txt', is_dir: false, file_size: 12 },
      { path: 'deep', is_dir: true },
    ]);
    const top = await send('GET', `${A}?path=${root()}`, reader);
    expect(top.json.files).toContainEqual({ path: 'ls', is_dir: true });
    const empty = await send('GET', `${A}?path=${root()}/nothing`, reader);
    expect([empty.status, empty.json]).toEqual([200, { files: [] }]);
  });

  it('DELETE removes a file, or a directory and all below it; heldout no longer lists them', async () => {
    for (const p of ['del/one.txt', 'del/dir/two.txt', 'del/dir/three.txt', 'del/dirx.txt'])
      await put(p, 'x', writer);
    expect((await send('DELETE', `${A}/${root()}/del/one.txt`, reader)).status).toBe(403);
    const one = await send('DELETE', `${A}/${root()}/del/one.txt`, writer);
    expect([one.status, one.json]).toEqual([200, {}]);
    expect((await send('GET', `${A}/${root()}/del/one.txt`)).status).toBe(404);
    expect((await send('DELETE', `${A}/${root()}/del/dir`, writer)).json).toEqual({});
    const left = await t.call('GET', `/api/v1/runs/${runId}/artifacts?prefix=del/`);
    // "dirx.txt" shares the prefix "del/dir" but is not under the directory.
    expect(left.json.artifacts.map((a: { path: string }) => a.path)).toEqual(['del/dirx.txt']);
    const missing = await send('DELETE', `${A}/${root()}/del/one.txt`, writer);
    expect([missing.status, missing.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
  });

  it('refuses unsafe paths as INVALID_PARAMETER_VALUE naming path, for every method', async () => {
    await put('safe/f.txt', 'x');
    const unsafe = [
      'safe/..%2f..%2fescape', // encoded slashes around ".."
      'safe/%2e%2e/%2e%2e/escape', // encoded dots
      'safe/%252e%252e/escape', // double-encoded dots
      'safe/%25252e%25252e/escape', // triple-encoded
      'safe/a%5cb', // backslash
      'safe/..%5c..%5cescape',
      'safe/a%00b', // NUL
      'safe//f.txt', // empty segment
    ];
    for (const rel of unsafe) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const res = await send(
          method,
          `${A}/${root()}/${rel}`,
          t.adminToken,
          method === 'PUT' ? 'x' : undefined,
        );
        expect([res.status, res.json?.error_code], `${method} ${rel}`).toEqual([
          400,
          'INVALID_PARAMETER_VALUE',
        ]);
        expect(res.json.message).toMatch(/'path'/);
      }
    }
    const listed = [
      `${root()}/../../${otherExp}/${otherRunId}/artifacts`,
      `${root()}/%2e%2e`,
      `${root()}/%252e%252e`,
      `/${root()}`,
      `${root()}\\..`,
      `${root()}/a\u0000b`,
      'C:/x',
      '',
    ];
    for (const p of listed) {
      const res = await send('GET', `${A}?path=${encodeURIComponent(p)}`);
      expect([res.status, res.json.error_code], p).toEqual([400, 'INVALID_PARAMETER_VALUE']);
      expect(res.json.message).toMatch(/'path'/);
    }
    // A URL's own ".." segments are resolved before routing; what is left is not a run's path.
    const dots = await send('GET', `${A}/${root()}/../../../../../../etc/passwd`);
    expect(dots.status).toBeGreaterThanOrEqual(400);
    expect(dots.status).toBeLessThan(500);
    // Absolute: an empty first segment.
    const abs = await send('GET', `${A}//etc/passwd`);
    expect([abs.status, abs.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
  });

  it("answers RESOURCE_DOES_NOT_EXIST for a run outside the path's experiment, or no such run", async () => {
    await put('where.txt', 'x');
    for (const p of [
      `${otherExp}/${runId}/artifacts/where.txt`,
      `${exp}/${otherRunId}/artifacts/where.txt`,
      `${exp}/00000000-0000-4000-8000-000000000000/artifacts/where.txt`,
      `${exp}/not-a-run/artifacts/where.txt`,
    ]) {
      const res = await send('GET', `${A}/${p}`);
      expect([res.status, res.json.error_code], p).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    }
    const shape = await send('GET', `${A}/${exp}/${runId}/elsewhere/where.txt`);
    expect([shape.status, shape.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
  });

  it('needs a token of the project: write to PUT or DELETE, read to GET or list', async () => {
    await put('auth.txt', 'x');
    const file = `${A}/${root()}/auth.txt`;
    const list = `${A}?path=${root()}`;
    for (const [method, url] of [
      ['GET', file],
      ['GET', list],
      ['PUT', file],
      ['DELETE', file],
    ] as const) {
      const body = method === 'PUT' ? 'y' : undefined;
      const anon = await send(method, url, null, body);
      expect([anon.status, anon.json.error_code], `anonymous ${method}`).toEqual([
        401,
        'UNAUTHENTICATED',
      ]);
      const other = await send(method, url, outsider, body);
      expect([other.status, other.json.error_code], `outsider ${method}`).toEqual([
        403,
        'PERMISSION_DENIED',
      ]);
    }
    const readPut = await put('auth.txt', 'y', reader);
    expect([readPut.status, readPut.json.error_code]).toEqual([403, 'PERMISSION_DENIED']);
    expect((await send('GET', file, reader)).status).toBe(200);
    expect((await send('GET', list, reader)).status).toBe(200);
  });
});

describe('GET /api/2.0/mlflow/artifacts/list', () => {
  const L = '/api/2.0/mlflow/artifacts/list';
  it("lists a directory of the run with paths from the run's root, and the root URI", async () => {
    for (const p of ['tl/a.txt', 'tl/sub/b.txt']) await put(p, 'abc', writer);
    const top = await t.call('GET', `${L}?run_id=${runId}`, undefined, reader);
    expect(top.status).toBe(200);
    expect(top.json.root_uri).toBe(`mlflow-artifacts:/${exp}/${runId}/artifacts`);
    expect(top.json.files).toContainEqual({ path: 'tl', is_dir: true });
    const dir = await t.call('GET', `${L}?run_id=${runId}&path=tl`, undefined, reader);
    expect(dir.json).toEqual({
      root_uri: `mlflow-artifacts:/${exp}/${runId}/artifacts`,
      files: [
        { path: 'tl/a.txt', is_dir: false, file_size: 3 },
        { path: 'tl/sub', is_dir: true },
      ],
    });
    const old = await t.call('GET', `${L}?run_uuid=${runId}&path=tl/sub`, undefined, reader);
    expect(old.json.files).toEqual([{ path: 'tl/sub/b.txt', is_dir: false, file_size: 3 }]);
  });

  it('refuses a missing run id, a bad path, an unknown run and other tokens', async () => {
    const none = await t.call('GET', L);
    expect([none.status, none.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    for (const p of ['..', 'tl/../..', '%2e%2e', '/etc', 'a\\b'])
      expect(
        (await t.call('GET', `${L}?run_id=${runId}&path=${encodeURIComponent(p)}`)).json.error_code,
        p,
      ).toBe('INVALID_PARAMETER_VALUE');
    const unknown = await t.call('GET', `${L}?run_id=00000000-0000-4000-8000-000000000000`);
    expect([unknown.status, unknown.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    expect((await t.call('GET', `${L}?run_id=${runId}`, undefined, null)).status).toBe(401);
    expect((await t.call('GET', `${L}?run_id=${runId}`, undefined, outsider)).status).toBe(403);
  });
});

describe('POST /api/2.0/mlflow/logged-models/search', () => {
  const S = '/api/2.0/mlflow/logged-models/search';
  it('finds no logged models (heldout has none) in a readable experiment', async () => {
    const res = await t.call('POST', S, { experiment_ids: [exp], max_results: 10 }, reader);
    expect([res.status, res.json]).toEqual([200, { models: [] }]);
    expect((await t.call('POST', S, {}, reader)).json).toEqual({ models: [] });
  });

  it('validates the body and the experiments', async () => {
    for (const body of [
      { experiment_ids: exp },
      { experiment_ids: [Number(exp)] },
      { max_results: '10' },
      { max_results: 1.5 },
      { order_by: 'name' },
    ]) {
      const res = await t.call('POST', S, body);
      expect([res.status, res.json.error_code], JSON.stringify(body)).toEqual([
        400,
        'INVALID_PARAMETER_VALUE',
      ]);
    }
    const bad = await t.call('POST', S, '{not json');
    expect([bad.status, bad.json.error_code]).toEqual([400, 'MALFORMED_REQUEST']);
    const unknown = await t.call('POST', S, { experiment_ids: ['999999'] });
    expect([unknown.status, unknown.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    const hidden = await t.call('POST', S, { experiment_ids: [exp] }, outsider);
    expect([hidden.status, hidden.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    expect((await t.call('POST', S, { experiment_ids: [exp] }, null)).status).toBe(401);
  });
});

describe("the npm mlflow client's Artifacts.list", () => {
  it('lists what was uploaded through the proxied route, on a listening server', async () => {
    const token = 'hld_mlflow-artifacts-live-test';
    const live = await startLiveServer(token);
    try {
      const project = await live.client.projects.create({ name: 'mlf-live' });
      const run = await live.client.runs.create('mlf-live', { name: 'r' });
      const auth = { Authorization: `Bearer ${token}` };
      const base = `${live.server.url}${A}/${project.id}/${run.id}/artifacts`;
      for (const p of ['model/weights.bin', 'model/config.json', 'README.md']) {
        const res = await fetch(`${base}/${p}`, { method: 'PUT', headers: auth, body: 'hello' });
        expect(res.status).toBe(200);
      }
      // index.js exports the class itself; its types declare it as the module's default.
      const Client = createRequire(import.meta.url)('mlflow') as typeof mlflowModule.default;
      const mlflow = new Client({ endpoint: live.server.url, headers: auth });
      const top = await mlflow.Artifacts.list({ run_id: run.id, path: '' });
      expect(top).toEqual({
        root_uri: `mlflow-artifacts:/${project.id}/${run.id}/artifacts`,
        files: [
          { path: 'README.md', is_dir: false, file_size: 5 },
          { path: 'model', is_dir: true },
        ],
      });
      const model = await mlflow.Artifacts.list({ run_id: run.id, path: 'model' });
      expect(model.files).toEqual([
        { path: 'model/config.json', is_dir: false, file_size: 5 },
        { path: 'model/weights.bin', is_dir: false, file_size: 5 },
      ]);
      const refused = mlflow.Artifacts.list({ run_id: run.id, path: '../x' });
      await expect(refused).rejects.toThrow(/INVALID_PARAMETER_VALUE/);
    } finally {
      await live.close();
    }
  });
});
