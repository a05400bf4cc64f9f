import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsClient } from '../../server/client/datasets.ts';
import { createTransport } from '../../server/client/transport.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let dataDir: string;

const sha256 = (b: string) => createHash('sha256').update(b).digest('hex');
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const base = '/api/v1/projects/nlp/datasets';

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .sort();
}

async function upload(
  name: string,
  body: RequestInit['body'],
  query = '',
  options: { token?: string | null; type?: string | null; app?: typeof t } = {},
) {
  const { token = t.adminToken, type = 'application/x-ndjson', app = t } = options;
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (type) headers['content-type'] = type;
  const res = await app.app.request(`${base}/${name}/versions${query}`, {
    method: 'POST',
    body,
    headers,
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read what came back
  return { status: res.status, json: (await res.json()) as any };
}

/** A body that arrives line by line with no Content-Length, as a streaming client sends it. */
function streamed(lines: string[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i === lines.length) controller.close();
      else controller.enqueue(new TextEncoder().encode(lines[i++] + '\n'));
    },
  });
}

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = path.resolve(`.tmp/datasets-${database.name}`);
  t = await testApp(database, { HELDOUT_DATA_DIR: dataDir });
  await t.call('POST', '/api/v1/projects', { name: 'nlp' });
});
afterAll(async () => {
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('dataset upload', () => {
  const samples = {
    text: [{ text: 'Once upon a time.' }, { text: 'The end.' }],
    sft: [
      { prompt: 'Add 2 and 2.', response: '4' },
      { prompt: 'Capital of Peru?', response: 'Lima', source: 'extra keys are kept' },
    ],
    preference: [
      { prompt: 'Greet me.', chosen: 'Hello!', rejected: 'No.' },
      { prompt: 'Thank me.', responses: ['Thank you!', 'Thanks.', 'Whatever.'] },
    ],
    eval: [
      { id: 'q1', input: '2+2?', expected: '4' },
      { id: 'q2', input: 'Colour of the sky?', expected: ['blue', 'azure'], metadata: { a: 1 } },
    ],
  };

  for (const [kind, rows] of Object.entries(samples)) {
    it(`stores a ${kind} file as version 1, byte for byte`, async () => {
      const body = jsonl(rows);
      const res = await upload(`${kind}-set`, body, `?kind=${kind}`);
      expect(res.status).toBe(201);
      expect(res.json).toMatchObject({
        project: 'nlp',
        dataset: `${kind}-set`,
        kind,
        version: 1,
        sha256: sha256(body),
        sizeBytes: Buffer.byteLength(body),
        rowCount: rows.length,
        cleaningReport: { rows: rows.length },
      });
      const content = await t.app.request(`${base}/${kind}-set/versions/1/content`, {
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      expect(await content.text()).toBe(body);
      expect(Object.fromEntries(content.headers)).toMatchObject({
        'content-type': 'application/octet-stream',
        'content-disposition': `attachment; filename="${kind}-set-v1.jsonl"; filename*=UTF-8''${kind}-set-v1.jsonl`,
        'x-content-type-options': 'nosniff',
        etag: `"${sha256(body)}"`,
        'content-length': String(Buffer.byteLength(body)),
      });
    });
  }

  it('returns the existing version for identical bytes and makes version n+1 for new ones', async () => {
    const v1 = jsonl([{ text: 'alpha' }, { text: 'beta' }]);
    expect((await upload('versions', v1, '?kind=text')).status).toBe(201);
    const again = await upload('versions', streamed(['{"text":"alpha"}', '{"text":"beta"}']));
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ version: 1, sha256: sha256(v1) });
    const v2 = await upload('versions', jsonl([{ text: 'gamma' }]), '?kind=text');
    expect(v2.status).toBe(201);
    expect(v2.json.version).toBe(2);

    const detail = await t.call('GET', `${base}/versions`);
    expect(detail.json).toMatchObject({ name: 'versions', kind: 'text', latestVersion: 2 });
    expect(detail.json.versions.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    const latest = await t.call('GET', `${base}/versions/versions/latest`);
    expect(latest.json).toMatchObject({ version: 2, rowCount: 1 });
    const list = await t.call('GET', base);
    expect(list.json.datasets).toContainEqual(
      expect.objectContaining({ name: 'versions', latestVersion: 2 }),
    );
    const versions = await database.sql`
      select v.version from dataset_versions v join datasets d on d.id = v.dataset_id
      where d.name = 'versions'`;
    expect(versions.length).toBe(2);
  });

  it('names the line and field of a bad row, and stores nothing', async () => {
    const before = filesUnder(dataDir);
    const rows: unknown[] = Array.from({ length: 20 }, (_, i) => ({
      prompt: `p${i}`,
      response: `r${i}`,
    }));
    rows[16] = { prompt: 'p', response: 42 };
    const res = await upload('broken', jsonl(rows), '?kind=sft');
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({
      code: 'validation_failed',
      message: 'line 17: response: expected string, received number',
    });

    const cases: [string, string, string][] = [
      ['sft', '{"prompt": "a"}', 'line 1: response: required'],
      ['sft', '{"prompt": "a", "response": "b"}\n{"prompt": "a",', 'line 2: malformed JSON'],
      ['sft', '["prompt", "response"]', 'line 1: expected a JSON object, received array'],
      ['text', '\n\n"just a string"', 'line 3: expected a JSON object, received string'],
      ['eval', '{"id": "a", "input": "x", "expected": 3}', 'line 1: expected: expected a string'],
      ['eval', '{"id": "", "input": "x", "expected": "y"}', 'line 1: id: must not be empty'],
      [
        'eval',
        jsonl([
          { id: 'q1', input: 'a', expected: 'b' },
          { id: 'q2', input: 'c', expected: 'd' },
          { id: 'q1', input: 'e', expected: 'f' },
        ]),
        'line 3: id: duplicates the id on line 1',
      ],
      ['eval', '{"id": "a", "input": "x", "expected": "y", "metadata": []}', 'line 1: metadata:'],
      ['text', '', 'the file holds no rows'],
      [
        'preference',
        '{"prompt": "p", "chosen": "a"}',
        'line 1: rejected: required (or give "responses", best first)',
      ],
      [
        'preference',
        '{"prompt": "p", "responses": ["a"]}',
        'line 1: responses: must rank at least 2',
      ],
    ];
    for (const [kind, body, message] of cases) {
      const bad = await upload(`bad-${kind}`, body, `?kind=${kind}`);
      expect(bad.status, body).toBe(400);
      expect(bad.json.error.message, body).toContain(message);
    }

    const invalidUtf8 = new Uint8Array([
      ...Buffer.from('{"text": "ok"}\n{"text": "'),
      0xff,
      0x22,
      0x7d,
    ]);
    const utf8 = await upload('bad-utf8', invalidUtf8, '?kind=text');
    expect(utf8.json.error.message).toBe('line 2: not valid UTF-8');

    // Several bad rows: all listed in details, the first in the message.
    const many = await upload('many', '{"text": 1}\n{"text": "ok"}\n{}\n', '?kind=text');
    expect(many.json.error.message).toBe(
      'line 1: text: expected string, received number (and 1 more in details)',
    );
    expect(many.json.error.details.errors).toEqual([
      { line: 1, field: 'text', message: 'line 1: text: expected string, received number' },
      { line: 3, field: 'text', message: 'line 3: text: required' },
    ]);

    expect(filesUnder(dataDir)).toEqual(before);
    const stored = await database.sql`
      select name from datasets where name like 'bad-%' or name in ('broken', 'many')`;
    expect(stored.length).toBe(0);
  });

  it('refuses a wrong kind with 409, and a missing or unknown kind with 400', async () => {
    await upload('kinds', jsonl([{ text: 'x' }]), '?kind=text');
    const mismatch = await upload('kinds', jsonl([{ prompt: 'a', response: 'b' }]), '?kind=sft');
    expect(mismatch.status).toBe(409);
    expect(mismatch.json.error.message).toBe('dataset "kinds" holds text rows, not sft');
    const missing = await upload('new-one', jsonl([{ text: 'x' }]));
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toBe('kind: required for a new dataset');
    const unknown = await upload('new-one', jsonl([{ text: 'x' }]), '?kind=chat');
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toBe('kind: must be one of text, sft, preference, eval');
  });

  it('validates names and content types', async () => {
    const badName = await upload('9lives', jsonl([{ text: 'x' }]), '?kind=text');
    expect(badName.status).toBe(400);
    expect(badName.json.error.message).toMatch(/^name: must start with a letter/);
    const json = await upload('typed', '{"text": "x"}', '?kind=text', { type: 'application/json' });
    expect(json.status).toBe(415);
    expect(json.json.error.message).toMatch(/application\/x-ndjson/);
    const form = await upload('typed', 'a=b', '?kind=text', {
      type: 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    const untyped = await upload('typed', '{"text": "x"}', '?kind=text', { type: null });
    expect(untyped.status).toBe(201);
    expect((await t.call('GET', `${base}/nothing`)).status).toBe(404);
    expect((await t.call('GET', `${base}/typed/versions/7`)).status).toBe(404);
    const badVersion = await t.call('GET', `${base}/typed/versions/0`);
    expect(badVersion.status).toBe(400);
    expect(badVersion.json.error.message).toMatch(/^version: /);
  });

  it('needs write to upload and read to read', async () => {
    const token = async (role: string) =>
      (await t.call('POST', '/api/v1/projects/nlp/tokens', { name: role, role })).json.token;
    const reader = await token('read');
    const writer = await token('write');
    const body = jsonl([{ text: 'auth' }]);
    expect((await upload('auth', body, '?kind=text', { token: reader })).status).toBe(403);
    expect((await upload('auth', body, '?kind=text', { token: null })).status).toBe(401);
    expect((await upload('auth', body, '?kind=text', { token: writer })).status).toBe(201);
    expect((await t.call('GET', `${base}/auth/versions/1`, undefined, reader)).status).toBe(200);
    expect((await t.call('GET', `${base}/auth`, undefined, null)).status).toBe(401);

    await t.call('POST', '/api/v1/projects', { name: 'elsewhere' });
    const elsewhere = await t.call('GET', '/api/v1/projects/elsewhere/datasets', undefined, reader);
    expect([elsewhere.status, elsewhere.json.error.message]).toEqual([
      404,
      'project "elsewhere" not found',
    ]);

    const open = await testApp(database, { HELDOUT_DATA_DIR: dataDir, HELDOUT_PUBLIC_READ: '1' });
    const anonymous = await open.call('GET', `${base}/auth/versions/1/content`, undefined, null);
    expect(anonymous.status).toBe(200);
    expect(anonymous.text).toBe(body);
    expect((await upload('auth', body, '', { token: null, app: open })).status).toBe(401);
  });

  it('refuses files over the byte or row cap with 413 and stores nothing', async () => {
    const capped = await testApp(database, {
      HELDOUT_DATA_DIR: dataDir,
      HELDOUT_MAX_DATASET_BYTES: '2000',
      HELDOUT_MAX_DATASET_ROWS: '50',
    });
    const before = filesUnder(dataDir);
    const line = JSON.stringify({ text: 'x'.repeat(90) });
    const big = await upload('capped', streamed(Array(30).fill(line)), '?kind=text', {
      app: capped,
      token: capped.adminToken,
    });
    expect(big.status).toBe(413);
    expect(big.json.error.message).toBe('a dataset may hold at most 2000 bytes');
    const declared = await upload('capped', Array(30).fill(line).join('\n'), '?kind=text', {
      app: capped,
      token: capped.adminToken,
    });
    expect(declared.status).toBe(413);
    const rows = await upload('capped', streamed(Array(51).fill('{"text":"a"}')), '?kind=text', {
      app: capped,
      token: capped.adminToken,
    });
    expect(rows.status).toBe(413);
    expect(rows.json.error.message).toBe('a dataset may hold at most 50 rows');
    const fits = await upload('capped', streamed(Array(50).fill('{"text":"a"}')), '?kind=text', {
      app: capped,
      token: capped.adminToken,
    });
    expect(fits.status).toBe(201);
    expect(filesUnder(dataDir).length).toBe(before.length + 1);
  });

  it('are reachable through the typed client helpers', async () => {
    const client = datasetsClient(
      createTransport({
        baseUrl: 'http://localhost',
        token: t.adminToken,
        fetch: (input, init) => Promise.resolve(t.app.request(input, init)),
      }),
    );
    const body = jsonl([{ prompt: 'a', response: 'b' }]);
    const v1 = await client.upload('nlp', 'client-set', 'sft', streamed([body.trim()]));
    expect(v1).toMatchObject({ version: 1, created: true, kind: 'sft' });
    expect(await client.upload('nlp', 'client-set', undefined, body)).toMatchObject({
      version: 1,
      created: false,
    });
    expect((await client.get('nlp', 'client-set')).versions).toHaveLength(1);
    expect((await client.version('nlp', 'client-set')).cleaningReport.rows).toBe(1);
    expect(await (await client.download('nlp', 'client-set', 1)).text()).toBe(body);
    expect((await client.list('nlp')).map((d) => d.name)).toContain('client-set');
    await expect(client.upload('nlp', 'client-set', 'text', body)).rejects.toMatchObject({
      status: 409,
    });
  });

  it('are described in the OpenAPI document', async () => {
    const doc = (await t.call('GET', '/api/v1/openapi.json')).json;
    const upload = doc.paths['/projects/{project}/datasets/{name}/versions'].post;
    expect(Object.keys(upload.requestBody.content)).toEqual([
      'application/x-ndjson',
      'application/octet-stream',
    ]);
    expect(
      doc.paths['/projects/{project}/datasets/{name}/versions/{version}/content'],
    ).toBeDefined();
    expect(doc.components.schemas.CleaningReport).toBeDefined();
  });
});
