import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairedMeanDifference } from '../../evaluators/stats/bootstrap.ts';
import full from '../../plugins/builtin/full/index.ts';
import rlhf from '../../plugins/builtin/rlhf/index.ts';
import { loadRewardModel } from '../../plugins/builtin/rlhf/reward.ts';
import {
  politenessPairs,
  politenessPrompts,
  politenessTranscripts,
} from '../../plugins/model/base/preferences.ts';
import * as m from '../../plugins/model/index.ts';
import { localContext, tinyBase } from './harness.ts';

const baseDir = fileURLToPath(new URL('../../plugins/model/base/tiny-base', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-ppo-'));
const pairs = { kind: 'preference' as const, sha256: 'p', rows: politenessPairs(64, 'train', 1) };
// Held out: every prompt of the issues no training row mentions (20), scored greedily.
const heldOut = politenessPrompts('eval');
const heldOutSplit = {
  kind: 'sft' as const,
  sha256: 'h',
  rows: heldOut.map((prompt) => ({ prompt, response: '' })),
};
const MAX_NEW = 80;
const NEWLINE = 10; // the byte tokenizer's id of "\n"
let sftDir: string;
let rewardDir: string;

beforeAll(async () => {
  await m.initBackend({ prefer: 'wasm' });
  // The InstructGPT order: a supervised policy first (agents who were polite 30% of the time)...
  const sft = localContext({
    baseDir,
    train: { kind: 'sft', sha256: 's', rows: politenessTranscripts(128, 'train', 3, 0.3) },
    store: path.join(root, 'sft'),
  });
  await full.train(
    full.configSchema.parse({
      steps: 40,
      batchSize: 8,
      learningRate: 1e-3,
      warmupSteps: 4,
      checkpointEvery: 40,
      seed: 1,
    }),
    sft.ctx,
  );
  sftDir = sft.saved.at(-1)!.dir;
  // ...then a reward model from the rankings.
  const reward = localContext({
    baseDir,
    train: pairs,
    validation: { kind: 'preference', sha256: 'v', rows: politenessPairs(40, 'eval', 2) },
    store: path.join(root, 'reward'),
  });
  await rlhf.train(
    rlhf.configSchema.parse({
      method: 'reward',
      steps: 30,
      batchSize: 8,
      warmupSteps: 2,
      checkpointEvery: 30,
      seed: 1,
    }),
    reward.ctx,
  );
  expect(reward.series('reward/heldout_accuracy').at(-1)!.value).toBeGreaterThanOrEqual(0.8);
  rewardDir = reward.saved.at(-1)!.dir;
}, 180_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Greedy responses of a policy to the held-out prompts, scored by the reward model. */
async function greedyRewards(dir: string, adapterDir?: string): Promise<number[]> {
  const { config, weights } = await m.loadCheckpointDir(dir);
  const tokenizer = await m.loadTokenizer(dir);
  const model = m.createModel(config, weights, () => false);
  const adapter = adapterDir ? await m.loadLoraAdapter(adapterDir) : undefined;
  const vars = new Map(
    [...(adapter?.weights ?? [])].map(([k, w]) => [k, m.tf.variable(m.tf.tensor(w.data, w.shape))]),
  );
  const options = adapter ? m.loraForwardOptions(vars, adapter.settings) : {};
  const reward = await loadRewardModel(rewardDir);
  try {
    return reward.scoreAll(
      heldOut.map((prompt) => {
        const ids = tokenizer.encode(prompt);
        const { ids: response } = m.generate(
          model,
          ids,
          { maxNewTokens: MAX_NEW, stopIds: [tokenizer.eosId, NEWLINE] },
          options,
        );
        // A reply ends at end-of-text or at the end of its line, as the trainer scores it.
        return { prompt: ids, response: response.filter((t) => t !== NEWLINE) };
      }),
    );
  } finally {
    reward.dispose();
    m.tf.dispose([...vars.values()]);
    m.disposeModel(model);
  }
}

const ppoConfig = (over: object) =>
  rlhf.configSchema.parse({
    method: 'ppo',
    rewardCheckpointId: '00000000-0000-4000-8000-000000000000',
    steps: 16,
    batchSize: 8,
    warmupSteps: 2,
    validationEvery: 8,
    checkpointEvery: 16,
    seed: 1,
    maxNewTokens: MAX_NEW,
    // Room for the longest held-out prompt (57 bytes) and a full reply.
    maxLength: 160,
    klTarget: 6,
    klCoef: 0.5,
    klHorizon: 16,
    ...over,
  });

describe('PPO on the shipped politeness task', () => {
  it.each([
    ['full weights', 'full', { learningRate: 5e-5 }],
    ['a LoRA adapter', 'adapter', { adapter: 'lora', learningRate: 1e-3 }],
  ])(
    'on %s raises the held-out greedy reward (paired, p < 0.05) with the KL under its target',
    async (_label, kind, over) => {
      const h = localContext({
        baseDir: sftDir,
        train: pairs,
        validation: heldOutSplit,
        models: { reward: { dir: rewardDir, sha256: 'r', checkpointId: 'r' } },
      });
      const config = ppoConfig(over);
      await rlhf.train(config, h.ctx);
      const saved = h.saved.at(-1)!;
      expect(saved.kind).toBe(kind);

      const before = await greedyRewards(sftDir);
      const after =
        kind === 'full' ? await greedyRewards(saved.dir) : await greedyRewards(sftDir, saved.dir);
      const test = pairedMeanDifference(before, after, { seed: 1 });
      expect(test.difference).toBeGreaterThan(0);
      expect(test.pValue).toBeLessThan(0.05);
      // The trainer's own held-out figures agree with the independent measurement.
      const reward = h.series('ppo/heldout_reward');
      expect(reward[0]!.value).toBeCloseTo(test.baselineMean, 3);
      expect(reward.at(-1)!.value).toBeCloseTo(test.systemMean, 3);

      const kl = h.series('ppo/heldout_kl');
      expect(kl[0]!.value).toBeCloseTo(0, 5); // the policy starts as the reference
      expect(kl.at(-1)!.value).toBeGreaterThan(0);
      expect(kl.at(-1)!.value).toBeLessThan(config.klTarget);
      // The controller moved the coefficient, and every quantity PPO is watched by was logged.
      const coef = h.series('ppo/kl_coef').map((p) => p.value);
      expect(new Set(coef.map((c) => c.toFixed(4))).size).toBeGreaterThan(1);
      for (const key of ['ppo/entropy', 'ppo/clip_fraction', 'ppo/value_loss', 'ppo/reward'])
        expect(h.series(key), key).toHaveLength(config.steps);
      h.cleanup();
    },
    240_000,
  );
});

describe('PPO mechanics on a small random model', () => {
  const tiny = path.join(root, 'tiny');
  const tinyReward = path.join(root, 'tiny-reward');
  const prompts = {
    kind: 'preference' as const,
    sha256: 't',
    rows: ['Q: a?\nA:', 'Q: bb?\nA:', 'Q: ccc?\nA:', 'Q: d?\nA:'].map((prompt) => ({
      prompt,
      chosen: ' yes',
      rejected: ' no',
    })),
  };
  beforeAll(async () => {
    const config = await tinyBase(tiny);
    // A reward "model": the random GPT-2 with a random score head, enough to drive the updates.
    const { weights } = await m.loadCheckpointDir(tiny);
    const rand = m.mulberry32(5);
    weights.set('score.weight', {
      shape: [1, config.n_embd],
      data: Float32Array.from({ length: config.n_embd }, () => m.normal(rand)),
    });
    await m.saveCheckpointDir(tinyReward, config, weights);
    await m.saveTokenizer(tinyReward, m.createByteTokenizer());
  });
  const tinyConfig = (over: object = {}) =>
    ppoConfig({
      steps: 4,
      batchSize: 4,
      warmupSteps: 1,
      checkpointEvery: 2,
      validationEvery: 4,
      maxNewTokens: 8,
      learningRate: 1e-2,
      heldoutPrompts: 2,
      ...over,
    });
  const context = (store?: string) =>
    localContext({
      baseDir: tiny,
      train: prompts,
      store,
      models: { reward: { dir: tinyReward, sha256: 'r', checkpointId: 'r' } },
    });
  const bytes = (dir: string, file: string) => fs.readFileSync(path.join(dir, file));

  it.each([
    ['full weights', {}, 'model.safetensors'],
    ['a LoRA adapter', { adapter: 'lora' }, 'adapter_model.safetensors'],
  ])(
    'resumes on %s to the same policy, value head and KL coefficient',
    async (_l, over, file) => {
      const straight = context();
      await rlhf.train(tinyConfig(over), straight.ctx);
      const interrupted = context();
      interrupted.ctx.report.metrics = (points) => {
        if (points.some((p) => p.key === 'train/loss' && p.step === 2))
          interrupted.controller.abort();
      };
      await expect(rlhf.train(tinyConfig(over), interrupted.ctx)).rejects.toThrow('cancelled');
      const resumed = context(interrupted.store);
      await rlhf.train(tinyConfig(over), resumed.ctx);
      expect(resumed.logs).toContain('resuming from the checkpoint at step 2');
      const [a, b] = [straight.saved.at(-1)!.dir, resumed.saved.at(-1)!.dir];
      for (const f of [file, 'value_head.safetensors', 'ppo_state.json'])
        expect(bytes(b, f).equals(bytes(a, f)), f).toBe(true);
      for (const h of [straight, interrupted, resumed]) h.cleanup();
    },
    60_000,
  );

  it('refuses a reward checkpoint without a score head, naming the field', async () => {
    const h = localContext({
      baseDir: tiny,
      train: prompts,
      models: { reward: { dir: tiny, sha256: 'r', checkpointId: 'r' } },
    });
    await expect(rlhf.train(tinyConfig(), h.ctx)).rejects.toThrow(
      /rewardCheckpointId: the checkpoint is not a reward model/,
    );
    h.cleanup();
  });

  it('needs a reward model and prompt data at submission', () => {
    const info = { datasets: [{ role: 'train' as const, kind: 'sft' as const, rowCount: 3 }] };
    expect(() => rlhf.validate!(rlhf.configSchema.parse({ method: 'ppo' }), info)).toThrow(
      'rewardCheckpointId: ppo needs a reward model',
    );
    expect(() =>
      rlhf.validate!(tinyConfig(), {
        datasets: [{ role: 'train', kind: 'text', rowCount: 3 }],
      }),
    ).toThrow('datasets.train: rlhf (ppo) trains on preference or sft data, not text');
  });
});
