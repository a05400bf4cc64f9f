import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { politenessPairs } from '../../plugins/model/base/preferences.ts';
import { HeldoutClient } from '../../server/client/index.ts';
import { loadConfig } from '../../server/config.ts';
import { jobs } from '../../server/db/schema/index.ts';
import { startServer, type RunningServer } from '../../server/serve.ts';
import { startWorker } from '../../server/worker/worker.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { memoryLogger } from '../helpers/logger.ts';
import { waitFor } from '../helpers/live-server.ts';
import { processesMentioning, runCli } from '../helpers/processes.ts';

const token = 'hld_worker-test-admin-token';
let database: TestDatabase;
let server: RunningServer;
let client: HeldoutClient;
let dataDir: string;
const datasets: { datasetVersionId: number; role: 'train' | 'validation' }[] = [];

// A small domain the base has not seen: account types and what each one charges.
const FEES = ['no fee', 'a monthly fee', 'a yearly fee', 'a fee per transfer'];
const ACCOUNTS = ['basic', 'student', 'gold', 'business', 'savings', 'joint', 'junior', 'premier'];
const rows = (offset: number) =>
  ACCOUNTS.flatMap((a, i) =>
    FEES.map((f, j) => ({
      prompt: `Q: Which fee does the ${a} plan ${j + offset} have?\nA:`,
      response: ` The ${a} plan has ${FEES[(i + j) % FEES.length]}.`,
    })),
  );
const jsonl = (r: object[]) => r.map((x) => JSON.stringify(x)).join('\n') + '\n';

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-worker-test-'));
  const config = loadConfig({
    DATABASE_URL: database.url,
    PORT: '0',
    HELDOUT_ADMIN_TOKEN: token,
    HELDOUT_DATA_DIR: dataDir,
    // The test starts its own workers, so it can kill them.
    HELDOUT_WORKER: '0',
    HELDOUT_JOB_STALE_SECONDS: '3',
  });
  server = await startServer(config, memoryLogger('warn').logger);
  client = new HeldoutClient({ baseUrl: server.url, token });
  await client.projects.create({ name: 'bank' });
  const train = await client.datasets.upload('bank', 'fees-train', 'sft', jsonl(rows(0)));
  const valid = await client.datasets.upload(
    'bank',
    'fees-valid',
    'sft',
    jsonl(rows(7).slice(0, 8)),
  );
  datasets.push(
    { datasetVersionId: train.id, role: 'train' },
    { datasetVersionId: valid.id, role: 'validation' },
  );
}, 60_000);
afterAll(async () => {
  await server?.close();
  await database?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const submit = (config: Record<string, unknown>) =>
  client.runs.create('bank', { plugin: 'full', config, datasets });

const finished = (runId: string, ms: number) =>
  waitFor(
    'the run to end',
    async () => {
      const run = await client.runs.get(runId);
      return ['finished', 'failed', 'cancelled'].includes(run.status) ? run : undefined;
    },
    ms,
  );

describe('training through the job queue and a worker', () => {
  it('fine-tunes the shipped base over HTTP: loss falls, validation logged, checkpoints registered', async () => {
    const started = Date.now();
    const worker = startWorker({
      server: server.url,
      token,
      gpus: [],
      logger: memoryLogger('warn').logger,
      name: 'e2e',
    });
    try {
      const run = await submit({
        steps: 40,
        batchSize: 8,
        learningRate: 2e-3,
        warmupSteps: 4,
        validationEvery: 10,
        checkpointEvery: 20,
      });
      const done = await finished(run.id, 110_000);
      expect(done.status, done.error ?? '').toBe('finished');
      expect(Date.now() - started).toBeLessThan(120_000);
      expect(done.backend).toBeTruthy();
      expect(done.params['model/total_parameters']).toBe(done.params['model/trainable_parameters']);

      const loss = (await client.metrics.history(run.id, 'train/loss')).values as number[];
      expect(loss).toHaveLength(40);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(loss.slice(-5))).toBeLessThan(mean(loss.slice(0, 5)) * 0.7);
      const valid = await client.metrics.history(run.id, 'validation/loss');
      expect(valid.steps).toEqual([10, 20, 30, 40]);

      const checkpoints = await client.checkpoints.list(run.id);
      expect(checkpoints.map((c) => c.step)).toEqual([20, 40]);
      for (const c of checkpoints) {
        const weights = await client.artifacts.download(run.id, `${c.path}/model.safetensors`);
        const bytes = new Uint8Array(await weights.arrayBuffer());
        const { createHash } = await import('node:crypto');
        expect(createHash('sha256').update(bytes).digest('hex')).toBe(c.sha256);
        expect(c.files.map((f) => f.name)).toEqual(
          expect.arrayContaining(['config.json', 'model.safetensors', 'optimizer.safetensors']),
        );
        expect(c).toMatchObject({ kind: 'full', sizeBytes: bytes.length });
      }

      // A run's checkpoint is a base for the next run: the worker downloads its files.
      const next = await client.runs.create('bank', {
        plugin: 'full',
        config: { steps: 3, warmupSteps: 1, checkpointEvery: 3 },
        datasets,
        baseCheckpointId: checkpoints[1]!.id,
      });
      const nextDone = await finished(next.id, 60_000);
      expect(nextDone.status, nextDone.error ?? '').toBe('finished');
      const [first] = (await client.metrics.history(next.id, 'train/loss')).values as number[];
      // It starts where the first run ended, not from the shipped base.
      expect(first).toBeLessThan(loss[0]! * 0.7);
    } finally {
      await worker.stop();
    }
  }, 130_000);

  it('trains LoRA and each PEFT method through the API, registering adapter checkpoints', async () => {
    const worker = startWorker({
      server: server.url,
      token,
      gpus: [],
      logger: memoryLogger('warn').logger,
      name: 'adapters',
    });
    try {
      const common = {
        steps: 16,
        batchSize: 8,
        learningRate: 1e-2,
        warmupSteps: 2,
        checkpointEvery: 16,
      };
      const configs: [string, Record<string, unknown>][] = [
        ['lora', { r: 8 }],
        ['peft', { method: 'ia3' }],
        ['peft', { method: 'prompt-tuning' }],
        ['peft', { method: 'bitfit' }],
      ];
      const runs = [];
      for (const [plugin, extra] of configs)
        runs.push(
          await client.runs.create('bank', { plugin, config: { ...common, ...extra }, datasets }),
        );
      for (const run of runs) {
        const done = await finished(run.id, 90_000);
        expect(done.status, `${done.plugin} ${JSON.stringify(done.config)}: ${done.error}`).toBe(
          'finished',
        );
        const loss = (await client.metrics.history(run.id, 'train/loss')).values as number[];
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        expect(mean(loss.slice(-3))).toBeLessThan(mean(loss.slice(0, 3)));
        const [checkpoint] = await client.checkpoints.list(run.id);
        expect(checkpoint).toMatchObject({ kind: 'adapter', step: 16 });
        expect(checkpoint!.trainableParams!).toBeLessThan(checkpoint!.totalParams! / 10);
        expect(checkpoint!.files.map((f) => f.name)).toContain('adapter_config.json');
      }
    } finally {
      await worker.stop();
    }
  }, 200_000);

  it('runs the RLHF pipeline through the API: a reward model, then PPO that downloads it', async () => {
    const worker = startWorker({
      server: server.url,
      token,
      gpus: [],
      logger: memoryLogger('warn').logger,
      name: 'rlhf',
    });
    try {
      const prefs = await client.datasets.upload(
        'bank',
        'politeness',
        'preference',
        jsonl(politenessPairs(32, 'train', 1)),
      );
      const train = [{ datasetVersionId: prefs.id, role: 'train' as const }];
      const common = { steps: 4, batchSize: 4, warmupSteps: 1, checkpointEvery: 4 };
      const rewardRun = await client.runs.create('bank', {
        plugin: 'rlhf',
        config: { ...common, method: 'reward' },
        datasets: train,
      });
      const rewardDone = await finished(rewardRun.id, 90_000);
      expect(rewardDone.status, rewardDone.error ?? '').toBe('finished');
      const [reward] = await client.checkpoints.list(rewardRun.id);

      // The reward model must be named, and must be a checkpoint of this project.
      await expect(
        client.runs.create('bank', {
          plugin: 'rlhf',
          config: { ...common, method: 'ppo' },
          datasets: train,
        }),
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/rewardCheckpointId/),
      });
      await expect(
        client.runs.create('bank', {
          plugin: 'rlhf',
          config: { ...common, method: 'ppo', rewardCheckpointId: randomUUID() },
          datasets: train,
        }),
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/config\.rewardCheckpointId: no checkpoint/),
      });

      const ppo = await client.runs.create('bank', {
        plugin: 'rlhf',
        config: {
          ...common,
          steps: 2,
          checkpointEvery: 2,
          method: 'ppo',
          adapter: 'lora',
          rewardCheckpointId: reward!.id,
          maxNewTokens: 12,
          heldoutPrompts: 4,
        },
        datasets: train,
      });
      const done = await finished(ppo.id, 90_000);
      expect(done.status, done.error ?? '').toBe('finished');
      for (const key of [
        'ppo/reward',
        'ppo/kl',
        'ppo/entropy',
        'ppo/clip_fraction',
        'ppo/value_loss',
      ])
        expect((await client.metrics.history(ppo.id, key)).steps, key).toEqual([1, 2]);
      expect((await client.metrics.history(ppo.id, 'ppo/heldout_reward')).steps).toEqual([0, 2]);
      const [checkpoint] = await client.checkpoints.list(ppo.id);
      expect(checkpoint).toMatchObject({ kind: 'adapter', step: 2 });
      expect(checkpoint!.files.map((f) => f.name)).toEqual(
        expect.arrayContaining(['adapter_model.safetensors', 'value_head.safetensors']),
      );
    } finally {
      await worker.stop();
    }
  }, 200_000);

  it('stops the training process within 5 s of a cancel', async () => {
    const worker = startWorker({
      server: server.url,
      token,
      gpus: [],
      logger: memoryLogger('warn').logger,
      name: 'cancel',
    });
    try {
      const run = await submit({ steps: 5000, batchSize: 8, checkpointEvery: 5000 });
      await waitFor(
        'training to start',
        async () => ((await client.metrics.list(run.id)).length ? true : undefined),
        60_000,
      );
      const [job] = await database.db.select().from(jobs).where(eq(jobs.runId, run.id));
      expect(processesMentioning(job!.id)).toHaveLength(1);
      const cancelledAt = Date.now();
      await client.runs.update(run.id, { status: 'cancelled' });
      await waitFor(
        'the training process to exit',
        async () => (processesMentioning(job!.id).length === 0 ? true : undefined),
        10_000,
      );
      expect(Date.now() - cancelledAt).toBeLessThan(5_000);
      expect((await client.runs.get(run.id)).status).toBe('cancelled');
    } finally {
      await worker.stop();
    }
  }, 90_000);

  it('resumes on a new worker after kill -9 of the old one, with no gap or duplicate in the metrics', async () => {
    const steps = 60;
    const run = await submit({
      steps,
      batchSize: 8,
      warmupSteps: 4,
      validationEvery: 10,
      checkpointEvery: 10,
    });
    const env = { HELDOUT_LOG_LEVEL: 'warn' };
    const first = runCli(['worker', '--server', server.url, '--token', token], env);
    await first.waitForStdout(/polling/);
    await waitFor(
      'a checkpoint past step 20',
      async () =>
        (await client.checkpoints.list(run.id)).some((c) => c.step! >= 20) ? true : undefined,
      90_000,
    );
    const before = await client.metrics.history(run.id, 'train/loss');
    const [job] = await database.db.select().from(jobs).where(eq(jobs.runId, run.id));
    first.child.kill('SIGKILL');
    await first.exited;
    // Its training process notices the worker is gone and exits too.
    await waitFor(
      'the orphaned training process to exit',
      async () => (processesMentioning(job!.id).length === 0 ? true : undefined),
      10_000,
    );
    expect(before.steps.length).toBeGreaterThanOrEqual(20);
    expect((await client.runs.get(run.id)).status).toBe('running');

    const second = runCli(['worker', '--server', server.url, '--token', token], env);
    try {
      const done = await finished(run.id, 120_000);
      expect(done.status, done.error ?? '').toBe('finished');
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
    const after = await client.metrics.history(run.id, 'train/loss');
    expect(after.steps).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    // Every point acknowledged before the kill is there with its value (a resumed run replays
    // the same batches from the checkpoint, so a re-sent step carries the same number).
    for (const [i, step] of before.steps.entries()) {
      expect(after.values[step - 1] as number).toBeCloseTo(before.values[i] as number, 5);
    }
    const [retried] = await database.db.select().from(jobs).where(eq(jobs.runId, run.id));
    expect(retried).toMatchObject({ status: 'finished', attempts: 2 });
  }, 240_000);

  it('runs one job per GPU, each process pinned to its GPU, with GPU utilisation logged', async () => {
    // An nvidia-smi that knows two GPUs; nothing here can use them, so training runs on the CPU,
    // but the pinning and the GPU metrics are what a real GPU machine gets.
    const smiDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-smi-'));
    const script = [
      '#!/bin/sh',
      'case "$1" in',
      '  *utilization*) printf "0, 87, 2048\\n1, 55, 1024\\n" ;;',
      '  *) printf "0, Fake GPU, 16000, 100\\n1, Fake GPU, 16000, 100\\n" ;;',
      'esac',
    ].join('\n');
    fs.writeFileSync(path.join(smiDir, 'nvidia-smi'), `${script}\n`, { mode: 0o755 });
    const runs = [
      await submit({ steps: 5000, batchSize: 2, checkpointEvery: 5000 }),
      await submit({ steps: 5000, batchSize: 2, checkpointEvery: 5000 }),
    ];
    const worker = runCli(['worker', '--server', server.url, '--token', token, '--gpus', '0,1'], {
      PATH: `${smiDir}${path.delimiter}${process.env.PATH}`,
      HELDOUT_LOG_LEVEL: 'warn',
    });
    try {
      const pinned = await waitFor(
        'both trainings to report GPU metrics',
        async () => {
          const keys = await Promise.all(
            runs.map(async (r) => (await client.metrics.list(r.id)).map((m) => m.key)),
          );
          return keys.every((k) => k.some((key) => key.startsWith('system/gpu')))
            ? keys
            : undefined;
        },
        90_000,
      );
      const env = await Promise.all(
        runs.map(async (r) => {
          const [job] = await database.db.select().from(jobs).where(eq(jobs.runId, r.id));
          const [pid] = processesMentioning(job!.id);
          const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
          return environ.find((e) => e.startsWith('CUDA_VISIBLE_DEVICES='));
        }),
      );
      expect(env.sort()).toEqual(['CUDA_VISIBLE_DEVICES=0', 'CUDA_VISIBLE_DEVICES=1']);
      // Each run logs the GPU it was given, and only that one.
      const gpuKeys = pinned.map((keys) => keys.filter((k) => k.startsWith('system/gpu')).sort());
      expect(gpuKeys.map((k) => k[0]!.slice(0, 'system/gpuN'.length)).sort()).toEqual([
        'system/gpu0',
        'system/gpu1',
      ]);
      expect(gpuKeys.flat()).toContain('system/gpu0_utilization');
    } finally {
      for (const r of runs) await client.runs.update(r.id, { status: 'cancelled' });
      worker.child.kill('SIGTERM');
      await worker.exited;
      fs.rmSync(smiDir, { recursive: true, force: true });
    }
  }, 120_000);
});
