import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import { loadGradients, registerWasmKernels } from '../../plugins/model/backend/index.ts';
import { modelConfigSchema } from '../../plugins/model/config.ts';
import * as tf from '../../plugins/model/tf.ts';
import {
  createModel,
  forward,
  initWeights,
  lmLoss,
  type Gpt2Model,
} from '../../plugins/model/transformer.ts';

const config = modelConfigSchema.parse({
  vocab_size: 23,
  n_positions: 16,
  n_embd: 16,
  n_layer: 2,
  n_head: 4,
});

// GPT-2 written with plain tfjs ops and left to autodiff: what the model's hand-written backward
// passes (LayerNorm, GELU, projections) must agree with.
function referenceLoss(model: Gpt2Model, ids: tf.Tensor2D, targets: tf.Tensor2D) {
  const p = (n: string) => model.params.get(n)!;
  const [B, T] = ids.shape;
  const { n_embd: D, n_head: H } = config;
  const ln = (x: tf.Tensor, pre: string) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return x
      .sub(mean)
      .div(variance.add(config.layer_norm_epsilon).sqrt())
      .mul(p(`${pre}.weight`))
      .add(p(`${pre}.bias`));
  };
  const dense = (x: tf.Tensor, pre: string) =>
    tf.matMul(x, p(`${pre}.weight`)).add(p(`${pre}.bias`));
  const heads = (t: tf.Tensor) => t.reshape([B, T, H, D / H]).transpose([0, 2, 1, 3]);
  const mask = tf.linalg
    .bandPart(tf.ones([T, T]), -1, 0)
    .sub(1)
    .mul(1e9);
  let x = tf
    .gather(p('wte.weight'), ids.reshape([-1]))
    .add(tf.tile(p('wpe.weight').slice(0, T), [B, 1]));
  for (let l = 0; l < config.n_layer; l++) {
    const [q, k, v] = tf.split(dense(ln(x, `h.${l}.ln_1`), `h.${l}.attn.c_attn`), 3, -1);
    const s = tf
      .matMul(heads(q!), heads(k!), false, true)
      .div(Math.sqrt(D / H))
      .add(mask);
    const a = tf
      .matMul(tf.softmax(s), heads(v!))
      .transpose([0, 2, 1, 3])
      .reshape([B * T, D]);
    x = x.add(dense(a, `h.${l}.attn.c_proj`));
    const h = dense(ln(x, `h.${l}.ln_2`), `h.${l}.mlp.c_fc`);
    const g = h
      .mul(0.5)
      .mul(tf.tanh(h.add(h.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI))).add(1));
    x = x.add(dense(g, `h.${l}.mlp.c_proj`));
  }
  const logits = tf.matMul(ln(x, 'ln_f'), p('wte.weight'), false, true);
  const logp = tf.logSoftmax(logits);
  return logp
    .mul(tf.oneHot(targets.reshape([-1]), config.vocab_size))
    .sum()
    .neg()
    .div(B * T);
}

async function gradients(backend: string, reference: boolean, trainable: (n: string) => boolean) {
  await tf.setBackend(backend);
  const weights = initWeights(config, 5);
  // GPT-2's 0.02 init leaves GELU nearly linear and attention nearly uniform; larger weights
  // exercise the curvature the backward passes must get right.
  for (const [name, w] of weights)
    if (name.includes('.c_')) w.data.forEach((v, i, d) => (d[i] = v * 30));
  const model = createModel(config, weights, trainable);
  const ids = tf.tensor2d(
    [
      [1, 4, 9, 16, 2, 7],
      [3, 3, 8, 22, 0, 5],
    ],
    undefined,
    'int32',
  );
  const targets = tf.tensor2d(
    [
      [4, 9, 16, 2, 7, 1],
      [3, 8, 22, 0, 5, 5],
    ],
    undefined,
    'int32',
  );
  const vars = [...model.params.values()].filter((v) => v.trainable);
  const loss = () =>
    reference
      ? (referenceLoss(model, ids, targets) as tf.Scalar)
      : lmLoss(forward(model, ids).logits, targets, tf.ones([2, 6]) as tf.Tensor2D);
  const { value, grads } = tf.variableGrads(loss, vars);
  const names = [...model.params].filter(([, v]) => v.trainable).map(([n]) => n);
  const out = new Map(names.map((n, i) => [n, Array.from(grads[vars[i]!.name]!.dataSync())]));
  out.set('loss', Array.from(value.dataSync()));
  return out;
}

function expectClose(got: Map<string, number[]>, want: Map<string, number[]>) {
  expect([...got.keys()]).toEqual([...want.keys()]);
  for (const [name, w] of want) {
    const g = got.get(name)!;
    const scale = Math.max(1e-3, ...w.map(Math.abs));
    const worst = Math.max(...g.map((v, i) => Math.abs(v - w[i]!)));
    expect(worst / scale, name).toBeLessThan(2e-4);
  }
}

describe('transformer gradients', () => {
  it('match autodiff of a plain-ops GPT-2 for every parameter, on cpu and on wasm', async () => {
    registerWasmKernels();
    await loadGradients();
    const want = await gradients('cpu', true, () => true);
    expectClose(await gradients('cpu', false, () => true), want);
    expectClose(await gradients('wasm', false, () => true), want);
  });

  it('skip frozen parameters and still agree on the trainable ones', async () => {
    const trainable = (n: string) => n.includes('ln_') || n.endsWith('c_attn.bias');
    const want = await gradients('cpu', true, trainable);
    expectClose(await gradients('wasm', false, trainable), want);
  });
});
