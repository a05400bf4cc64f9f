import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpoints, projects, runs } from '../../server/db/schema/index.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let train: number;
let prefs: number;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database, { HELDOUT_PLUGINS: './plugins/examples/last-layer/index.ts' });
  await t.call('POST', '/api/v1/projects', { name: 'tuning' });
  const upload = async (name: string, kind: string, rows: object[]) => {
    const res = await t.app.request(
      `/api/v1/projects/tuning/datasets/${name}/versions?kind=${kind}`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${t.adminToken}`,
          'content-type': 'application/x-ndjson',
        },
        body: rows.map((r) => JSON.stringify(r)).join('\n') + '\n',
      },
    );
    return ((await res.json()) as { id: number }).id;
  };
  train = await upload('sft', 'sft', [{ prompt: 'Add: 1+1=', response: '2' }]);
  prefs = await upload('prefs', 'preference', [
    { prompt: 'Hi', chosen: 'Hello!', rejected: 'What.' },
  ]);
}, 60_000);
afterAll(() => database.drop());

const submit = (body: object) => t.call('POST', '/api/v1/projects/tuning/runs', body);

describe('trainer plugins', () => {
  it('are listed with the JSON schema of their config, third-party ones included', async () => {
    const res = await t.call('GET', '/api/v1/plugins');
    expect(res.status).toBe(200);
    const byName = Object.fromEntries(res.json.plugins.map((p: { name: string }) => [p.name, p]));
    expect(byName.full).toMatchObject({
      version: '1.0.0',
      sdk: '^1',
      source: 'builtin:full',
      capabilities: expect.arrayContaining(['resume']),
    });
    expect(byName.full.configSchema.properties.steps).toMatchObject({
      type: 'integer',
      minimum: 1,
      default: 200,
    });
    expect(byName['last-layer']).toMatchObject({
      version: '0.1.0',
      source: './plugins/examples/last-layer/index.ts',
    });
  });

  it('queue a run with the config validated and defaulted, and the plugin version recorded', async () => {
    const res = await submit({
      plugin: 'full',
      config: { steps: 30 },
      datasets: [{ datasetVersionId: train, role: 'train' }],
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ status: 'queued', plugin: 'full', pluginVersion: '1.0.0' });
    expect(res.json.config).toMatchObject({ steps: 30, batchSize: 8, learningRate: 1e-3, seed: 0 });
  });

  it('refuse an unknown plugin with the list of available ones', async () => {
    const res = await submit({ plugin: 'nope' });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toBe(
      'plugin: no plugin "nope"; available: full, last-layer, lora, peft, rlhf',
    );
  });

  it('refuse a bad config before any compute, naming the field', async () => {
    const datasets = [{ datasetVersionId: train, role: 'train' }];
    const negative = await submit({ plugin: 'full', config: { steps: -5 }, datasets });
    expect(negative.status).toBe(400);
    expect(negative.json.error.message).toMatch(/^config\.steps: /);
    const warmup = await submit({
      plugin: 'full',
      config: { steps: 10, warmupSteps: 10 },
      datasets,
    });
    expect(warmup.json.error.message).toBe('config.warmupSteps: must be below steps (10)');
    const unknownVersion = await submit({ plugin: 'full@9.9.9', datasets });
    expect(unknownVersion.json.error.message).toBe(
      'plugin: full@9.9.9 is not installed; this server has full@1.0.0',
    );
    const wrongData = await submit({
      plugin: 'full',
      datasets: [{ datasetVersionId: prefs, role: 'train' }],
    });
    expect(wrongData.json.error.message).toBe(
      'datasets.train: full trains on sft or text data, not preference',
    );
    const noData = await submit({ plugin: 'last-layer' });
    expect(noData.json.error.message).toBe('datasets.train: an sft train dataset is required');
    const runs = await t.call('POST', '/api/v1/projects/tuning/runs/search', {
      status: ['queued'],
    });
    expect(runs.json.runs).toHaveLength(1);
  });
});

describe('a run that starts from an adapter checkpoint', () => {
  async function adapterCheckpoint(peftType: string): Promise<string> {
    const { db } = database;
    const [project] = await db.select().from(projects).where(eq(projects.name, 'tuning'));
    const [run] = await db
      .insert(runs)
      .values({ projectId: project!.id, name: `sft-${peftType}`, status: 'finished' })
      .returning();
    const [row] = await db
      .insert(checkpoints)
      .values({
        projectId: project!.id,
        runId: run!.id,
        kind: 'adapter',
        step: 10,
        sha256: randomUUID(),
        sizeBytes: 1,
        storageKey: 'checkpoints/step-10',
        modelConfig: { peft_type: peftType },
      })
      .returning();
    return row!.id;
  }

  it('is taken by trainers that can continue or fold in a LoRA adapter, refused by others naming the field', async () => {
    const lora = await adapterCheckpoint('LORA');
    const ia3 = await adapterCheckpoint('IA3');
    const sft = [{ datasetVersionId: train, role: 'train' }];
    const dpo = { method: 'dpo', adapter: 'lora' };
    const onLora = await submit({
      plugin: 'rlhf',
      config: dpo,
      baseCheckpointId: lora,
      datasets: [{ datasetVersionId: prefs, role: 'train' }],
    });
    expect(onLora.status).toBe(201);
    expect(onLora.json.baseCheckpointId).toBe(lora);
    for (const plugin of ['full', 'lora']) {
      const res = await submit({ plugin, baseCheckpointId: lora, datasets: sft });
      expect(res.status).toBe(201);
    }
    const peft = await submit({
      plugin: 'peft',
      config: { method: 'ia3' },
      baseCheckpointId: lora,
      datasets: sft,
    });
    expect(peft.status).toBe(400);
    expect(peft.json.error.message).toBe(
      'baseCheckpointId: peft cannot start from an adapter checkpoint; full, lora and rlhf can',
    );
    const thirdParty = await submit({
      plugin: 'last-layer',
      baseCheckpointId: lora,
      datasets: sft,
    });
    expect(thirdParty.json.error.message).toMatch(/^baseCheckpointId: last-layer cannot start/);
    const onIa3 = await submit({
      plugin: 'rlhf',
      config: dpo,
      baseCheckpointId: ia3,
      datasets: [{ datasetVersionId: prefs, role: 'train' }],
    });
    expect(onIa3.status).toBe(400);
    expect(onIa3.json.error.message).toBe(
      'baseCheckpointId: only a LoRA adapter can be trained further, and this one is IA3',
    );
  });
});
