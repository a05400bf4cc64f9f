import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import rlhf from '../../plugins/builtin/rlhf/index.ts';
import { politenessPairs } from '../../plugins/model/base/preferences.ts';
import * as m from '../../plugins/model/index.ts';
import { localContext } from './harness.ts';

const baseDir = fileURLToPath(new URL('../../plugins/model/base/tiny-base', import.meta.url));
beforeAll(() => m.initBackend({ prefer: 'wasm' }));

const train = { kind: 'preference' as const, sha256: 'x', rows: politenessPairs(64, 'train', 1) };
const validation = {
  kind: 'preference' as const,
  sha256: 'y',
  rows: politenessPairs(16, 'eval', 2),
};
const config = (over: object = {}) =>
  rlhf.configSchema.parse({
    method: 'dpo',
    steps: 20,
    batchSize: 8,
    learningRate: 1e-3,
    warmupSteps: 2,
    validationEvery: 10,
    checkpointEvery: 20,
    seed: 1,
    ...over,
  });

describe('DPO on the shipped politeness task', () => {
  it.each([
    ['full weights', 'full', {}],
    ['a LoRA adapter', 'adapter', { adapter: 'lora', learningRate: 1e-2 }],
  ])(
    'on %s widens the held-out chosen-over-rejected margin',
    async (_label, kind, over) => {
      const h = localContext({ baseDir, train, validation });
      await rlhf.train(config(over), h.ctx);
      const margin = h.series('dpo/heldout_margin');
      // Measured before training, at each validation step and at the end.
      expect(margin.map((p) => p.step)).toEqual([0, 10, 20]);
      expect(margin.at(-1)!.value).toBeGreaterThan(margin[0]!.value + 1);
      const loss = h.series('train/loss').map((p) => p.value);
      // DPO's loss starts at log 2 (policy = reference) and falls.
      expect(loss[0]!).toBeCloseTo(Math.LN2, 1);
      expect(loss.at(-1)!).toBeLessThan(loss[0]!);
      expect(h.series('validation/loss').map((p) => p.step)).toEqual([10, 20]);
      expect(h.saved.at(-1)!.kind).toBe(kind);
      h.cleanup();
    },
    120_000,
  );

  it('trains a reward model whose held-out pairwise accuracy reaches 0.8', async () => {
    const h = localContext({ baseDir, train, validation });
    await rlhf.train(
      config({
        method: 'reward',
        steps: 30,
        learningRate: 1e-3,
        validationEvery: 15,
        checkpointEvery: 30,
      }),
      h.ctx,
    );
    const [, after] = h.series('reward/heldout_accuracy').map((p) => p.value);
    expect(after!).toBeGreaterThanOrEqual(0.8);
    const saved = await m.loadSafetensorsFile(`${h.saved.at(-1)!.dir}/model.safetensors`);
    expect(saved.tensors.get('score.weight')!.shape).toEqual([1, 128]);
    h.cleanup();
  }, 120_000);

  it('refuses data that is not preference pairs', () => {
    expect(() =>
      rlhf.validate!(config(), { datasets: [{ role: 'train', kind: 'sft', rowCount: 3 }] }),
    ).toThrow('datasets.train: rlhf (dpo) trains on preference data, not sft');
  });
});
