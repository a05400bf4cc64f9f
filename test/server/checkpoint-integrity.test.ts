import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../../plugins/model/base/builtin.ts';
import { readSafetensors, writeSafetensors } from '../../plugins/model/safetensors.ts';
import { HeldoutClient } from '../../server/client/index.ts';
import { artifacts, checkpoints } from '../../server/db/schema/index.ts';
import { ModelCache } from '../../server/serve/models.ts';
import { CheckpointCorruptError } from '../../server/services/checkpoint-integrity.ts';
import { BlobNotFoundError } from '../../server/storage/blob-store.ts';
import { blobStoreFor } from '../../server/storage/fs-blob-store.ts';
import { modelDir } from '../../server/worker/context.ts';
import { sendAs, testApp, type TestApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { memoryLogger } from '../helpers/logger.ts';

/**
 * Issue 21, "checkpoints are immutable and verified wherever they are loaded", from the attacker's
 * side: each test sends the hostile request with a project write token and expects the refusal
 * that names the rule, then shows the honest request still works.
 */

let database: TestDatabase;
let t: TestApp;
let dataDir: string;
let projectId: number;
let writer: string;
let run = 0;

const TINY = BUILTIN_MODELS['tiny-base']!;
const A = '/api/2.0/mlflow-artifacts/artifacts';
const tiny = (name: string) => new Uint8Array(fs.readFileSync(path.join(TINY, name)));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const blobFile = (sha: string) =>
  path.join(dataDir, 'store', 'blobs', 'sha256', sha.slice(0, 2), sha.slice(2));
/** Every file in the blob store (blobs and uploads in flight). */
const storedFiles = () =>
  fs
    .readdirSync(path.join(dataDir, 'store'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile()).length;

/** The shipped weights under other bytes (their own blob), so one test's tampering stays its own. */
const weightsNamed = (variant: string) =>
  writeSafetensors(readSafetensors(tiny('model.safetensors')).tensors, {
    format: 'pt',
    variant,
  });

/** Sends as the project's writer: bytes and strings as octet-stream, anything else as JSON. */
const send = (method: string, url: string, body?: Uint8Array | string | object) =>
  sendAs(t, writer, method, url, body, { rawType: 'application/octet-stream' });

const put = (runId: string, rel: string, body: Uint8Array | string) =>
  send('PUT', `/api/v1/runs/${runId}/artifacts?path=${encodeURIComponent(rel)}`, body);
const mlflow = (method: string, runId: string, rel: string, body?: Uint8Array | string) =>
  send(method, `${A}/${projectId}/${runId}/artifacts/${rel}`, body);
const register = (runId: string, step: number, kind = 'full') =>
  send('POST', `/api/v1/runs/${runId}/checkpoints`, { step, kind });

/** A new run with `files` uploaded under checkpoints/step-`step`/. */
async function runWith(files: Record<string, Uint8Array | string>, step = 1) {
  const r = await send('POST', '/api/v1/projects/integrity/runs', { name: `r${run++}` });
  expect(r.status).toBe(201);
  for (const [name, bytes] of Object.entries(files))
    expect((await put(r.json.id, `checkpoints/step-${step}/${name}`, bytes)).status).toBe(201);
  return r.json.id as string;
}

/** A registered checkpoint of the shipped model with weights of its own, as version N of `bot`. */
async function servedCheckpoint(variant: string) {
  const weights = weightsNamed(variant);
  const runId = await runWith({
    'config.json': tiny('config.json'),
    'model.safetensors': weights,
    'tokenizer_config.json': tiny('tokenizer_config.json'),
  });
  const c = await register(runId, 1);
  expect(c.status, c.text).toBe(201);
  const v = await send('POST', '/api/v1/projects/integrity/models/bot/versions', {
    checkpointId: c.json.id,
  });
  expect(v.status, v.text).toBe(201);
  return { runId, checkpoint: c.json, weights, model: `bot/${v.json.version}` };
}

const complete = (model: string) =>
  send('POST', '/v1/completions', { model, prompt: 'the', max_tokens: 2, temperature: 0 });

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = path.resolve(`.tmp/checkpoint-integrity-${database.name}`);
  // Failed loads are remembered for a second here, so a test can see both sides of it.
  t = await testApp(database, { HELDOUT_DATA_DIR: dataDir, HELDOUT_SERVE_LOAD_RETRY_SECONDS: '1' });
  projectId = (await t.call('POST', '/api/v1/projects', { name: 'integrity' })).json.id;
  writer = (await t.call('POST', '/api/v1/projects/integrity/tokens', { name: 'w', role: 'write' }))
    .json.token;
  expect((await send('POST', '/api/v1/projects/integrity/models', { name: 'bot' })).status).toBe(
    201,
  );
});
afterAll(async () => {
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('registered checkpoints are immutable', () => {
  it("refuses to replace, add to or delete a registered checkpoint's files, by /api/v1 and by MLflow", async () => {
    const { runId, checkpoint, weights, model } = await servedCheckpoint('immutable');
    const rule = new RegExp(
      `checkpoint ${checkpoint.id} \\(step 1\\).*registered checkpoints are immutable`,
    );
    const junk = new Uint8Array(22).fill(7);
    const filesBefore = storedFiles();

    const native = await put(runId, 'checkpoints/step-1/model.safetensors', junk);
    expect([native.status, native.json.error.code]).toEqual([409, 'conflict']);
    expect(native.json.error.message).toMatch(/cannot replace "checkpoints\/step-1\/model/);
    expect(native.json.error.message).toMatch(rule);
    const viaMlflow = await mlflow('PUT', runId, 'checkpoints/step-1/model.safetensors', junk);
    expect([viaMlflow.status, viaMlflow.json.error_code]).toEqual([409, 'RESOURCE_CONFLICT']);
    expect(viaMlflow.json.message).toMatch(rule);
    for (const added of [
      await put(runId, 'checkpoints/step-1/extra.safetensors', junk),
      await put(runId, 'checkpoints/step-1/sub/dir/file', junk),
    ]) {
      expect(added.status).toBe(409);
      expect(added.json.error.message).toMatch(/cannot add/);
      expect(added.json.error.message).toMatch(rule);
    }
    const added = await mlflow('PUT', runId, 'checkpoints/step-1/tokenizer.json', '{}');
    expect([added.status, added.json.error_code]).toEqual([409, 'RESOURCE_CONFLICT']);
    for (const gone of [
      'checkpoints/step-1/model.safetensors',
      'checkpoints/step-1',
      'checkpoints',
    ]) {
      const res = await mlflow('DELETE', runId, gone);
      expect([res.status, res.json.error_code], gone).toEqual([409, 'RESOURCE_CONFLICT']);
      expect(res.json.message).toMatch(/cannot delete/);
      expect(res.json.message).toMatch(rule);
    }
    // Refused before anything is stored: repeating a refused upload cannot fill the disk.
    expect(storedFiles()).toBe(filesBefore);

    // The same bytes again (a retried upload) change nothing and are not an error.
    const same = await put(runId, 'checkpoints/step-1/model.safetensors', weights);
    expect([same.status, same.json.sha256]).toEqual([200, checkpoint.sha256]);
    const stored = await t.app.request(
      `/api/v1/runs/${runId}/artifacts/content?path=checkpoints/step-1/model.safetensors`,
      { headers: { authorization: `Bearer ${writer}` } },
    );
    expect(sha256(new Uint8Array(await stored.arrayBuffer()))).toBe(checkpoint.sha256);
    // What is served is still the registered checkpoint.
    const served = await complete(model);
    expect(served.status, served.text).toBe(200);

    // Outside registered checkpoints, files stay last-write-wins and deletable.
    expect((await put(runId, 'checkpoints/step-2/model.safetensors', junk)).status).toBe(201);
    expect((await put(runId, 'checkpoints/step-2/model.safetensors', weights)).status).toBe(200);
    expect((await put(runId, 'checkpoints/step-10/x', junk)).status).toBe(201);
    expect((await mlflow('DELETE', runId, 'checkpoints/step-10')).status).toBe(200);
    expect((await mlflow('PUT', runId, 'plots/loss.txt', 'x')).status).toBe(200);
  }, 60_000);

  it('returns the same checkpoint when an unchanged step is registered again, and refuses another kind', async () => {
    const runId = await runWith({
      'config.json': tiny('config.json'),
      'model.safetensors': weightsNamed('again'),
      'tokenizer_config.json': tiny('tokenizer_config.json'),
    });
    const first = await register(runId, 1);
    const again = await register(runId, 1);
    expect(first.status).toBe(201);
    expect([again.status, again.json.id, again.json.sha256]).toEqual([
      201,
      first.json.id,
      first.json.sha256,
    ]);
    const other = await register(runId, 1, 'adapter');
    expect([other.status, other.json.error.code]).toEqual([409, 'conflict']);
    expect(other.json.error.message).toMatch(
      new RegExp(`already checkpoint ${first.json.id}.*registered checkpoints are immutable`),
    );
  });
});

describe('registration checks what loading needs', () => {
  const config = tiny('config.json');
  const tokenizer = { 'tokenizer_config.json': tiny('tokenizer_config.json') };
  const weights = weightsNamed('registration');
  /** 22 bytes of junk after a header length of `n`. */
  const junk22 = (n: number) => {
    const bytes = new Uint8Array(22).fill(7);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(n), true);
    return bytes;
  };
  /** A safetensors file whose header says `header` over `dataBytes` bytes of data. */
  const lying = (header: object, dataBytes: number) => {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + dataBytes);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    return out;
  };

  it('refuses junk weights, a config that is not a JSON object, and a missing tokenizer, naming the file', async () => {
    const cases: Array<[Record<string, Uint8Array | string>, RegExp]> = [
      [
        { 'config.json': config, 'model.safetensors': junk22(100), ...tokenizer },
        /^model\.safetensors: not a safetensors file .*header length 100 runs past the end/,
      ],
      [
        { 'config.json': config, 'model.safetensors': new Uint8Array(22).fill(7), ...tokenizer },
        /^model\.safetensors: .*exceeds the 100000000-byte limit/,
      ],
      [
        { 'config.json': config, 'model.safetensors': 'short', ...tokenizer },
        /^model\.safetensors: .*too short/,
      ],
      [
        {
          'config.json': config,
          'model.safetensors': lying({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8),
          ...tokenizer,
        },
        /^model\.safetensors: .*out of bounds/,
      ],
      [
        { 'config.json': config, 'model.safetensors': lying({}, 0), ...tokenizer },
        /^model\.safetensors: .*holds no tensors/,
      ],
      [
        { 'config.json': '[1, 2]', 'model.safetensors': weights, ...tokenizer },
        /^config\.json: not a JSON object/,
      ],
      [
        { 'config.json': '{"n_layer": 1', 'model.safetensors': weights, ...tokenizer },
        /^config\.json: not a JSON object/,
      ],
      [
        { 'config.json': config, 'model.safetensors': weights },
        /^tokenizer: checkpoints\/step-1: no tokenizer found \(expected tokenizer\.json/,
      ],
      [
        {
          'config.json': config,
          'model.safetensors': weights,
          'tokenizer_config.json': '{"heldout_tokenizer": "sentencepiece"}',
        },
        /^tokenizer: .*unknown heldout_tokenizer "sentencepiece"/,
      ],
      [
        { 'config.json': config, 'model.safetensors': weights, 'tokenizer.json': '{"model": 1' },
        /^tokenizer: checkpoints\/step-1\/tokenizer\.json is not valid JSON/,
      ],
    ];
    for (const [files, message] of cases) {
      const runId = await runWith(files);
      const res = await register(runId, 1);
      expect([res.status, res.json.error.code], String(message)).toEqual([400, 'bad_request']);
      expect(res.json.error.message).toMatch(message);
      // Nothing was registered, so the honest client fixes its files and registers.
      expect((await put(runId, 'checkpoints/step-1/model.safetensors', weights)).status).not.toBe(
        409,
      );
    }

    // The loaders' own rule: a tokenizer file, or a config naming GPT-2's vocabulary.
    const gpt2 = await runWith({
      'config.json': JSON.stringify({ vocab_size: 50257 }),
      'model.safetensors': weights,
    });
    expect((await register(gpt2, 1)).status).toBe(201);
    const ok = await runWith({ 'config.json': config, 'model.safetensors': weights, ...tokenizer });
    expect((await register(ok, 1)).status).toBe(201);
    // An adapter is loaded with its base's tokenizer; its own weights must still parse.
    const adapter = await runWith({
      'adapter_config.json': '{"peft_type": "LORA"}',
      'adapter_model.safetensors': weights,
    });
    expect((await register(adapter, 1, 'adapter')).status).toBe(201);
    const junkAdapter = await runWith({
      'adapter_config.json': '{"peft_type": "LORA"}',
      'adapter_model.safetensors': new Uint8Array(22).fill(7),
    });
    const refused = await register(junkAdapter, 1, 'adapter');
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toMatch(/^adapter_model\.safetensors: not a safetensors/);
  }, 60_000);
});

describe('loading verifies the registered sha256', () => {
  it('serving refuses weights changed on disk (checkpoint_corrupt), remembers it briefly, then loads the mended file', async () => {
    const { checkpoint, weights, model } = await servedCheckpoint('tampered-blob');
    const blob = blobFile(checkpoint.sha256);
    const tampered = weights.slice();
    tampered[tampered.length - 1]! ^= 0xff;
    fs.writeFileSync(blob, tampered);

    const refused = await complete(model);
    expect([refused.status, refused.json.error.code]).toEqual([500, 'checkpoint_corrupt']);
    expect(refused.json.error.message).toContain(`checkpoint ${checkpoint.id} is corrupt`);
    expect(refused.json.error.message).toContain(sha256(tampered));
    expect(refused.json.error.message).toContain(checkpoint.sha256);

    // Mended, but the failure is remembered: answered at once, the files are not read again.
    fs.writeFileSync(blob, weights);
    const remembered = await complete(model);
    expect([remembered.status, remembered.json.error.code]).toEqual([500, 'checkpoint_corrupt']);
    await new Promise((r) => setTimeout(r, 1100));
    const mended = await complete(model);
    expect(mended.status, mended.text).toBe(200);
  }, 60_000);

  it('serving remembers only failures of the files themselves, and tries again after a failure of the store', async () => {
    const models = new ModelCache({
      db: database.db,
      store: blobStoreFor(dataDir),
      logger: memoryLogger().logger,
      max: 4,
      cacheDir: path.join(dataDir, 'remembered-cache'),
      failedLoadTtlMs: 3600_000,
    });
    const rowOf = async (id: string) =>
      (await database.db.select().from(checkpoints).where(eq(checkpoints.id, id)))[0]!;

    // Corrupt: remembered, so mending the file changes nothing until the failure expires.
    const corrupt = await servedCheckpoint('remembered-corrupt');
    const corruptBlob = blobFile(corrupt.checkpoint.sha256);
    fs.writeFileSync(corruptBlob, weightsNamed('not the registered bytes'));
    const row = await rowOf(corrupt.checkpoint.id);
    await expect(models.acquire(row)).rejects.toBeInstanceOf(CheckpointCorruptError);
    fs.writeFileSync(corruptBlob, corrupt.weights);
    await expect(models.acquire(row)).rejects.toBeInstanceOf(CheckpointCorruptError);

    // A config that does not parse (its row pointed at other bytes): remembered too.
    const badConfig = await servedCheckpoint('remembered-config');
    const elsewhere = await runWith({ 'config.json': '{"n_layer": "many"}' });
    const [invalid] = await database.db
      .select()
      .from(artifacts)
      .where(eq(artifacts.runId, elsewhere));
    const configRow = and(
      eq(artifacts.runId, badConfig.runId),
      eq(artifacts.path, 'checkpoints/step-1/config.json'),
    );
    const [original] = await database.db.select().from(artifacts).where(configRow);
    const pointAt = (f: typeof invalid) =>
      database.db
        .update(artifacts)
        .set({ sha256: f!.sha256, storageKey: f!.storageKey, sizeBytes: f!.sizeBytes })
        .where(configRow);
    await pointAt(invalid);
    const configCheckpoint = await rowOf(badConfig.checkpoint.id);
    const unparsable = await models.acquire(configCheckpoint).catch((err: unknown) => err);
    expect(unparsable).toBeInstanceOf(Error);
    expect(unparsable).not.toBeInstanceOf(CheckpointCorruptError);
    await pointAt(original);
    await expect(models.acquire(configCheckpoint)).rejects.toBe(unparsable);

    // The store failing (the blob missing for a moment) is not the checkpoint's fault: not kept.
    const blip = await servedCheckpoint('store-blip');
    const blipBlob = blobFile(blip.checkpoint.sha256);
    fs.rmSync(blipBlob);
    const blipRow = await rowOf(blip.checkpoint.id);
    await expect(models.acquire(blipRow)).rejects.toBeInstanceOf(BlobNotFoundError);
    fs.writeFileSync(blipBlob, blip.weights);
    const loaded = await models.acquire(blipRow);
    loaded.release();
  }, 60_000);

  it('serving and evaluation refuse a weights row pointed at other bytes', async () => {
    const { runId, checkpoint, model } = await servedCheckpoint('tampered-row');
    // Other valid weights, as they would be after an overwrite that bypassed the routes.
    const other = weightsNamed('the attacker');
    const elsewhere = await runWith({ 'model.safetensors': other });
    const [planted] = await database.db
      .select()
      .from(artifacts)
      .where(eq(artifacts.runId, elsewhere));
    await database.db
      .update(artifacts)
      .set({ sha256: planted!.sha256, storageKey: planted!.storageKey, sizeBytes: other.length })
      .where(
        and(eq(artifacts.runId, runId), eq(artifacts.path, 'checkpoints/step-1/model.safetensors')),
      );

    const refused = await complete(model);
    expect([refused.status, refused.json.error.code]).toEqual([500, 'checkpoint_corrupt']);
    expect(refused.json.error.message).toContain(sha256(other));
    expect(refused.json.error.message).toContain(checkpoint.sha256);

    // A worker fetching it for an evaluation or a training fails, and not for a retry.
    const client = new HeldoutClient({
      baseUrl: 'http://heldout.test',
      token: writer,
      fetch: (url, init) => Promise.resolve(t.app.request(url, init)),
    });
    const workDir = path.join(dataDir, 'worker');
    const source = {
      kind: 'checkpoint' as const,
      checkpointId: checkpoint.id,
      runId,
      path: checkpoint.path,
      sha256: checkpoint.sha256,
    };
    const failed = await modelDir(client, source, workDir).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(CheckpointCorruptError);
    expect((failed as CheckpointCorruptError).retryable).toBe(false);
    expect((failed as Error).message).toContain(sha256(other));
    expect((failed as Error).message).toContain(checkpoint.sha256);

    // Its blob changed on disk is refused the same way, after one fresh download.
    const honest = await servedCheckpoint('worker-blob');
    const blob = blobFile(honest.checkpoint.sha256);
    const tampered = honest.weights.slice();
    tampered[tampered.length - 1]! ^= 0xff;
    fs.writeFileSync(blob, tampered);
    const honestSource = {
      ...source,
      checkpointId: honest.checkpoint.id,
      runId: honest.runId,
      sha256: honest.checkpoint.sha256,
    };
    const corrupt = await modelDir(client, honestSource, `${workDir}-2`).catch((e: unknown) => e);
    expect(corrupt).toBeInstanceOf(CheckpointCorruptError);
    expect((corrupt as Error).message).toContain(sha256(tampered));
    fs.writeFileSync(blob, honest.weights);
    const loaded = await modelDir(client, honestSource, `${workDir}-3`);
    expect(sha256(fs.readFileSync(path.join(loaded.dir, 'model.safetensors')))).toBe(
      honest.checkpoint.sha256,
    );
  }, 60_000);
});

describe('MLflow artifact paths', () => {
  it('refuses drive-letter, absolute and UNC paths inside the run, as /api/v1 does', async () => {
    const r = await send('POST', '/api/v1/projects/integrity/runs', { name: 'paths' });
    for (const rel of [
      'C:/x',
      'c:x',
      'C:%5Cx',
      '%5C%5Cserver%5Cshare%5Cx',
      '/etc/passwd',
      'a//b',
    ]) {
      const res = await mlflow('PUT', r.json.id, rel, 'x');
      expect([res.status, res.json.error_code], rel).toEqual([400, 'INVALID_PARAMETER_VALUE']);
      expect(res.json.message).toMatch(/^Invalid value for parameter 'path': must/);
      const native = await put(r.json.id, decodeURIComponent(rel), 'x');
      expect(native.status, rel).toBe(400);
    }
    expect((await mlflow('PUT', r.json.id, 'models/C-x.txt', 'x')).status).toBe(200);
  });
});
