import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpointDir } from '../../plugins/model/checkpoint.ts';
import {
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
} from '../../plugins/model/safetensors.ts';
import { MAX_ROW_BYTES } from '../../server/services/datasets.ts';
import { sendAs, testApp, type Json, type TestApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { waitFor } from '../helpers/live-server.ts';

/**
 * The classes of bug behind MLflow's long CVE list, each shown impossible here by one test:
 * unbounded uploads, path traversal, SSRF, untrusted pickles and code, unbounded queries. The
 * everyday behaviour of each route (caps, listing, auth) is tested beside the route; these tests
 * are the attacker's view.
 */

let database: TestDatabase;
let t: TestApp;
let dataDir: string;
let projectId: number;
let runId: string;

const MiB = 1024 ** 2;
const ZERO = '00000000-0000-4000-8000-000000000000';
const A = '/api/2.0/mlflow-artifacts/artifacts';
const M = '/api/2.0/mlflow';

/**
 * Sends as the global admin; an object goes as JSON, labelled so as MLflow clients do (MLflow
 * refuses other types).
 */
const send = (
  app: TestApp,
  method: string,
  url: string,
  body?: RequestInit['body'] | object,
  headers: Record<string, string> = {},
) => sendAs(app, app.adminToken, method, url, body, { headers });

/**
 * A body of `total` bytes made only as the server reads it, in `chunk`-byte pieces with no
 * Content-Length, each piece from `fill`; `pulled()` says how much the server asked for.
 */
function lazyBody(total: number, chunk: number, fill: (offset: number) => Uint8Array) {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) return controller.close();
      controller.enqueue(fill(sent));
      sent += chunk;
    },
  });
  return { stream, pulled: () => sent };
}

const bytes = (n: number, value = 97) => new Uint8Array(n).fill(value);

/** Every file under `dir`, relative: what an upload left on disk. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => fs.lstatSync(path.join(dir, f)).isFile())
    .sort();
}

const put = (
  app: TestApp,
  rel: string,
  body: RequestInit['body'],
  type = 'application/octet-stream',
) =>
  send(app, 'PUT', `/api/v1/runs/${runId}/artifacts?path=${encodeURIComponent(rel)}`, body, {
    'content-type': type,
  });

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = path.resolve(`.tmp/security-${database.name}`);
  t = await testApp(database, { HELDOUT_DATA_DIR: dataDir });
  projectId = (await t.call('POST', '/api/v1/projects', { name: 'sec' })).json.id;
  runId = (await t.call('POST', '/api/v1/projects/sec/runs', { name: 'r' })).json.id;
});
afterAll(async () => {
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(`${dataDir}-outside`, { recursive: true, force: true });
});

describe('what MLflow CVEs were made of cannot happen here', () => {
  // MLflow CVE class: denial of service by large uploads (bodies buffered whole in memory, no
  // size cap on artifact or request bodies). The byte and row caps themselves (413, nothing
  // stored) are in datasets.test.ts and artifacts.test.ts; this shows the bytes are never held.
  it('streams uploads to disk as they arrive, and stops reading an over-cap body at the cap', async () => {
    // 1. An artifact goes to disk as it is read: each time the client is asked for more, the
    // temporary file already holds all but the last few pieces sent. A server that buffered
    // the body would write nothing until the end (a lag of the whole body).
    const tmpDir = path.join(dataDir, 'store', 'tmp');
    const onDisk = () =>
      filesUnder(tmpDir).reduce((n, f) => {
        try {
          return n + fs.statSync(path.join(tmpDir, f)).size;
        } catch {
          return n; // renamed into place between the listing and the stat
        }
      }, 0);
    const total = 64 * MiB;
    const piece = 256 * 1024;
    let maxLag = 0;
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        maxLag = Math.max(maxLag, sent - onDisk());
        controller.enqueue(bytes(piece, (sent / piece) % 251));
        sent += piece;
      },
    });
    const big = await put(t, 'stream/big.bin', stream);
    expect(big.status).toBe(201);
    expect(big.json.sizeBytes).toBe(total);
    expect(maxLag).toBeLessThanOrEqual(8 * piece);

    // 2. Over a cap, reading stops at the cap: the rest of a 1 GiB body is never asked for.
    const capped = await testApp(database, {
      HELDOUT_DATA_DIR: dataDir,
      HELDOUT_MAX_ARTIFACT_BYTES: String(MiB),
      HELDOUT_MAX_DATASET_BYTES: String(64 * MiB),
      HELDOUT_MAX_DATASET_ROWS: '1000',
      HELDOUT_MAX_JSON_BYTES: String(MiB),
    });
    const before = filesUnder(dataDir);
    const slack = 4 * 64 * 1024;
    const chunk = 64 * 1024;
    const endless = () => lazyBody(1024 * MiB, chunk, () => bytes(chunk));

    const artifact = endless();
    const native = await put(capped, 'stream/over.bin', artifact.stream);
    expect([native.status, native.json.error.code]).toEqual([413, 'payload_too_large']);
    expect(artifact.pulled()).toBeLessThanOrEqual(MiB + slack);

    const viaMlflow = endless();
    const mlflow = await send(
      capped,
      'PUT',
      `${A}/${projectId}/${runId}/artifacts/stream/over.bin`,
      viaMlflow.stream,
    );
    expect([mlflow.status, mlflow.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(viaMlflow.pulled()).toBeLessThanOrEqual(MiB + slack);

    // A dataset with no newline is one row: held only up to MAX_ROW_BYTES, not the 64 MiB cap.
    const oneLine = endless();
    const dataset = await send(
      capped,
      'POST',
      '/api/v1/projects/sec/datasets/endless/versions?kind=text',
      oneLine.stream,
      { 'content-type': 'application/x-ndjson' },
    );
    expect([dataset.status, dataset.json.error.message]).toEqual([
      413,
      `line 1: a row may hold at most ${MAX_ROW_BYTES} bytes`,
    ]);
    expect(oneLine.pulled()).toBeLessThanOrEqual(MAX_ROW_BYTES + slack);

    const row = new TextEncoder().encode('{"text":"a"}\n');
    const rows = lazyBody(1024 * MiB, row.length, () => row);
    const tooManyRows = await send(
      capped,
      'POST',
      '/api/v1/projects/sec/datasets/rows/versions?kind=text',
      rows.stream,
      { 'content-type': 'application/x-ndjson' },
    );
    expect([tooManyRows.status, tooManyRows.json.error.message]).toEqual([
      413,
      'a dataset may hold at most 1000 rows',
    ]);
    expect(rows.pulled()).toBeLessThanOrEqual(1010 * row.length);

    // JSON bodies, which are parsed whole, are refused past HELDOUT_MAX_JSON_BYTES on both APIs.
    for (const url of [`${M}/runs/log-batch`, '/api/v1/projects']) {
      const json = endless();
      const res = await send(capped, 'POST', url, json.stream, {
        'content-type': 'application/json',
      });
      expect(res.status, url).toBeOneOf([400, 413]);
      expect(res.json.error_code ?? res.json.error.code, url).toBeOneOf([
        'INVALID_PARAMETER_VALUE',
        'payload_too_large',
      ]);
      expect(json.pulled(), url).toBeLessThanOrEqual(MiB + slack);
    }

    expect(filesUnder(dataDir)).toEqual(before);
    const stored = await database.sql`
      select path from artifacts where path = 'stream/over.bin'
      union all select name from datasets where name in ('endless', 'rows')`;
    expect(stored).toEqual([]);
  });

  // MLflow CVE class: path traversal in artifact handlers (CVE-2023-1177, CVE-2023-2780,
  // CVE-2023-6909, CVE-2024-1483 and kin: "..", encoded and double-encoded "..", backslashes,
  // absolute paths, reading or writing files anywhere the server can). Here no client string ever
  // becomes a file path: artifact paths are database keys, and blobs are named by their sha256.
  it('refuses traversal in native and MLflow artifact paths, follows no symlink, and serves uploads only as downloads', async () => {
    const outside = `${dataDir}-outside`;
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'TOP SECRET');
    const variants = [
      '../../secret.txt', // raw
      '%2e%2e%2f%2e%2e%2fsecret.txt', // URL-encoded
      '%252e%252e%252fsecret.txt', // double-encoded
      '..\\..\\secret.txt', // backslash
      '/etc/passwd', // absolute
      'C:\\windows\\win.ini',
      'a\u0000.txt', // NUL
    ];
    for (const v of variants) {
      const native = `/api/v1/runs/${runId}/artifacts`;
      const query = `?path=${encodeURIComponent(v)}`;
      for (const method of ['PUT', 'GET']) {
        const url = method === 'PUT' ? native + query : `${native}/content${query}`;
        const res = await send(t, method, url, method === 'PUT' ? 'evil' : undefined);
        expect([res.status, res.json.error.message], `${method} ${v}`).toEqual([
          400,
          expect.stringMatching(/^path: /),
        ]);
      }
      // MLflow clients percent-encode the path once; an attacker may send it as is, too.
      for (const sent of [encodeURIComponent(v).replace(/%2F/g, '/'), v.replace(/\\/g, '%5C')]) {
        for (const method of ['PUT', 'GET', 'DELETE']) {
          const res = await send(
            t,
            method,
            `${A}/${projectId}/${runId}/artifacts/safe/${sent}`,
            method === 'PUT' ? 'evil' : undefined,
          );
          expect(res.status, `${method} ${sent}`).toBeGreaterThanOrEqual(400);
          expect(res.status, `${method} ${sent}`).toBeLessThan(500);
          expect(res.text).not.toContain('TOP SECRET');
        }
      }
      const listed = await send(
        t,
        'GET',
        `${M}/artifacts/list?run_id=${runId}&path=${encodeURIComponent(v)}`,
      );
      expect([listed.status, listed.json.message], v).toEqual([
        400,
        expect.stringMatching(/'path'/),
      ]);
    }
    const rows = await database.sql<{ path: string }[]>`select path from artifacts`;
    expect(rows.filter((r) => /secret|passwd|win\.ini|\.\.|\\|\0/.test(r.path))).toEqual([]);

    // Storage keys are hashes the server computed, so nothing a client sends reaches the disk.
    const victim = await put(t, 'victim.txt', 'harmless');
    const keys = await database.sql<{ storage_key: string }[]>`select storage_key from artifacts`;
    for (const { storage_key } of keys)
      expect(storage_key).toMatch(/^sha256\/[0-9a-f]{2}\/[0-9a-f]{62}$/);

    // A symlink planted in the store (a file, or a directory on the way) is refused, not followed.
    const blob = path.join(
      dataDir,
      'store/blobs/sha256',
      victim.json.sha256.slice(0, 2),
      victim.json.sha256.slice(2),
    );
    const nativeUrl = `/api/v1/runs/${runId}/artifacts/content?path=victim.txt`;
    const mlflowUrl = `${A}/${projectId}/${runId}/artifacts/victim.txt`;
    fs.rmSync(blob);
    fs.symlinkSync(path.join(outside, 'secret.txt'), blob);
    for (const url of [nativeUrl, mlflowUrl]) {
      const res = await send(t, 'GET', url);
      expect(res.status, url).toBe(500);
      expect(res.text).not.toContain('TOP SECRET');
    }
    const fanDir = path.dirname(blob);
    fs.rmSync(fanDir, { recursive: true });
    fs.copyFileSync(path.join(outside, 'secret.txt'), path.join(outside, path.basename(blob)));
    fs.symlinkSync(outside, fanDir);
    for (const url of [nativeUrl, mlflowUrl]) {
      const res = await send(t, 'GET', url);
      expect(res.status, url).toBe(500);
      expect(res.text).not.toContain('TOP SECRET');
    }
    // Nor is a symlinked directory written through: the upload fails and nothing lands outside.
    const outsideBefore = fs.readdirSync(outside).sort();
    expect((await put(t, 'again.txt', 'harmless')).status).toBe(500);
    expect(fs.readdirSync(outside).sort()).toEqual(outsideBefore);
    fs.unlinkSync(fanDir);
    fs.mkdirSync(fanDir);

    // Stored XSS: whatever the upload claimed to be, it comes back as an inert download.
    for (const [name, type, body] of [
      ['x/evil.html', 'text/html', '<script>alert(document.cookie)</script>'],
      [
        'x/evil.svg',
        'image/svg+xml',
        '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
      ],
    ] as const) {
      expect((await put(t, name, body, type)).status).toBe(201);
      for (const url of [
        `/api/v1/runs/${runId}/artifacts/content?path=${name}`,
        `${A}/${projectId}/${runId}/artifacts/${name}`,
      ]) {
        const res = await send(t, 'GET', url);
        expect(res.status, url).toBe(200);
        expect(res.headers.get('content-type'), url).toBe('application/octet-stream');
        expect(res.headers.get('content-disposition'), url).toMatch(
          new RegExp(`^attachment; filename="${path.basename(name)}"`),
        );
        expect(res.headers.get('x-content-type-options'), url).toBe('nosniff');
      }
    }
  });

  // MLflow CVE class: SSRF and local file reads through user-supplied locations (an experiment's
  // artifact_location, a model version's source, a dataset's source; CVE-2023-6974,
  // CVE-2024-0520 and kin). heldout's server makes no outbound request from any field: a
  // location is refused or kept as an inert string, and artifacts live only in its own store.
  it('never connects to a URL or reads a file named in a request', async () => {
    let connections = 0;
    const listener = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as net.AddressInfo).port;
    const here = `http://127.0.0.1:${port}`;
    const urls = [`${here}/`, 'file:///etc/passwd', `${here}/latest/meta-data/`];
    try {
      for (const location of urls) {
        const created = await send(t, 'POST', `${M}/experiments/create`, {
          name: `ssrf-${urls.indexOf(location)}`,
          artifact_location: location,
        });
        expect(created.status).toBe(200);
        const got = await send(
          t,
          'GET',
          `${M}/experiments/get?experiment_id=${created.json.experiment_id}`,
        );
        expect(got.json.experiment.artifact_location).toMatch(/^mlflow-artifacts:\/\d+$/);

        const logged = await send(t, 'POST', `${M}/runs/log-inputs`, {
          run_id: runId,
          datasets: [
            { dataset: { name: 'd', digest: 'x', source_type: 'http', source: location } },
          ],
        });
        expect(logged.status).toBe(200);

        // A dataset is its uploaded bytes; a URL in the body or the query is not fetched.
        const dataset = await send(
          t,
          'POST',
          `/api/v1/projects/sec/datasets/by-url/versions?kind=text&url=${encodeURIComponent(location)}`,
          `${location}\n`,
          { 'content-type': 'application/x-ndjson' },
        );
        expect([dataset.status, dataset.json.error.message]).toEqual([
          400,
          expect.stringMatching(/^line 1: /),
        ]);
      }

      await send(t, 'POST', `${M}/registered-models/create`, {
        name: 'ssrf-model',
        tags: [{ key: 'heldout.project', value: 'sec' }],
      });
      expect((await put(t, 'model/MLmodel', 'flavors: {}')).status).toBe(201);
      for (const source of [...urls, `${here}/model`]) {
        const res = await send(t, 'POST', `${M}/model-versions/create`, {
          name: 'ssrf-model',
          source,
        });
        expect([res.status, res.json.message], source).toEqual([
          400,
          expect.stringMatching(/^Invalid value for parameter 'source'/),
        ]);
      }
      // A source that names the run's artifacts is accepted and echoed, but clients are sent
      // to this server's copy of them, never to the host the source names.
      const disguised = `${here}/${runId}/artifacts/model`;
      const version = await send(t, 'POST', `${M}/model-versions/create`, {
        name: 'ssrf-model',
        source: disguised,
        run_link: `${here}/run`,
      });
      expect(version.status).toBe(200);
      expect(version.json.model_version.source).toBe(disguised);
      const uri = await send(
        t,
        'GET',
        `${M}/model-versions/get-download-uri?name=ssrf-model&version=${version.json.model_version.version}`,
      );
      expect(uri.json).toEqual({
        artifact_uri: `mlflow-artifacts:/${projectId}/${runId}/artifacts/model`,
      });

      // The quickstart calls this server's API: at its own socket, never at the Host a client
      // names (the URL of an app.request is what a Host header becomes on a real socket).
      const self = net.createServer((socket) => socket.destroy());
      await new Promise<void>((r) => self.listen(0, '127.0.0.1', r));
      const selfPort = (self.address() as net.AddressInfo).port;
      const quick = await testApp(database, { HELDOUT_DATA_DIR: dataDir, PORT: String(selfPort) });
      const started = await quick.app.request(`${here}/api/v1/quickstart`, {
        method: 'POST',
        body: JSON.stringify({ scale: 'short', project: 'ssrf-quick' }),
        headers: {
          authorization: `Bearer ${quick.adminToken}`,
          'content-type': 'application/json',
        },
      });
      expect(started.status).toBe(202);
      await waitFor(
        'the quickstart to fail against its closed self',
        async () =>
          (await quick.call('GET', '/api/v1/quickstart')).json.status === 'failed'
            ? true
            : undefined,
        20_000,
      );
      self.close();

      await new Promise((r) => setTimeout(r, 200));
      expect(connections).toBe(0);
    } finally {
      listener.close();
    }
  });

  // MLflow CVE class: deserialising untrusted pickles and running code from uploaded models
  // (CVE-2024-37052..37060: loading a logged pytorch/sklearn/langchain model runs its pickle).
  // heldout reads weights only as safetensors and configs only as JSON; `grep -rnE
  // "pickle|eval\(|new Function|node:vm|require\("` over server/ and plugins/ finds nothing (the
  // only dynamic imports load packages the operator configured), and the check below repeats it.
  it('never unpickles or runs an uploaded model, and refuses a malformed safetensors header', async () => {
    const marker = path.join(dataDir, 'pwned');
    // A pickle whose loading would run `touch <marker>`.
    const pickle = `cos\nsystem\n(S'touch ${marker}'\ntR.`;
    const dir = 'checkpoints/step-1';
    expect((await put(t, `${dir}/pytorch_model.bin`, pickle)).status).toBe(201);
    expect((await put(t, `${dir}/model.pkl`, pickle)).status).toBe(201);
    expect(
      (await put(t, `${dir}/modeling_evil.py`, `import os; os.system('touch ${marker}')`)).status,
    ).toBe(201);
    expect((await put(t, `${dir}/config.json`, '{"n_layer": 1}')).status).toBe(201);
    const registered = await t.call('POST', `/api/v1/runs/${runId}/checkpoints`, {
      step: 1,
      kind: 'full',
    });
    expect([registered.status, registered.json.error.message]).toEqual([
      400,
      `step: upload ${dir}/model.safetensors as an artifact of this run before registering the checkpoint`,
    ]);

    // With its weights in safetensors (and a tokenizer) the same directory registers; the rest
    // are inert names.
    const weights = writeSafetensors(new Map([['w', { shape: [1], data: new Float32Array([1]) }]]));
    expect((await put(t, `${dir}/model.safetensors`, weights)).status).toBe(201);
    const tokenizer = JSON.stringify({ heldout_tokenizer: 'byte' });
    expect((await put(t, `${dir}/tokenizer_config.json`, tokenizer)).status).toBe(201);
    expect((await put(t, 'checkpoints/step-10/other.bin', 'not step 1')).status).toBe(201);
    const ok = await t.call('POST', `/api/v1/runs/${runId}/checkpoints`, { step: 1, kind: 'full' });
    expect(ok.status).toBe(201);
    expect(ok.json.files.map((f: { name: string }) => f.name).sort()).toEqual([
      'config.json',
      'model.pkl',
      'model.safetensors',
      'modeling_evil.py',
      'pytorch_model.bin',
      'tokenizer_config.json',
    ]);

    // What a worker does with a checkpoint directory: the same files, no safetensors, refused.
    const local = path.join(dataDir, 'worker-checkpoint');
    fs.mkdirSync(local, { recursive: true });
    fs.writeFileSync(path.join(local, 'pytorch_model.bin'), pickle);
    fs.writeFileSync(path.join(local, 'model.pkl'), pickle);
    fs.writeFileSync(
      path.join(local, 'config.json'),
      JSON.stringify({ vocab_size: 8, n_positions: 8, n_embd: 4, n_layer: 1, n_head: 1 }),
    );
    await expect(loadCheckpointDir(local)).rejects.toThrow(/model\.safetensors/);
    expect(fs.existsSync(marker)).toBe(false);

    // Headers that lie are refused before any tensor is read (more in model/safetensors.test.ts).
    const file = (header: object, dataBytes: number, declared?: bigint) => {
      const json = new TextEncoder().encode(JSON.stringify(header));
      const out = new Uint8Array(8 + json.length + dataBytes);
      new DataView(out.buffer).setBigUint64(0, declared ?? BigInt(json.length), true);
      out.set(json, 8);
      return out;
    };
    const f32 = (shape: number[], offsets: number[], dtype = 'F32') => ({
      w: { dtype, shape, data_offsets: offsets },
    });
    const lies: Array<[Uint8Array, RegExp]> = [
      [file(f32([1], [0, 4]), 4, 1n << 40n), /exceeds the 100000000-byte limit/],
      [file(f32([1], [0, 4]), 4, 10_000n), /runs past the end/],
      [file(f32([1024], [0, 4096]), 16), /out of bounds/],
      [file(f32([2 ** 40, 2 ** 40], [0, 4]), 4), /needs .* bytes, offsets give 4/],
      [file(f32([1], [0, 8], 'I64'), 8), /unsupported dtype "I64"/],
      [file(f32([1], [0, 4], 'PICKLE'), 4), /unknown dtype "PICKLE"/],
    ];
    for (const [bytes, message] of lies) {
      expect(() => readSafetensors(bytes)).toThrow(SafetensorsError);
      expect(() => readSafetensors(bytes)).toThrow(message);
    }

    const sources = ['server', 'plugins'].flatMap((root) =>
      (fs.readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[])
        .filter((f) => f.endsWith('.ts'))
        .map((f) => path.join(root, f)),
    );
    const dangerous = /\bpickle\b|\beval\(|new Function\(|from 'node:vm'|\brequire\(/;
    expect(sources.filter((f) => dangerous.test(fs.readFileSync(f, 'utf8')))).toEqual([]);
  });

  // MLflow CVE class: unbounded queries (search and list calls whose max_results or page size
  // had no upper bound, or that had none at all, answering with every row). Every list endpoint
  // here takes a bounded page size or has a fixed cap; the endpoints that had none are seeded past
  // their cap to show it.
  it('caps every list endpoint, and refuses page sizes out of range naming the field', async () => {
    const doc = (await t.call('GET', '/api/v1/openapi.json')).json;
    const resolve = (s: Json) => (s?.$ref ? doc.components.schemas[s.$ref.split('/').at(-1)] : s);
    const fill = (p: string) =>
      p.replace(/\{(\w+)\}/g, (_, name: string) =>
        name === 'project' ? 'sec' : /Id$|^[ab]$/.test(name) ? ZERO : 'x',
      );
    // The fixed caps of the endpoints without a page size (the `.limit` of their query).
    const unpaged: Record<string, number> = {
      '/projects': 1000,
      '/projects/{project}/tokens': 10_000,
      '/tokens': 10_000, // the tokens for every project
      '/runs/{runId}': 100, // the datasets a run was created with
      '/plugins': Infinity, // the operator's HELDOUT_PLUGINS
      '/runs/{runId}/checkpoints': 10_000,
      '/checkpoints/{checkpointId}': 10_000,
      '/projects/{project}/gates': 10_000,
      '/projects/{project}/protected-aliases': 10_000,
      '/verdicts/{verdictId}': Infinity, // one check per rule of a stored policy
      '/projects/{project}/models': 10_000,
      '/projects/{project}/models/{name}/promotions': 10_000,
      '/projects/{project}/models/{name}/verdicts': 200,
      '/projects/{project}/suites': 1000,
      '/checkpoints/{checkpointId}/evaluations': 1000,
      '/checkpoints/{checkpointId}/findings': 1000,
      '/runs/{runId}/evaluations': 10_000,
      '/quickstart': 100,
    };
    const lists: string[] = [];
    for (const [p, ops] of Object.entries<Json>(doc.paths)) {
      const op = ops.get;
      if (!op) continue;
      const schema = resolve(op.responses?.['200']?.content?.['application/json']?.schema);
      const shapes = (schema?.anyOf ?? [schema]).map(resolve);
      const isList = shapes.some((s: Json) =>
        Object.values<Json>(s?.properties ?? {}).some((v) => v.type === 'array'),
      );
      if (!isList) continue;
      lists.push(p);
      const sizes = (op.parameters ?? []).filter(
        (q: { in: string; name: string }) =>
          q.in === 'query' && ['limit', 'buckets'].includes(q.name),
      );
      if (!sizes.length) {
        expect(unpaged[p], `${p} has neither a page size nor a known cap`).toBeDefined();
        continue;
      }
      for (const size of sizes) {
        expect(size.schema.maximum, p).toBeLessThanOrEqual(100_000);
        // Other required parameters get a well-formed value, so only the page size is wrong.
        const required = (op.parameters ?? [])
          .filter((q: { in: string; required?: boolean }) => q.in === 'query' && q.required)
          .map((q: { name: string }) => `${q.name}=x&`)
          .join('');
        for (const bad of ['1000000000', '-1', 'abc']) {
          const res = await t.call('GET', `/api/v1${fill(p)}?${required}${size.name}=${bad}`);
          expect([res.status, res.json.error.message], `${p} ${size.name}=${bad}`).toEqual([
            400,
            expect.stringMatching(new RegExp(`^${size.name}: `)),
          ]);
        }
      }
    }
    expect(lists.filter((p) => !(p in unpaged)).length).toBeGreaterThan(10);

    // Seeded past the caps (directly: through the API it would take minutes).
    const [ckpt] = await database.sql<{ id: string }[]>`
      insert into checkpoints (project_id, run_id, kind, step, sha256, size_bytes, storage_key, model_config)
      select ${projectId}, ${runId}, 'full'::checkpoint_kind, s, 'x', 1, 'checkpoints/seed-' || s,
        '{}'::jsonb
      from generate_series(100, 10100) s returning id`;
    await database.sql`
      insert into artifacts (run_id, path, size_bytes, sha256, storage_key)
      select ${runId}, 'many/f' || s || '.txt', 1, 'x', 'sha256/00/' || repeat('0', 62)
      from generate_series(0, 10000) s`;
    await database.sql`
      insert into metric_series (run_id, key, last_step, last_value, last_wall_time, min_value, max_value)
      select ${runId}, 'm' || s, 0, 0, 0, 0, 0 from generate_series(0, 10000) s`;
    await database.sql`
      insert into gates (project_id, name, version, policy)
      select ${projectId}, 'g' || s, 1, '{"rules": []}'::jsonb from generate_series(0, 10000) s`;
    const [model] = await database.sql<{ id: number }[]>`
      insert into models (project_id, name) values (${projectId}, 'big') returning id`;
    await database.sql`
      insert into models (project_id, name)
      select ${projectId}, 'm' || s from generate_series(0, 10000) s`;
    await database.sql`
      insert into model_versions (model_id, version, checkpoint_id)
      select ${model!.id}, s, ${ckpt!.id} from generate_series(1, 10001) s`;
    await database.sql`
      insert into promotions (model_id, alias, to_version_id)
      select ${model!.id}, 'production', v.id from model_versions v where v.model_id = ${model!.id}`;

    const capped: Array<[string, (json: Json) => unknown[]]> = [
      [`/api/v1/runs/${runId}/checkpoints`, (j) => j.checkpoints],
      [`/api/v1/runs/${runId}/metrics?limit=10000`, (j) => j.metrics],
      ['/api/v1/projects/sec/gates', (j) => j.gates],
      ['/api/v1/projects/sec/models', (j) => j.models],
      ['/api/v1/projects/sec/models/big', (j) => j.versions],
      ['/api/v1/projects/sec/models/big/promotions', (j) => j.promotions],
      [`${M}/artifacts/list?run_id=${runId}&path=many`, (j) => j.files],
      [`${A}?path=${projectId}/${runId}/artifacts/many`, (j) => j.files],
    ];
    for (const [url, items] of capped) {
      const res = await send(t, 'GET', url);
      expect(res.status, url).toBe(200);
      expect(items(res.json).length, url).toBe(10_000);
    }
    const page = await t.call('GET', `/api/v1/runs/${runId}/artifacts?prefix=many/&limit=1000`);
    expect(page.json.artifacts.length).toBe(1000);
    expect(page.json.nextPageToken).toEqual(expect.any(String));

    // MLflow's searches and histories: max_results out of range is INVALID_PARAMETER_VALUE.
    const mlflowSearches: Array<[string, string, Record<string, unknown>]> = [
      ['GET', 'experiments/search', {}],
      ['POST', 'runs/search', { experiment_ids: [String(projectId)] }],
      ['GET', 'registered-models/search', {}],
      ['GET', 'model-versions/search', {}],
      ['GET', 'metrics/get-history', { run_id: runId, metric_key: 'm1' }],
      ['GET', 'metrics/get-history-bulk-interval', { run_ids: runId, metric_key: 'm1' }],
      ['POST', 'logged-models/search', { experiment_ids: [String(projectId)] }],
    ];
    for (const [method, call, params] of mlflowSearches) {
      for (const bad of [1e9, -1, 'abc']) {
        if (call === 'logged-models/search' && bad === 1e9) continue; // always answers []
        const query = new URLSearchParams({ ...params, max_results: String(bad) } as never);
        const res =
          method === 'GET'
            ? await send(t, 'GET', `${M}/${call}?${query}`)
            : await send(t, 'POST', `${M}/${call}`, { ...params, max_results: bad });
        expect([res.status, res.json.error_code, res.json.message], `${call} ${bad}`).toEqual([
          400,
          'INVALID_PARAMETER_VALUE',
          expect.stringMatching(/'max_results'/),
        ]);
      }
    }
  });
});
