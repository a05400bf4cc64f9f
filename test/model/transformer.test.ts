import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { modelConfigSchema, parameterCount } from '../../plugins/model/config.ts';
import { generate, nucleus } from '../../plugins/model/generate.ts';
import * as tf from '../../plugins/model/tf.ts';
import {
  createModel,
  exportWeights,
  forward,
  initWeights,
  lmLoss,
  tokenLogprobs,
  type KvCache,
} from '../../plugins/model/transformer.ts';

const config = modelConfigSchema.parse({
  vocab_size: 61,
  n_positions: 32,
  n_embd: 16,
  n_layer: 2,
  n_head: 4,
});

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ids = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');

describe('GPT-2 transformer', () => {
  it('has GPT-2’s parameter names, shapes and count', () => {
    const weights = initWeights(config, 1);
    expect(weights.get('h.1.attn.c_attn.weight')!.shape).toEqual([16, 48]);
    expect(weights.get('h.0.mlp.c_proj.weight')!.shape).toEqual([64, 16]);
    expect([...weights.keys()].filter((k) => !k.startsWith('h.'))).toEqual([
      'wte.weight',
      'wpe.weight',
      'ln_f.weight',
      'ln_f.bias',
    ]);
    // GPT-2 small: 124,439,808 parameters (tied head), as transformers reports.
    const small = modelConfigSchema.parse({
      vocab_size: 50257,
      n_positions: 1024,
      n_embd: 768,
      n_layer: 12,
      n_head: 12,
    });
    expect(parameterCount(small)).toBe(124_439_808);
  });

  it('is deterministic for a seed, and different for another', () => {
    expect(initWeights(config, 7).get('wte.weight')!.data).toEqual(
      initWeights(config, 7).get('wte.weight')!.data,
    );
    expect(initWeights(config, 7).get('wte.weight')!.data).not.toEqual(
      initWeights(config, 8).get('wte.weight')!.data,
    );
  });

  it('is causal: a later token never changes earlier logits', () => {
    const model = createModel(config, initWeights(config, 3));
    const a = tf.tidy(() => forward(model, ids([[1, 2, 3, 4]])).logits.arraySync());
    const b = tf.tidy(() => forward(model, ids([[1, 2, 3, 9]])).logits.arraySync());
    expect(a[0]!.slice(0, 3)).toEqual(b[0]!.slice(0, 3));
    expect(a[0]![3]).not.toEqual(b[0]![3]);
  });

  it('gives the same logits with a KV cache as without', () => {
    const model = createModel(config, initWeights(config, 4));
    const sequence = [5, 17, 3, 42, 8, 1];
    const full = tf.tidy(() => forward(model, ids([sequence])).logits.arraySync())[0]!;
    const cache: KvCache = { keys: [], values: [], length: 0 };
    const first = tf.tidy(() =>
      forward(model, ids([sequence.slice(0, 4)]), { cache }).logits.arraySync(),
    )[0]!;
    const rest = sequence
      .slice(4)
      .map((t) => tf.tidy(() => forward(model, ids([[t]]), { cache }).logits.arraySync())[0]![0]!);
    const stepped = [...first, ...rest];
    expect(cache.length).toBe(6);
    for (let i = 0; i < full.length; i++)
      for (let j = 0; j < 61; j++) expect(stepped[i]![j]).toBeCloseTo(full[i]![j]!, 4);
  });

  it('learns: a few Adam steps on one sequence lower its loss, and only trainable weights move', () => {
    const weights = initWeights(config, 5);
    const model = createModel(config, weights, (name) => name !== 'wpe.weight');
    const sequence = [[1, 2, 3, 4, 5, 6, 7, 8]];
    const input = ids(sequence.map((s) => s.slice(0, -1)));
    const target = ids(sequence.map((s) => s.slice(1)));
    const mask = tf.ones([1, 7]) as tf.Tensor2D;
    const loss = () => lmLoss(forward(model, input).logits, target, mask);
    const optimizer = tf.train.adam(0.01);
    const before = tf.tidy(() => loss().dataSync()[0]!);
    for (let i = 0; i < 20; i++) optimizer.minimize(loss);
    const after = tf.tidy(() => loss().dataSync()[0]!);
    expect(before).toBeGreaterThan(Math.log(61) - 0.5);
    expect(after).toBeLessThan(before / 2);
    const out = exportWeights(model);
    expect(out.get('wpe.weight')!.data).toEqual(weights.get('wpe.weight')!.data);
    expect(out.get('wte.weight')!.data).not.toEqual(weights.get('wte.weight')!.data);
  });

  it('reports per-token log-probabilities that match the logits', () => {
    const model = createModel(config, initWeights(config, 6));
    const lp = tokenLogprobs(model, [3, 1, 4, 1, 5]);
    expect(lp).toHaveLength(4);
    const direct = tf.tidy(() =>
      tf.logSoftmax(forward(model, ids([[3, 1, 4, 1]])).logits).arraySync(),
    )[0]!;
    expect(lp[2]).toBeCloseTo(direct[2]![1]!, 5);
    for (const v of lp) expect(v).toBeLessThan(0);
  });
});

describe('generation', () => {
  const model = createModel(config, initWeights(config, 9));

  it('greedy decoding takes the most likely token and is repeatable', () => {
    const a = generate(model, [1, 2, 3], { maxNewTokens: 5 });
    expect(a.ids).toHaveLength(5);
    expect(generate(model, [1, 2, 3], { maxNewTokens: 5 })).toEqual(a);
    const firstLogits = tf.tidy(() => forward(model, ids([[1, 2, 3]])).logits.arraySync())[0]![2]!;
    expect(a.ids[0]).toBe(firstLogits.indexOf(Math.max(...firstLogits)));
  });

  it('sampling is deterministic for a seed and stops at a stop token', () => {
    const opts = { maxNewTokens: 8, temperature: 1.5, topK: 20, topP: 0.9, seed: 11 };
    expect(generate(model, [4], opts)).toEqual(generate(model, [4], opts));
    expect(generate(model, [4], opts).ids).not.toEqual(
      generate(model, [4], { ...opts, seed: 12 }).ids,
    );
    const first = generate(model, [4], opts).ids[0]!;
    const stopped = generate(model, [4], { ...opts, stopIds: [first] });
    expect(stopped).toMatchObject({ ids: [first], finishReason: 'stop' });
  });

  it('never runs past the context window', () => {
    expect(generate(model, Array(30).fill(1), { maxNewTokens: 10 }).ids).toHaveLength(2);
  });

  it('top-k and top-p keep the smallest set of likely tokens', () => {
    const probs = new Float32Array([0.1, 0.5, 0.3, 0.1]);
    expect(nucleus(probs, 2, 1)).toEqual([1, 2]);
    expect(nucleus(probs, 0, 0.7)).toEqual([1, 2]);
    expect(nucleus(probs, 0, 0.5)).toEqual([1]);
  });
});

describe('gradients', () => {
  it('match finite differences through the whole model (bias, LayerNorm, attention, GELU)', () => {
    const tiny = modelConfigSchema.parse({
      vocab_size: 11,
      n_positions: 8,
      n_embd: 8,
      n_layer: 1,
      n_head: 2,
    });
    const model = createModel(tiny, initWeights(tiny, 21));
    const input = ids([[1, 2, 3, 4]]);
    const target = ids([[2, 3, 4, 5]]);
    const mask = tf.ones([1, 4]) as tf.Tensor2D;
    const names = [
      'h.0.attn.c_attn.bias',
      'h.0.mlp.c_fc.bias',
      'h.0.ln_1.weight',
      'h.0.mlp.c_proj.weight',
    ];
    const vars = names.map((n) => model.params.get(n)!);
    const loss = () => lmLoss(forward(model, input).logits, target, mask);
    const { grads } = tf.variableGrads(loss, vars);
    const eps = 1e-2;
    for (const v of vars) {
      const analytic = grads[v.name]!.dataSync();
      const base = v.dataSync().slice();
      for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
        const shifted = (delta: number) => {
          const data = base.slice();
          data[i]! += delta;
          v.assign(tf.tensor(data, v.shape));
          return tf.tidy(() => loss().dataSync()[0]!);
        };
        const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
        v.assign(tf.tensor(base, v.shape));
        expect(analytic[i]!).toBeCloseTo(numeric, 2);
      }
    }
  });
});
