import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import lora from '../../plugins/builtin/lora/index.ts';
import rlhf from '../../plugins/builtin/rlhf/index.ts';
import { politenessPairs } from '../../plugins/model/base/preferences.ts';
import * as m from '../../plugins/model/index.ts';
import { loadStartingPoint } from '../../plugins/sdk/index.ts';
import { localContext } from './harness.ts';

// The classic pipeline: SFT a LoRA adapter on the preferred answers, then DPO on top of it.
const baseDir = fileURLToPath(new URL('../../plugins/model/base/tiny-base', import.meta.url));
const pairs = politenessPairs(64, 'train', 1);
const sft = {
  kind: 'sft' as const,
  sha256: 's',
  rows: pairs.map((p) => ({ prompt: p.prompt, response: p.chosen })),
};
const preferences = { kind: 'preference' as const, sha256: 'p', rows: pairs };
const heldout = { kind: 'preference' as const, sha256: 'h', rows: politenessPairs(16, 'eval', 2) };
const sftRun = localContext({ baseDir, train: sft });
let adapterDir: string;

beforeAll(async () => {
  await m.initBackend({ prefer: 'wasm' });
  await lora.train(
    lora.configSchema.parse({
      steps: 16,
      batchSize: 8,
      learningRate: 1e-2,
      warmupSteps: 2,
      checkpointEvery: 16,
      r: 4,
      alpha: 8,
      seed: 2,
    }),
    sftRun.ctx,
  );
  adapterDir = sftRun.saved.at(-1)!.dir;
}, 120_000);
afterAll(() => sftRun.cleanup());

const onAdapter = (train = preferences) => {
  const h = localContext({ baseDir, train, validation: heldout });
  h.ctx.baseAdapter = { dir: adapterDir, sha256: 'sft', checkpointId: 'sft-ckpt' };
  return h;
};
const dpo = (over: object) =>
  rlhf.configSchema.parse({
    method: 'dpo',
    steps: 10,
    batchSize: 8,
    learningRate: 1e-2,
    warmupSteps: 2,
    validationEvery: 10,
    checkpointEvery: 10,
    seed: 1,
    ...over,
  });

describe('a run that starts from a LoRA adapter', () => {
  it('folds the adapter into the base for full-weight trainers: the same function as base + adapter', async () => {
    const start = await loadStartingPoint(onAdapter().ctx);
    expect(start.adapter?.settings).toMatchObject({ r: 4, alpha: 8 });
    const ids = m.tf.tensor2d([[12, 40, 7, 99, 3, 250]], undefined, 'int32');
    const merged = m.createModel(start.config, start.merged());
    const base = m.createModel(start.config, start.weights);
    const adapter = await m.loadAdapter(adapterDir, start.config);
    const folded = m.forward(merged, ids).logits.arraySync() as number[][][];
    const applied = m.forward(base, ids, adapter.options).logits.arraySync() as number[][][];
    const plain = m.forward(base, ids).logits.arraySync() as number[][][];
    const gap = (a: number[][][], b: number[][][]) =>
      Math.max(...a.flat(2).map((v, i) => Math.abs(v - b.flat(2)[i]!)));
    expect(gap(folded, applied)).toBeLessThan(1e-3);
    // The adapter changes the function, so the check above is not vacuous.
    expect(gap(folded, plain)).toBeGreaterThan(1e-2);
  });

  it.each([
    ['continues the adapter against a frozen copy of it', { adapter: 'lora', r: 16 }, 'adapter'],
    ['trains full weights from base + adapter', { learningRate: 1e-3 }, 'full'],
  ])(
    'DPO %s: the reference is the SFT model, so the first loss is log 2',
    async (_label, over, kind) => {
      const h = onAdapter();
      await rlhf.train(dpo(over), h.ctx);
      // log 2 means policy = reference at the start. Were the reference the bare base, the SFT
      // adapter's own preference for the chosen answers (the step-0 margin) would lower it.
      expect(h.series('train/loss')[0]!.value).toBeCloseTo(Math.LN2, 3);
      const margin = h.series('dpo/heldout_margin');
      expect(margin[0]!.step).toBe(0);
      expect(margin[0]!.value).toBeGreaterThan(2);
      expect(margin.at(-1)!.value).toBeGreaterThan(margin[0]!.value);
      const last = h.saved.at(-1)!;
      expect(last.kind).toBe(kind);
      if (kind === 'adapter') {
        const saved = await m.loadLoraAdapter(last.dir);
        // The SFT adapter's shape, not the config's r: 16.
        expect(saved.settings).toMatchObject({ r: 4, alpha: 8 });
        expect(saved.config.heldout_base_sha256).toBe(h.ctx.baseModel.sha256);
        const before = fs.readFileSync(path.join(adapterDir, 'adapter_model.safetensors'));
        const after = fs.readFileSync(path.join(last.dir, 'adapter_model.safetensors'));
        expect(after.equals(before)).toBe(false);
      }
      h.cleanup();
    },
    120_000,
  );

  it('refuses an adapter that belongs to other base weights, naming the field', async () => {
    const h = onAdapter();
    h.ctx.baseModel = { ...h.ctx.baseModel, sha256: 'another-base' };
    await expect(loadStartingPoint(h.ctx)).rejects.toThrow(
      /^baseCheckpointId: the adapter belongs to base local, not another-base$/,
    );
    h.cleanup();
  });
});
