import fs from 'node:fs';
import path from 'node:path';
import { parameterShapes, type ModelConfig, type WeightMap } from '../config.ts';
import { GraphBuilder } from './graph-builder.ts';

/** LayerNormalization entered the default domain in opset 17. */
export const ONNX_OPSET = 17;

/** Where the exported config travels inside the model (`metadata_props`). */
export const CONFIG_METADATA_KEY = 'heldout.config';

/** Masked attention scores: finite, so a row with every key masked (left padding) gives no NaN. */
const MASKED = -1e9;

/**
 * Builds the ONNX graph of a GPT-2 model: the same computation as `forward` in transformer.ts,
 * with the KV cache as explicit inputs and outputs so generation feeds one token at a time.
 *
 * Inputs: `input_ids` [batch, seq] int64; `position_ids` [batch, seq] int64; `attention_mask`
 * [batch, past + seq] int64 (1 = attend; 0 hides left padding); `past_key_values.{i}.key|value`
 * [batch, n_head, past, head_dim] float32 (past may be 0). Outputs: `logits` [batch, seq, vocab]
 * and `present.{i}.key|value` [batch, n_head, past + seq, head_dim]. Weights are initializers under
 * their Hugging Face names; the LM head reuses `wte.weight`.
 *
 * @example
 * fs.writeFileSync('model.onnx', exportGpt2Onnx(config, weights));
 */
export function exportGpt2Onnx(config: ModelConfig, weights: WeightMap): Uint8Array {
  const g = new GraphBuilder();
  const d = config.n_embd;
  const heads = config.n_head;
  const headDim = d / heads;
  const eps = { float: config.layer_norm_epsilon };

  for (const [name, shape] of parameterShapes(config)) {
    const w = weights.get(name);
    if (!w) throw new Error(`missing weight ${name}`);
    if (w.shape.join(',') !== shape.join(',')) {
      throw new Error(`weight ${name} has shape [${w.shape}], the config needs [${shape}]`);
    }
    g.initializer(name, shape, w.data);
  }

  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const positions = g.input('position_ids', 'int64', ['batch', 'seq']);
  const attention = g.input('attention_mask', 'int64', ['batch', 'total']);
  const pastNames = Array.from({ length: config.n_layer }, (_, i) => ({
    key: g.input(`past_key_values.${i}.key`, 'float', ['batch', heads, 'past', headDim]),
    value: g.input(`past_key_values.${i}.value`, 'float', ['batch', heads, 'past', headDim]),
  }));

  let x = g.one('Add', [
    g.one('Gather', ['wte.weight', ids], { axis: 0 }),
    g.one('Gather', ['wpe.weight', positions], { axis: 0 }),
  ]);

  // Query i sits at absolute index past + i; it may see key j when j <= past + i and the mask
  // allows j. The mask is built once from shapes, so it follows the past length at run time.
  const past = g.one('Gather', [g.one('Shape', [pastNames[0]!.key]), g.int64([2], [])], {
    axis: 0,
  });
  const seq = g.one('Gather', [g.one('Shape', [ids]), g.int64([1], [])], { axis: 0 });
  const total = g.one('Add', [past, seq]);
  const one = g.int64([1], []);
  const keyIndex = g.one('Range', [g.int64([0], []), total, one]); // [total]
  const queryIndex = g.one('Range', [past, total, one]); // [seq]
  const causal = g.one('LessOrEqual', [
    g.one('Unsqueeze', [keyIndex, g.int64([0])]),
    g.one('Unsqueeze', [queryIndex, g.int64([1])]),
  ]); // [seq, total]
  const padding = g.one('Cast', [g.one('Unsqueeze', [attention, g.int64([1, 2])])], {
    to: 9,
  }); // [batch, 1, 1, total]
  const allowed = g.one('And', [causal, padding]); // [batch, 1, seq, total]

  const toHeads = (t: string) =>
    g.one('Transpose', [g.one('Reshape', [t, g.int64([0, 0, heads, headDim])])], {
      perm: [0, 2, 1, 3],
    });
  const dense = (t: string, prefix: string) =>
    g.one('Add', [g.one('MatMul', [t, `${prefix}.weight`]), `${prefix}.bias`]);
  const layerNorm = (t: string, prefix: string) =>
    g.one('LayerNormalization', [t, `${prefix}.weight`, `${prefix}.bias`], {
      axis: -1,
      epsilon: eps,
    });

  for (let layer = 0; layer < config.n_layer; layer++) {
    const p = `h.${layer}.`;
    const qkv = dense(layerNorm(x, `${p}ln_1`), `${p}attn.c_attn`);
    const [q, k, v] = g.op('Split', [qkv, g.int64([d, d, d])], { axis: -1 }, 3) as [
      string,
      string,
      string,
    ];
    const key = g.op('Concat', [pastNames[layer]!.key, toHeads(k)], { axis: 2 }, [
      `present.${layer}.key`,
    ])[0]!;
    const value = g.op('Concat', [pastNames[layer]!.value, toHeads(v)], { axis: 2 }, [
      `present.${layer}.value`,
    ])[0]!;
    g.output(key, 'float', ['batch', heads, 'total', headDim], key);
    g.output(value, 'float', ['batch', heads, 'total', headDim], value);

    const scores = g.one('Div', [
      g.one('MatMul', [toHeads(q), g.one('Transpose', [key], { perm: [0, 1, 3, 2] })]),
      g.scalar(Math.sqrt(headDim)),
    ]);
    const probs = g.one('Softmax', [g.one('Where', [allowed, scores, g.scalar(MASKED)])], {
      axis: -1,
    });
    const merged = g.one('Reshape', [
      g.one('Transpose', [g.one('MatMul', [probs, value])], { perm: [0, 2, 1, 3] }),
      g.int64([0, 0, d]),
    ]);
    x = g.one('Add', [x, dense(merged, `${p}attn.c_proj`)]);

    const hidden = dense(layerNorm(x, `${p}ln_2`), `${p}mlp.c_fc`);
    x = g.one('Add', [x, dense(geluTanh(g, hidden), `${p}mlp.c_proj`)]);
  }

  const final = layerNorm(x, 'ln_f');
  // Tied head: transposing wte in the graph keeps one copy in the file; ORT folds it at load.
  const logits = g.one('MatMul', [final, g.one('Transpose', ['wte.weight'], { perm: [1, 0] })]);
  g.output(logits, 'float', ['batch', 'seq', config.vocab_size], 'logits');

  return g.toBytes({
    opset: ONNX_OPSET,
    name: 'gpt2',
    metadata: { [CONFIG_METADATA_KEY]: JSON.stringify(config) },
  });
}

/** GELU, tanh approximation, spelled out as in transformer.ts (opset 17 has no Gelu). */
function geluTanh(g: GraphBuilder, x: string): string {
  const cube = g.one('Mul', [g.one('Mul', [x, x]), x]);
  const inner = g.one('Mul', [
    g.one('Add', [x, g.one('Mul', [cube, g.scalar(0.044715)])]),
    g.scalar(Math.sqrt(2 / Math.PI)),
  ]);
  const gate = g.one('Add', [g.one('Tanh', [inner]), g.scalar(1)]);
  return g.one('Mul', [g.one('Mul', [x, g.scalar(0.5)]), gate]);
}

/**
 * Writes `model.onnx` into a checkpoint directory (beside `config.json` and `model.safetensors`)
 * and returns its path.
 *
 * @example
 * const file = saveGpt2Onnx('/data/checkpoints/abc', config, weights);
 */
export function saveGpt2Onnx(dir: string, config: ModelConfig, weights: WeightMap): string {
  const file = path.join(dir, 'model.onnx');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, exportGpt2Onnx(config, weights));
  return file;
}
