import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { collectStorageGarbage } from '../../server/services/storage-gc.ts';
import { sendAs, testApp, type TestApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

/**
 * Issue 21, "a write token can fill the server's disk", from the attacker's side: a project write
 * token uploads past its project's quota (native artifacts, MLflow artifacts, datasets) and past
 * the free-disk floor, and is refused with the rule named and no bytes left on disk; the honest
 * uploads under the quota still work.
 */

const QUOTA = 1000;
let database: TestDatabase;
let t: TestApp;
let dataDir: string;
let writer: string;
let runId: string;
let projectId: number;

/** Every file under `dir`, relative: what the uploads left on disk. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => fs.statSync(path.join(dir, f)).isFile())
    .sort();
}

/** A body in pieces with no Content-Length, so only the stream itself can be refused. */
function chunked(chunks: number, size: number, fill = 97): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent++ === chunks) controller.close();
      else controller.enqueue(new Uint8Array(size).fill(fill));
    },
  });
}

/** Sends `body` as it is, labelled `type`, as the project's writer. */
const send = (
  app: TestApp,
  method: string,
  url: string,
  body: RequestInit['body'],
  type = 'application/octet-stream',
) => sendAs(app, writer, method, url, body, { headers: { 'content-type': type } });

const putArtifact = (rel: string, body: RequestInit['body'], app = t, run = runId) =>
  send(app, 'PUT', `/api/v1/runs/${run}/artifacts?path=${encodeURIComponent(rel)}`, body);
const row = (i: number, size: number) =>
  `${JSON.stringify({ text: `${i}`.padEnd(size - 12, 'x') })}\n`;
const storage = async (project: string) => {
  const { json } = await t.call('GET', `/api/v1/projects/${project}`);
  return [json.storageBytes, json.storageQuotaBytes];
};

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = path.resolve(`.tmp/storage-quota-${database.name}`);
  t = await testApp(database, {
    HELDOUT_DATA_DIR: dataDir,
    HELDOUT_PROJECT_QUOTA_BYTES: String(QUOTA),
  });
  for (const name of ['quota', 'roomy', 'race'])
    expect((await t.call('POST', '/api/v1/projects', { name })).status).toBe(201);
  projectId = (await t.call('GET', '/api/v1/projects/quota')).json.id;
  runId = (await t.call('POST', '/api/v1/projects/quota/runs', { name: 'r' })).json.id;
  writer = (await t.call('POST', '/api/v1/projects/quota/tokens', { name: 'w', role: 'write' }))
    .json.token;
});
afterAll(async () => {
  await database.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('the per-project storage quota (HELDOUT_PROJECT_QUOTA_BYTES)', () => {
  it('refuses uploads past the quota with 413 naming it and the usage, leaving nothing on disk', async () => {
    expect(await storage('quota')).toEqual([0, QUOTA]);
    expect((await putArtifact('weights.bin', new Uint8Array(600).fill(1))).status).toBe(201);
    expect(await storage('quota')).toEqual([600, QUOTA]);
    const before = filesUnder(dataDir);
    expect(before).toHaveLength(1);

    // Streamed with no Content-Length: refused the moment it passes the 400 bytes left.
    const native = await putArtifact('more.bin', chunked(5, 100));
    expect([native.status, native.json.error.code]).toEqual([413, 'payload_too_large']);
    expect(native.json.error.message).toMatch(
      /project "quota" stores 600 bytes and its quota \(HELDOUT_PROJECT_QUOTA_BYTES\) is 1000: an upload may not take it past the quota.*400 bytes fit/,
    );
    expect(native.json.error.details).toEqual({
      quotaBytes: QUOTA,
      usedBytes: 600,
      remainingBytes: 400,
    });

    const mlflow = await send(
      t,
      'PUT',
      `/api/2.0/mlflow-artifacts/artifacts/${projectId}/${runId}/artifacts/more.bin`,
      chunked(5, 100),
    );
    // MLflow's code for heldout's 413 is INVALID_PARAMETER_VALUE (400): a client mistake either way.
    expect(mlflow.status).toBeOneOf([400, 413]);
    expect(mlflow.json.message).toMatch(/HELDOUT_PROJECT_QUOTA_BYTES\) is 1000/);

    const dataset = await send(
      t,
      'POST',
      '/api/v1/projects/quota/datasets/corpus/versions?kind=text',
      [0, 1, 2, 3, 4].map((i) => row(i, 100)).join(''),
      'application/x-ndjson',
    );
    expect([dataset.status, dataset.json.error.code]).toEqual([413, 'payload_too_large']);
    expect(dataset.json.error.message).toMatch(/project "quota" stores 600 bytes.*QUOTA_BYTES/);

    expect(filesUnder(dataDir)).toEqual(before);
    expect((await t.call('GET', `/api/v1/runs/${runId}/artifacts`)).json.artifacts).toHaveLength(1);
    expect(await storage('quota')).toEqual([600, QUOTA]);
  });

  it('takes uploads up to the quota exactly, counts a replaced file as freed, and is per project', async () => {
    const dataset = await send(
      t,
      'POST',
      '/api/v1/projects/quota/datasets/corpus/versions?kind=text',
      [0, 1].map((i) => row(i, 100)).join(''),
      'application/x-ndjson',
    );
    expect(dataset.status, dataset.text).toBe(201);
    expect((await putArtifact('fill.bin', new Uint8Array(200).fill(2))).status).toBe(201);
    expect(await storage('quota')).toEqual([QUOTA, QUOTA]);
    // Full: one more byte is refused.
    expect((await putArtifact('one.bin', new Uint8Array(1))).status).toBe(413);
    // Writing over a file frees its bytes: the 600 become 500.
    expect((await putArtifact('weights.bin', new Uint8Array(500).fill(3))).status).toBe(200);
    expect(await storage('quota')).toEqual([900, QUOTA]);
    // Another project of the same server has its own quota.
    const roomyRun = (await t.call('POST', '/api/v1/projects/roomy/runs', { name: 'r' })).json.id;
    const roomy = await send(
      t,
      'PUT',
      `/api/v1/runs/${roomyRun}/artifacts?path=big.bin`,
      new Uint8Array(900),
    );
    expect(roomy.status).toBe(403); // the write token is scoped to its project
    const admin = await t.app.request(`/api/v1/runs/${roomyRun}/artifacts?path=big.bin`, {
      method: 'PUT',
      body: new Uint8Array(900),
      headers: { authorization: `Bearer ${t.adminToken}` },
    });
    expect(admin.status).toBe(201);
    expect(await storage('roomy')).toEqual([900, QUOTA]);
  });

  it('two uploads that each fit alone cannot both land: the quota is checked again at commit', async () => {
    const raceRun = (await t.call('POST', '/api/v1/projects/race/runs', { name: 'r' })).json.id;
    const raceWriter = (
      await t.call('POST', '/api/v1/projects/race/tokens', { name: 'w', role: 'write' })
    ).json.token;
    const upload = (name: string, fill: number) =>
      t.app.request(`/api/v1/runs/${raceRun}/artifacts?path=${name}`, {
        method: 'PUT',
        body: chunked(6, 100, fill),
        headers: { authorization: `Bearer ${raceWriter}` },
        duplex: 'half',
      } as RequestInit);
    const statuses = (await Promise.all([upload('a.bin', 4), upload('b.bin', 5)])).map(
      (r) => r.status,
    );
    expect(statuses.sort()).toEqual([201, 413]);
    expect(await storage('race')).toEqual([600, QUOTA]);
    // A blob refused at commit was already stored; no row names it, so the collector takes it.
    await collectStorageGarbage(database, dataDir, { graceMs: 0, now: new Date(Date.now() + 1) });
    const blobs = filesUnder(path.join(dataDir, 'store', 'blobs'));
    const keys = await database.sql<{ storage_key: string }[]>`
      select storage_key from artifacts union select storage_key from dataset_versions`;
    expect(blobs.map((f) => `sha256/${f.split(path.sep).slice(1).join('/')}`).sort()).toEqual(
      keys.map((k) => k.storage_key).sort(),
    );
  });

  it('0 means no quota, and a bad value is refused at start naming the variable', async () => {
    expect(loadConfig({ HELDOUT_PROJECT_QUOTA_BYTES: '0' }).HELDOUT_PROJECT_QUOTA_BYTES).toBe(0);
    expect(loadConfig({}).HELDOUT_PROJECT_QUOTA_BYTES).toBe(100 * 1024 ** 3);
    expect(loadConfig({}).HELDOUT_MIN_FREE_DISK_BYTES).toBe(1024 ** 3);
    expect(() => loadConfig({ HELDOUT_PROJECT_QUOTA_BYTES: '-1' })).toThrow(ConfigError);
    expect(() => loadConfig({ HELDOUT_MIN_FREE_DISK_BYTES: 'lots' })).toThrow(
      /HELDOUT_MIN_FREE_DISK_BYTES/,
    );
    const open = await testApp(database, {
      HELDOUT_DATA_DIR: dataDir,
      HELDOUT_PROJECT_QUOTA_BYTES: '0',
    });
    expect((await open.call('GET', '/api/v1/projects/quota')).json.storageQuotaBytes).toBeNull();
    expect((await putArtifact('unlimited.bin', new Uint8Array(5000), open)).status).toBe(201);
  });
});

describe('the free-disk floor (HELDOUT_MIN_FREE_DISK_BYTES)', () => {
  it('refuses every upload with 503 while the disk has less free than the floor, storing nothing', async () => {
    const full = await testApp(database, {
      HELDOUT_DATA_DIR: dataDir,
      HELDOUT_PROJECT_QUOTA_BYTES: '0',
      // A petabyte: no disk this test runs on has that much free.
      HELDOUT_MIN_FREE_DISK_BYTES: String(1024 ** 5),
    });
    const before = filesUnder(dataDir);
    const artifact = await putArtifact('late.bin', new Uint8Array(10), full);
    expect([artifact.status, artifact.json.error.code]).toEqual([503, 'unavailable']);
    expect(artifact.json.error.message).toMatch(
      /short of disk space: its data directory has less than HELDOUT_MIN_FREE_DISK_BYTES \(1125899906842624\) bytes free/,
    );
    const dataset = await send(
      full,
      'POST',
      '/api/v1/projects/quota/datasets/late/versions?kind=text',
      row(1, 50),
      'application/x-ndjson',
    );
    expect([dataset.status, dataset.json.error.code]).toEqual([503, 'unavailable']);
    const mlflow = await send(
      full,
      'PUT',
      `/api/2.0/mlflow-artifacts/artifacts/${projectId}/${runId}/artifacts/late.bin`,
      'x',
    );
    expect([mlflow.status, mlflow.json.error_code]).toEqual([503, 'TEMPORARILY_UNAVAILABLE']);
    expect(filesUnder(dataDir)).toEqual(before);
    // Reading is untouched: only writes need disk.
    expect((await full.call('GET', `/api/v1/runs/${runId}/artifacts`)).status).toBe(200);
  });
});
