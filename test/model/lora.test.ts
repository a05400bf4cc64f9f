import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  initLora,
  loadLoraAdapter,
  loraDelta,
  loraForwardOptions,
  loraKey,
  loraSettingsSchema,
  loraShapes,
  mergeLora,
  saveLoraAdapter,
} from '../../plugins/model/adapters/lora.ts';
import { modelConfigSchema, parameterCount } from '../../plugins/model/config.ts';
import { mulberry32 } from '../../plugins/model/random.ts';
import * as tf from '../../plugins/model/tf.ts';
import { AdamW } from '../../plugins/model/train/adamw.ts';
import {
  createModel,
  exportWeights,
  forward,
  initWeights,
  lmLoss,
} from '../../plugins/model/transformer.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-lora-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const small = modelConfigSchema.parse({
  vocab_size: 50,
  n_positions: 16,
  n_embd: 16,
  n_layer: 2,
  n_head: 2,
});
const gpt2Small = modelConfigSchema.parse({
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
});

/** An adapter with B non-zero too, as after training (a fresh one changes nothing). */
function trainedAdapter(settings = loraSettingsSchema.parse({ r: 4, alpha: 8 }), seed = 3) {
  const adapter = initLora(small, settings, seed);
  const rand = mulberry32(seed + 1);
  for (const [key, t] of adapter)
    if (key.endsWith('lora_B.weight')) t.data.forEach((_, i) => (t.data[i] = rand() - 0.5));
  return { settings, adapter };
}

const tensors = (w: Map<string, { shape: number[]; data: Float32Array }>) =>
  new Map([...w].map(([k, t]) => [k, tf.tensor(t.data, t.shape)]));

describe('LoRA adapters', () => {
  it('train a sliver of GPT-2 small: r=8 on the attention projections is under 0.5%', () => {
    const settings = loraSettingsSchema.parse({ r: 8 });
    let trainable = 0;
    for (const shape of loraShapes(gpt2Small, settings).values())
      trainable += shape[0]! * shape[1]!;
    const total = parameterCount(gpt2Small);
    // 12 layers x 8 x (768 + 2304 + 768 + 768)
    expect(trainable).toBe(442_368);
    expect(trainable / total).toBeLessThan(0.005);
    expect(loraShapes(gpt2Small, settings).get(loraKey(0, 'attn.c_attn', 'B'))).toEqual([2304, 8]);
  });

  it('start from the base exactly (B is zero) and use PEFT key names', () => {
    const adapter = initLora(small, loraSettingsSchema.parse({}), 1);
    expect([...adapter.keys()].slice(0, 2)).toEqual([
      'base_model.model.transformer.h.0.attn.c_attn.lora_A.weight',
      'base_model.model.transformer.h.0.attn.c_attn.lora_B.weight',
    ]);
    const base = initWeights(small, 1);
    const merged = mergeLora(base, adapter, loraSettingsSchema.parse({}));
    for (const [name, w] of base) expect(merged.get(name)!.data).toEqual(w.data);
  });

  it('compute scaling * A^T B^T in the Conv1D layout', () => {
    const a = { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    const b = { shape: [2, 2], data: Float32Array.from([1, 0, 0, 1]) };
    // A^T B^T = A^T (B is the identity): [[1,4],[2,5],[3,6]], times 2
    expect([...loraDelta(a, b, 2)]).toEqual([2, 8, 4, 10, 6, 12]);
  });

  it('merge into the base with the same logits as the adapter applied on the fly, and unmerge back', () => {
    const { settings, adapter } = trainedAdapter(
      loraSettingsSchema.parse({ r: 4, alpha: 8, targetModules: ['attn.c_attn', 'mlp.c_fc'] }),
    );
    const base = initWeights(small, 7);
    const merged = mergeLora(base, adapter, settings);
    const ids = tf.tensor2d([[1, 5, 9, 3, 7, 2]], undefined, 'int32');
    const baseModel = createModel(small, base);
    const onTheFly = forward(baseModel, ids, loraForwardOptions(tensors(adapter), settings)).logits;
    const folded = forward(createModel(small, merged), ids).logits;
    const diff = tf.max(tf.abs(onTheFly.sub(folded))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-5);
    const plain = forward(baseModel, ids).logits;
    expect(tf.max(tf.abs(plain.sub(folded))).dataSync()[0]!).toBeGreaterThan(1e-3);

    const unmerged = mergeLora(merged, adapter, settings, -1);
    for (const [name, w] of base) {
      const back = unmerged.get(name)!.data;
      let worst = 0;
      for (let i = 0; i < back.length; i++)
        worst = Math.max(worst, Math.abs(back[i]! - w.data[i]!));
      expect(worst, name).toBeLessThan(1e-6);
    }
  });

  it('save as adapter_config.json + adapter_model.safetensors naming the base, and load back', async () => {
    const { settings, adapter } = trainedAdapter();
    const dir = path.join(tmp, 'adapter');
    const saved = await saveLoraAdapter(dir, adapter, settings, {
      name: 'tiny',
      sha256: 'ab'.repeat(32),
    });
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      target_modules: ['attn.c_attn', 'attn.c_proj'],
      fan_in_fan_out: true,
      heldout_base_sha256: 'ab'.repeat(32),
    });
    expect(saved.sizeBytes).toBe(fs.statSync(path.join(dir, 'adapter_model.safetensors')).size);
    const loaded = await loadLoraAdapter(dir);
    expect(loaded.settings).toEqual(settings);
    for (const [key, t] of adapter) expect(loaded.weights.get(key)!.data).toEqual(t.data);
  });

  it('on GPT-2 small, the adapter file is under 1% of the full checkpoint', async () => {
    const settings = loraSettingsSchema.parse({ r: 8 });
    const adapter = initLora(gpt2Small, settings, 1);
    const { sizeBytes } = await saveLoraAdapter(path.join(tmp, 'gpt2'), adapter, settings, {
      name: 'gpt2',
      sha256: '0'.repeat(64),
    });
    const fullBytes = parameterCount(gpt2Small) * 4;
    expect(sizeBytes / fullBytes).toBeLessThan(0.01);
  });

  it('share one base in memory: each call applies its own adapter', () => {
    const settings = loraSettingsSchema.parse({ r: 4, alpha: 8 });
    const first = trainedAdapter(settings, 11).adapter;
    const second = trainedAdapter(settings, 12).adapter;
    const base = initWeights(small, 7);
    const shared = createModel(small, base);
    const ids = tf.tensor2d([[4, 8, 15, 16, 23, 42 % 50]], undefined, 'int32');
    for (const adapter of [first, second, first]) {
      const live = forward(shared, ids, loraForwardOptions(tensors(adapter), settings)).logits;
      const merged = forward(createModel(small, mergeLora(base, adapter, settings)), ids).logits;
      expect(tf.max(tf.abs(live.sub(merged))).dataSync()[0]!).toBeLessThan(1e-5);
    }
  });

  it('drop out on the low-rank path only, the same way for the same seed', () => {
    const { settings, adapter } = trainedAdapter();
    const model = createModel(small, initWeights(small, 7));
    const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6]], undefined, 'int32');
    const run = (dropout?: { rate: number; seed: number }) =>
      forward(model, ids, loraForwardOptions(tensors(adapter), settings, dropout)).logits;
    const gap = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(a.sub(b))).dataSync()[0]!;
    const plain = run();
    expect(gap(run({ rate: 0.5, seed: 1 }), run({ rate: 0.5, seed: 1 }))).toBe(0);
    expect(gap(run({ rate: 0.5, seed: 1 }), plain)).toBeGreaterThan(1e-3);
    expect(gap(run({ rate: 0.5, seed: 1 }), run({ rate: 0.5, seed: 2 }))).toBeGreaterThan(1e-3);
    expect(gap(run({ rate: 0, seed: 1 }), plain)).toBe(0);
  });

  it('leave the frozen base byte-identical while the adapter trains', () => {
    const settings = loraSettingsSchema.parse({ r: 4, alpha: 8, dropout: 0.1 });
    const base = initWeights(small, 5);
    const model = createModel(small, base, () => false);
    const adapter = new Map(
      [...initLora(small, settings, 2)].map(([k, w]) => [
        k,
        tf.variable(tf.tensor(w.data, w.shape)),
      ]),
    );
    const optimizer = new AdamW(adapter, { weightDecay: 0.1 });
    const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], undefined, 'int32');
    const target = tf.tensor2d([[2, 3, 4, 5, 6, 7, 8, 9]], undefined, 'int32');
    const before = adapter
      .get(loraKey(0, 'attn.c_attn', 'B'))!
      .dataSync()
      .slice();
    for (let step = 0; step < 5; step++) {
      optimizer.step(() => {
        const options = loraForwardOptions(adapter, settings, { rate: 0.1, seed: step });
        return lmLoss(forward(model, ids, options).logits, target, tf.onesLike(target));
      }, 1e-2);
    }
    expect(adapter.get(loraKey(0, 'attn.c_attn', 'B'))!.dataSync()).not.toEqual(before);
    for (const [name, w] of exportWeights(model)) {
      expect(
        Buffer.from(w.data.buffer).equals(Buffer.from(base.get(name)!.data.buffer)),
        name,
      ).toBe(true);
    }
  });
});
