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

describe('a built-in trainer config that refuses mistakes', () => {
  const sft = () => [{ datasetVersionId: train, role: 'train' }];
  const pairs = () => [{ datasetVersionId: prefs, role: 'train' }];
  const required: Record<string, { config: object; datasets: () => object[] }> = {
    full: { config: {}, datasets: sft },
    lora: { config: {}, datasets: sft },
    peft: { config: { method: 'ia3' }, datasets: sft },
    rlhf: { config: { method: 'dpo' }, datasets: pairs },
  };

  it('refuses a misspelt key in every built-in trainer, naming it and the key it meant', async () => {
    for (const [plugin, { config, datasets }] of Object.entries(required)) {
      const res = await submit({
        plugin,
        config: { ...config, lerningRate: 1e-4 },
        datasets: datasets(),
      });
      expect([plugin, res.status, res.json.error.message]).toEqual([
        plugin,
        400,
        'config.lerningRate: unknown key (did you mean learningRate?)',
      ]);
      const ok = await submit({
        plugin,
        config: { ...config, learningRate: 1e-4 },
        datasets: datasets(),
      });
      expect([plugin, ok.status, ok.json.config?.learningRate]).toEqual([plugin, 201, 1e-4]);
    }
    // A plugin's own fields, added by extending the shared ones, are strict too.
    const lora = await submit({ plugin: 'lora', config: { rank: 4 }, datasets: sft() });
    expect(lora.json.error.message).toBe('config.rank: unknown key');
    const peft = await submit({
      plugin: 'peft',
      config: { method: 'prompt-tuning', numVirtualToken: 4 },
      datasets: sft(),
    });
    expect(peft.json.error.message).toBe(
      'config.numVirtualToken: unknown key (did you mean numVirtualTokens?)',
    );
  });

  it("leaves a third-party plugin's schema as its author wrote it", async () => {
    const res = await submit({ plugin: 'last-layer', config: { whatever: 1 }, datasets: sft() });
    expect(res.status).toBe(201);
  });

  it("refuses a maxLength above the base model's context, naming both", async () => {
    // The shipped tiny base has 256 positions.
    const long = await submit({ plugin: 'full', config: { maxLength: 512 }, datasets: sft() });
    expect([long.status, long.json.error.message]).toEqual([
      400,
      "config.maxLength: 512 is above the base model's context of 256 positions; at most 256",
    ]);
    const fits = await submit({ plugin: 'full', config: { maxLength: 256 }, datasets: sft() });
    expect(fits.status).toBe(201);
    // Prompt tuning's virtual tokens take positions too: refused, not clamped at train time.
    const prompt = { method: 'prompt-tuning', numVirtualTokens: 16 };
    const tuned = await submit({
      plugin: 'peft',
      config: { ...prompt, maxLength: 256 },
      datasets: sft(),
    });
    expect([tuned.status, tuned.json.error.message]).toEqual([
      400,
      "config.maxLength: 256 is above the base model's context of 256 positions less the 16 positions numVirtualTokens reserves; at most 240",
    ]);
    const room = await submit({
      plugin: 'peft',
      config: { ...prompt, maxLength: 240 },
      datasets: sft(),
    });
    expect(room.status).toBe(201);
  });

  it('reads the context of an imported base (max_position_embeddings) through an adapter on it', async () => {
    const { db } = database;
    const [project] = await db.select().from(projects).where(eq(projects.name, 'tuning'));
    const [base] = await db
      .insert(checkpoints)
      .values({
        projectId: project!.id,
        name: 'small-llama',
        kind: 'full',
        sha256: randomUUID(),
        sizeBytes: 1,
        storageKey: 'imports/small-llama',
        modelConfig: { model_type: 'llama', max_position_embeddings: 64 },
      })
      .returning();
    const [run] = await db
      .insert(runs)
      .values({ projectId: project!.id, name: 'sft-on-llama', status: 'finished' })
      .returning();
    const [adapter] = await db
      .insert(checkpoints)
      .values({
        projectId: project!.id,
        runId: run!.id,
        baseCheckpointId: base!.id,
        kind: 'adapter',
        step: 10,
        sha256: randomUUID(),
        sizeBytes: 1,
        storageKey: 'checkpoints/llama-step-10',
        modelConfig: { peft_type: 'LORA' },
      })
      .returning();
    for (const baseCheckpointId of [base!.id, adapter!.id]) {
      const res = await submit({
        plugin: 'lora',
        config: { maxLength: 128 },
        baseCheckpointId,
        datasets: sft(),
      });
      expect([res.status, res.json.error.message]).toEqual([
        400,
        "config.maxLength: 128 is above the base model's context of 64 positions; at most 64",
      ]);
    }
    const fits = await submit({
      plugin: 'lora',
      config: { maxLength: 64 },
      baseCheckpointId: adapter!.id,
      datasets: sft(),
    });
    expect(fits.status).toBe(201);
  });

  it('describes every config field of every built-in trainer in GET /api/v1/plugins', async () => {
    const res = await t.call('GET', '/api/v1/plugins');
    const builtin = res.json.plugins.filter((p: { source: string }) =>
      p.source.startsWith('builtin:'),
    );
    expect(builtin.map((p: { name: string }) => p.name).sort()).toEqual([
      'full',
      'lora',
      'peft',
      'rlhf',
    ]);
    const undescribed = builtin.flatMap(
      (p: {
        name: string;
        configSchema: { properties: Record<string, { description?: string }> };
      }) =>
        Object.entries(p.configSchema.properties)
          .filter(([, field]) => !field.description?.trim())
          .map(([key]) => `${p.name}.${key}`),
    );
    expect(undescribed).toEqual([]);
    const full = builtin.find((p: { name: string }) => p.name === 'full');
    expect(full.configSchema.additionalProperties).toBe(false);
    expect(full.configSchema.properties.learningRate.description).toMatch(/learning rate/i);
  });
});
