import * as tf from './tf.ts';
import { parameterShapes, type ModelConfig, type WeightMap } from './config.ts';
import { geluTanh, layerNorm, linear, withGrad } from './layers.ts';
import { mulberry32, normal } from './random.ts';

export { geluTanh } from './layers.ts';

/**
 * A decoder-only transformer with GPT-2's architecture and Hugging Face GPT-2 parameter names,
 * written on tfjs-core ops so it runs on every TensorFlow.js backend. Parameters are variables keyed
 * by their Hugging Face name, which is what checkpoints, adapters and the ONNX export address.
 */
export interface Gpt2Model {
  config: ModelConfig;
  params: Map<string, tf.Variable>;
}

/** Keys and values of the positions seen so far, per layer: [batch, heads, length, headDim]. */
export interface KvCache {
  keys: tf.Tensor4D[];
  values: tf.Tensor4D[];
  length: number;
}

/**
 * GPT-2's initialisation: N(0, 0.02) for embeddings and projections, residual projections scaled
 * by 1/sqrt(2 n_layer), LayerNorm at identity, biases zero. Deterministic for a seed.
 *
 * @example
 * const weights = initWeights(config, 42);
 */
export function initWeights(config: ModelConfig, seed: number): WeightMap {
  const rand = mulberry32(seed);
  const weights: WeightMap = new Map();
  const residualStd = 0.02 / Math.sqrt(2 * config.n_layer);
  for (const [name, shape] of parameterShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (name.endsWith('ln_1.weight') || name.endsWith('ln_2.weight') || name === 'ln_f.weight') {
      data.fill(1);
    } else if (name.endsWith('.weight')) {
      const std = name.endsWith('c_proj.weight') ? residualStd : 0.02;
      for (let i = 0; i < size; i++) data[i] = normal(rand) * std;
    }
    weights.set(name, { shape, data });
  }
  return weights;
}

/**
 * Variables for every parameter. `trainable` decides which receive gradients (all by default);
 * adapters freeze the base by passing `() => false`.
 *
 * @example
 * const model = createModel(config, initWeights(config, 1));
 */
export function createModel(
  config: ModelConfig,
  weights: WeightMap,
  trainable: (name: string) => boolean = () => true,
): Gpt2Model {
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of parameterShapes(config)) {
    const w = weights.get(name);
    if (!w) throw new Error(`missing weight ${name}`);
    if (w.shape.join(',') !== shape.join(',')) {
      throw new Error(`weight ${name} has shape [${w.shape}], the config needs [${shape}]`);
    }
    // Unnamed: tfjs variable names are global, and several models (base, policy, reference) coexist.
    params.set(name, tf.variable(tf.tensor(w.data, shape, 'float32'), trainable(name)));
  }
  return { config, params };
}

/** The current parameter values, copied out of the backend. */
export function exportWeights(model: Gpt2Model): WeightMap {
  const out: WeightMap = new Map();
  for (const [name, v] of model.params)
    out.set(name, { shape: v.shape, data: v.dataSync() as Float32Array });
  return out;
}

export function disposeModel(model: Gpt2Model): void {
  for (const v of model.params.values()) v.dispose();
}

export function disposeCache(cache: KvCache | undefined): void {
  if (!cache) return;
  tf.dispose([...cache.keys, ...cache.values]);
}

/** A parameter as used in the forward pass; `override` lets adapters substitute a weight. */
export type ParamLookup = (name: string) => tf.Tensor;

// Additive causal masks by shape: query i (absolute past + i) may see key j when j <= past + i.
function causalMask(total: number, past: number): tf.Tensor {
  const keys = past + total;
  const data = new Float32Array(total * keys);
  for (let i = 0; i < total; i++) data.fill(-1e9, i * keys + past + i + 1, (i + 1) * keys);
  return tf.tensor(data, [1, 1, total, keys]);
}

export interface ForwardOptions {
  /** Positions already processed (generation): their keys and values, extended in place. */
  cache?: KvCache;
  /** Substitute parameters (LoRA, IA3 ...): return undefined to use the model's own. */
  override?: (name: string, own: tf.Tensor) => tf.Tensor | undefined;
  /** Hidden-state hooks for adapters that act inside a block (e.g. IA3 on the MLP activation). */
  hooks?: {
    /** The fused query/key/value projection output, [batch, time, 3 * n_embd]. */
    attentionQkv?: (layer: number, qkv: tf.Tensor) => tf.Tensor;
    /** The MLP activation, the input of mlp.c_proj: [batch, time, n_inner]. */
    mlpActivation?: (layer: number, h: tf.Tensor) => tf.Tensor;
    /**
     * A term added to a projection's output, computed from its input [batch * time, in] (LoRA's
     * low-rank path, with dropout on that path alone). `name` is like `h.0.attn.c_attn`.
     */
    projection?: (name: string, input: tf.Tensor2D) => tf.Tensor | undefined;
  };
  /** Learned vectors prepended to the token embeddings (prompt tuning): [prefix, n_embd]. */
  prefixEmbeddings?: tf.Tensor2D;
}

/**
 * Logits for `ids` [batch, time]. With a cache, `ids` are the next positions after those cached,
 * and the cache is extended (its old tensors are disposed). Causal: position t sees 0..t.
 *
 * @example
 * const logits = tf.tidy(() => forward(model, tf.tensor2d([[1, 2, 3]], undefined, 'int32')).logits);
 */
export function forward(
  model: Gpt2Model,
  ids: tf.Tensor2D,
  opts: ForwardOptions = {},
): { logits: tf.Tensor3D; hidden: tf.Tensor3D } {
  const { config } = model;
  const p: ParamLookup = (name) => {
    const own = model.params.get(name);
    if (!own) throw new Error(`no parameter ${name}`);
    return opts.override?.(name, own) ?? own;
  };
  const [batch, time] = ids.shape;
  const heads = config.n_head;
  const headDim = config.n_embd / heads;
  const past = opts.cache?.length ?? 0;
  const prefix = opts.prefixEmbeddings ? opts.prefixEmbeddings.shape[0] : 0;
  const total = prefix + time;
  if (past + total > config.n_positions) {
    throw new Error(`sequence of ${past + total} tokens exceeds n_positions ${config.n_positions}`);
  }

  let x: tf.Tensor = tf.gather(p('wte.weight'), ids); // [B, T, D]
  if (opts.prefixEmbeddings) {
    const pre = opts.prefixEmbeddings.expandDims(0).tile([batch, 1, 1]);
    x = tf.concat([pre, x], 1);
  }
  const positions = tf.range(past, past + total, 1, 'int32');
  // The residual stream stays [B * T, D]: every projection is then one plain product.
  x = x.add(tf.gather(p('wpe.weight'), positions)).reshape([batch * total, config.n_embd]);
  const mask = causalMask(total, past);
  const eps = config.layer_norm_epsilon;
  const project = (name: string, input: tf.Tensor) => {
    const out = linear(input, p(`${name}.weight`), p(`${name}.bias`));
    const extra = opts.hooks?.projection?.(name, input as tf.Tensor2D);
    return extra ? out.add(extra) : out;
  };
  const scale = 1 / Math.sqrt(headDim);

  for (let layer = 0; layer < config.n_layer; layer++) {
    const pre = `h.${layer}.`;
    const h = layerNorm(x, p(`${pre}ln_1.weight`), p(`${pre}ln_1.bias`), eps);
    let qkv = project(`${pre}attn.c_attn`, h);
    if (opts.hooks?.attentionQkv) {
      qkv = opts.hooks.attentionQkv(layer, qkv.reshape([batch, total, -1])).reshape(qkv.shape);
    }
    // [B*T, 3D] -> [B, 3H, T, Dh] in one transpose, then q, k, v are whole heads along axis 1.
    const qkvHeads = qkv.reshape([batch, total, 3 * heads, headDim]).transpose([0, 2, 1, 3]);
    const [q, k0, v0] = tf.split(qkvHeads, 3, 1) as [tf.Tensor, tf.Tensor, tf.Tensor];
    let k: tf.Tensor = k0;
    let v: tf.Tensor = v0;
    if (opts.cache) {
      const oldK = opts.cache.keys[layer];
      const oldV = opts.cache.values[layer];
      if (oldK && oldV) {
        k = tf.concat([oldK, k], 2);
        v = tf.concat([oldV, v], 2);
      }
      opts.cache.keys[layer] = tf.keep(k) as tf.Tensor4D;
      opts.cache.values[layer] = tf.keep(v) as tf.Tensor4D;
      if (oldK && oldV) tf.dispose([oldK, oldV]);
    }
    const scores = tf.matMul(q.mul(scale), k, false, true).add(mask);
    const attended = tf.matMul(tf.softmax(scores), v); // [B, H, T, Dh]
    const merged = attended.transpose([0, 2, 1, 3]).reshape([batch * total, config.n_embd]);
    x = x.add(project(`${pre}attn.c_proj`, merged));

    const h2 = layerNorm(x, p(`${pre}ln_2.weight`), p(`${pre}ln_2.bias`), eps);
    let act = geluTanh(project(`${pre}mlp.c_fc`, h2));
    if (opts.hooks?.mlpActivation) {
      act = opts.hooks.mlpActivation(layer, act.reshape([batch, total, -1])).reshape(act.shape);
    }
    x = x.add(project(`${pre}mlp.c_proj`, act));
  }
  if (opts.cache) opts.cache.length = past + total;
  const hidden = layerNorm(x, p('ln_f.weight'), p('ln_f.bias'), eps);
  const logits = tf
    .matMul(hidden, p('wte.weight'), false, true)
    .reshape([batch, total, config.vocab_size]) as tf.Tensor3D;
  return { logits, hidden: hidden.reshape([batch, total, config.n_embd]) as tf.Tensor3D };
}

/**
 * Mean cross-entropy of predicting `targets` [batch, time] from `logits` [batch, time, vocab],
 * over the positions where `mask` is 1 (SFT masks the prompt; padding is always masked).
 */
export function lmLoss(logits: tf.Tensor3D, targets: tf.Tensor2D, mask: tf.Tensor2D): tf.Scalar {
  const vocab = logits.shape[2];
  const flat = logits.reshape([-1, vocab]);
  const onehot = tf.oneHot(targets.reshape([-1]), vocab);
  const m = mask.reshape([-1]).toFloat();
  const weights = m.div(m.sum().maximum(1)).reshape([-1, 1]);
  // Written out: the gradient is softmax - onehot per row, from the exponentials the forward pass
  // already made (wasm's Exp is a slow scalar loop, and autodiff of logSoftmax runs it again).
  return withGrad(flat, [], (save) => {
    const shifted = flat.sub(flat.max(-1, true));
    const e = shifted.exp();
    const total = e.sum(-1, true);
    save([e, total, onehot, weights]);
    const picked = shifted.sub(total.log()).mul(onehot);
    return {
      value: picked.mul(weights).sum().neg(),
      grads: (dy, [ex, sum, hot, w]) => [ex!.div(sum!).sub(hot!).mul(w!.mul(dy))],
    };
  }) as tf.Scalar;
}

/** Log-probability of each next token: entry t is log p(ids[t+1] | ids[0..t]). */
export function tokenLogprobs(model: Gpt2Model, ids: number[]): number[] {
  if (ids.length < 2) return [];
  return tf.tidy(() => {
    const input = tf.tensor2d([ids.slice(0, -1)], undefined, 'int32');
    const { logits } = forward(model, input);
    const logp = tf.logSoftmax(logits.squeeze([0]));
    const picked = tf.gather(
      logp.reshape([-1]),
      tf.tensor1d(
        ids.slice(1).map((t, i) => i * model.config.vocab_size + t),
        'int32',
      ),
    );
    return Array.from(picked.dataSync());
  });
}
