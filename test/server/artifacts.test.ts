import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactsClient } from '../../server/client/artifacts.ts';
import { createTransport } from '../../server/client/transport.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let dataDir: string;
let runId: string;
let otherRunId: string;
let writer: string;
let reader: string;

const sha256 = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** Every file under `dir`, relative, so a test can say exactly what an upload left on disk. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .sort();
}

/** A body that arrives in pieces with no Content-Length, as a client streaming a file sends it. */
function chunked(chunks: number, size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ === chunks) controller.close();
      else controller.enqueue(new Uint8Array(size).fill(97));
    },
  });
}

async function put(
  run: string,
  artifactPath: string,
  body: RequestInit['body'],
  token: string | null = t.adminToken,
  headers: Record<string, string> = {},
) {
  const res = await t.app.request(`/api/v1/runs/${run}/artifacts?path=${artifactPath}`, {
    method: 'PUT',
    body,
    headers: {
      'content-type': 'application/octet-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read what came back
  return { status: res.status, json: (await res.json()) as any };
}

/** Runs are another service's business; these tests only need a row to hang artifacts on. */
async function insertRun(projectId: number): Promise<string> {
  const rows = await database.sql<{ id: string }[]>`
    insert into runs (project_id, name) values (${projectId}, 'r') returning id`;
  return rows[0]!.id;
}

async function count(pattern: string): Promise<number> {
  const rows = await database.sql<{ n: number }[]>`
    select count(*)::int as n from artifacts where path like ${pattern}`;
  return rows[0]!.n;
}

beforeAll(async () => {
  database = await createTestDatabase();
  // A folder of its own around the data directory: the traversal test watches the folder above
  // the data directory, and .tmp/ itself changes while other test files start and finish.
  dataDir = path.resolve(`.tmp/artifacts-${database.name}/data`);
  t = await testApp(database, { HELDOUT_DATA_DIR: dataDir, HELDOUT_MAX_ARTIFACT_BYTES: '1000' });
  await t.call('POST', '/api/v1/projects', { name: 'vision' });
  await t.call('POST', '/api/v1/projects', { name: 'other' });
  const projectId = (await t.call('GET', '/api/v1/projects/vision')).json.id;
  const otherId = (await t.call('GET', '/api/v1/projects/other')).json.id;
  runId = await insertRun(projectId);
  otherRunId = await insertRun(otherId);
  const token = async (role: string) =>
    (await t.call('POST', '/api/v1/projects/vision/tokens', { name: role, role })).json.token;
  writer = await token('write');
  reader = await token('read');
});
afterAll(async () => {
  await database.drop();
  fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
});

describe('artifacts', () => {
  it('round-trip with sha256, size and safe download headers', async () => {
    const bytes = new Uint8Array([0, 1, 2, 255, 254, 10, 13, 60, 115, 99, 114, 105, 112, 116, 62]);
    const up = await put(runId, 'eval/résumé "v1".bin', bytes, writer);
    expect(up.status).toBe(201);
    expect(up.json).toMatchObject({
      runId,
      path: 'eval/résumé "v1".bin',
      sizeBytes: bytes.length,
      sha256: sha256(bytes),
      contentType: 'application/octet-stream',
    });

    const url = `/api/v1/runs/${runId}/artifacts/content?path=${encodeURIComponent('eval/résumé "v1".bin')}`;
    const res = await t.app.request(url, { headers: { authorization: `Bearer ${reader}` } });
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
    expect(Object.fromEntries(res.headers)).toMatchObject({
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.length),
      'x-content-type-options': 'nosniff',
      etag: `"${sha256(bytes)}"`,
      'content-disposition': `attachment; filename="r_sum_ _v1_.bin"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v1%22.bin`,
    });

    const cached = await t.app.request(url, {
      headers: { authorization: `Bearer ${reader}`, 'if-none-match': `"${sha256(bytes)}"` },
    });
    expect(cached.status).toBe(304);

    // Stored by content: the file on disk is named by its hash, never by the user's path.
    expect(filesUnder(dataDir)).toEqual([
      `store/blobs/sha256/${sha256(bytes).slice(0, 2)}/${sha256(bytes).slice(2)}`,
    ]);
  });

  it('streams a chunked body, and one over the limit gets 413 and leaves nothing behind', async () => {
    const ok = await put(runId, 'stream/ok.txt', chunked(4, 250));
    expect(ok.status).toBe(201);
    expect(ok.json.sha256).toBe(sha256('a'.repeat(1000)));

    const before = filesUnder(dataDir);
    const tooBig = await put(runId, 'stream/big.txt', chunked(100, 300));
    expect(tooBig.status).toBe(413);
    expect(tooBig.json.error).toMatchObject({
      code: 'payload_too_large',
      message: 'an artifact may hold at most 1000 bytes',
    });
    const declared = await put(runId, 'stream/declared.txt', 'x'.repeat(1001));
    expect(declared.status).toBe(413);
    expect(filesUnder(dataDir)).toEqual(before);
    const rows = await database.sql`select path from artifacts where path like 'stream/%'`;
    expect(rows.map((r) => r.path)).toEqual(['stream/ok.txt']);
  });

  it('re-uploading a path replaces it (last write wins) and a failed upload keeps the old one', async () => {
    expect((await put(runId, 'model/notes.txt', 'first')).status).toBe(201);
    const second = await put(runId, 'model/notes.txt', 'second version');
    expect(second.status).toBe(200);
    expect(second.json).toMatchObject({ sizeBytes: 14, sha256: sha256('second version') });
    expect((await put(runId, 'model/notes.txt', chunked(10, 200))).status).toBe(413);
    const res = await t.call('GET', `/api/v1/runs/${runId}/artifacts/content?path=model/notes.txt`);
    expect(res.text).toBe('second version');
    expect(await count('model/notes.txt')).toBe(1);
  });

  it('are listed in path order, by prefix, page by page', async () => {
    for (const p of ['list/b.txt', 'list/a.txt', 'list/sub/c.txt', 'listing.txt']) {
      await put(runId, p, p);
    }
    const all = await t.call('GET', `/api/v1/runs/${runId}/artifacts?prefix=list/`);
    expect(all.status).toBe(200);
    expect(all.json.artifacts.map((a: { path: string }) => a.path)).toEqual([
      'list/a.txt',
      'list/b.txt',
      'list/sub/c.txt',
    ]);
    expect(all.json.nextPageToken).toBeNull();

    const paths: string[] = [];
    let token: string | null = '';
    while (token !== null) {
      const page = await t.call(
        'GET',
        `/api/v1/runs/${runId}/artifacts?prefix=list&limit=2${token ? `&pageToken=${token}` : ''}`,
      );
      expect(page.json.artifacts.length).toBeLessThanOrEqual(2);
      paths.push(...page.json.artifacts.map((a: { path: string }) => a.path));
      token = page.json.nextPageToken;
    }
    expect(paths).toEqual(['list/a.txt', 'list/b.txt', 'list/sub/c.txt', 'listing.txt']);

    const bad = await t.call('GET', `/api/v1/runs/${runId}/artifacts?limit=0`);
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^limit: /);
    const badToken = await t.call('GET', `/api/v1/runs/${runId}/artifacts?pageToken=%%%`);
    expect(badToken.status).toBe(400);
  });

  it('refuse every path-traversal variant with 400 naming path, writing nothing', async () => {
    const before = filesUnder(dataDir);
    const outside = path.resolve(dataDir, '..');
    const outsideBefore = fs.readdirSync(outside).sort();
    const variants = [
      '..%2Fescape.txt',
      'a/../../escape.txt',
      '%2e%2e/escape.txt',
      '%2E%2E%2Fescape.txt',
      '%252e%252e/escape.txt',
      '%25252e%25252e%25252fescape.txt',
      'a/./b.txt',
      '%2Fetc%2Fpasswd',
      '/etc/passwd',
      'C:%5Cwindows%5Cx.txt',
      'a%5C..%5Cb.txt',
      'a%00.txt',
      'a%0Ab.txt',
      'a//b.txt',
      'a/b/',
      '',
    ];
    for (const v of variants) {
      const res = await put(runId, v, 'evil');
      expect(res.status, v).toBe(400);
      expect(res.json.error.code, v).toBe('validation_failed');
      expect(res.json.error.message, v).toMatch(/^path: /);
      const get = await t.call('GET', `/api/v1/runs/${runId}/artifacts/content?path=${v}`);
      expect(get.status, v).toBe(400);
    }
    const noPath = await t.call('PUT', `/api/v1/runs/${runId}/artifacts`, 'x');
    expect(noPath.status).toBe(400);
    expect(noPath.json.error.message).toMatch(/^path: /);
    expect(filesUnder(dataDir)).toEqual(before);
    expect(fs.readdirSync(outside).sort()).toEqual(outsideBefore);
    expect((await count('%escape%')) + (await count('%passwd%'))).toBe(0);
  });

  it('need write to upload and read to download; other projects and anonymous callers are refused', async () => {
    expect((await put(runId, 'auth.txt', 'x', reader)).status).toBe(403);
    expect((await put(runId, 'auth.txt', 'x', null)).status).toBe(401);
    expect((await put(otherRunId, 'auth.txt', 'x', writer)).status).toBe(403);
    expect((await put(runId, 'auth.txt', 'x', writer)).status).toBe(201);
    const url = `/api/v1/runs/${runId}/artifacts/content?path=auth.txt`;
    expect((await t.call('GET', url, undefined, reader)).status).toBe(200);
    expect((await t.call('GET', url, undefined, null)).status).toBe(401);
    expect((await t.call('GET', `/api/v1/runs/${runId}/artifacts`, undefined, null)).status).toBe(
      401,
    );

    const open = await testApp(database, { HELDOUT_DATA_DIR: dataDir, HELDOUT_PUBLIC_READ: '1' });
    const anonymous = await open.call('GET', url, undefined, null);
    expect(anonymous.status).toBe(200);
    expect(anonymous.text).toBe('x');
    expect(
      (await open.call('PUT', `/api/v1/runs/${runId}/artifacts?path=y`, 'y', null)).status,
    ).toBe(401);
  });

  it('answer 404 for an unknown run or path and 400 for a malformed run id', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    expect((await put(unknown, 'a.txt', 'x')).status).toBe(404);
    const missing = await t.call('GET', `/api/v1/runs/${runId}/artifacts/content?path=nope.txt`);
    expect(missing.status).toBe(404);
    expect(missing.json.error.message).toBe('artifact "nope.txt" not found');
    const malformed = await put('not-a-uuid', 'a.txt', 'x');
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.message).toMatch(/^runId: /);
  });

  it('are reachable through the typed client helpers', async () => {
    const client = artifactsClient(
      createTransport({
        baseUrl: 'http://localhost',
        token: writer,
        fetch: (input, init) => Promise.resolve(t.app.request(input, init)),
      }),
    );
    const up = await client.upload(runId, 'client/one.txt', chunked(2, 100));
    expect(up).toMatchObject({ path: 'client/one.txt', sizeBytes: 200 });
    await client.upload(runId, 'client/two.txt', 'two');
    const res = await client.download(runId, 'client/two.txt');
    expect(await res.text()).toBe('two');
    expect(res.headers.get('etag')).toBe(`"${sha256('two')}"`);
    const listed = await client.list(runId, { prefix: 'client/', pageSize: 1 });
    expect(listed.map((a) => a.path)).toEqual(['client/one.txt', 'client/two.txt']);
    await expect(client.upload(runId, '../x', 'x')).rejects.toMatchObject({ status: 400 });
  });

  it('are described in the OpenAPI document', async () => {
    const doc = (await t.call('GET', '/api/v1/openapi.json')).json;
    expect(Object.keys(doc.paths['/runs/{runId}/artifacts'])).toEqual(['put', 'get']);
    expect(doc.paths['/runs/{runId}/artifacts/content'].get).toBeDefined();
    expect(
      doc.paths['/runs/{runId}/artifacts'].put.requestBody.content['application/octet-stream'],
    ).toEqual({ schema: { type: 'string', format: 'binary' } });
  });
});
