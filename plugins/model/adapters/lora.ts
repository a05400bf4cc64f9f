import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { innerSize, type ModelConfig, type WeightMap } from '../config.ts';
import { mulberry32 } from '../random.ts';
import { loadSafetensorsFile, saveSafetensorsFile } from '../safetensors.ts';
import * as tf from '../tf.ts';
import type { ForwardOptions } from '../transformer.ts';

/** The GPT-2 projections LoRA can adapt, by their name inside a block. */
export const LORA_TARGETS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export const loraSettingsSchema = z.strictObject({
  r: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(8)
    .describe(
      'LoRA rank: columns of the low-rank update; raise it (16, 32) when the task needs more capacity.',
    ),
  alpha: z
    .number()
    .positive()
    .default(16)
    .describe('LoRA scale numerator: the update is multiplied by alpha / r; usually 2 × r.'),
  dropout: z
    .number()
    .min(0)
    .max(0.9)
    .default(0)
    .describe(
      'Dropout rate on the low-rank path while training (0 to 0.9); raise it against overfitting.',
    ),
  targetModules: z
    .array(z.enum(LORA_TARGETS))
    .min(1)
    .default(['attn.c_attn', 'attn.c_proj'])
    .refine((t) => new Set(t).size === t.length, 'must not repeat a module')
    .describe(
      'Projections (GPT-2 names) that gain an adapter; add the MLP ones for more capacity.',
    ),
});
export type LoraSettings = z.infer<typeof loraSettingsSchema>;

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/**
 * Writes an adapter's two files, as every PEFT method stores them; returns the weights file's
 * sha256 and size, which identify the checkpoint.
 */
export async function writeAdapterFiles(
  dir: string,
  config: object,
  weights: WeightMap,
): Promise<{ sha256: string; sizeBytes: number }> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  const file = path.join(dir, ADAPTER_WEIGHTS_FILE);
  await saveSafetensorsFile(file, weights, { format: 'pt' });
  const bytes = await readFile(file);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length };
}

/** An adapter's config (unchecked: the caller knows its method) and tensors by key. */
export async function readAdapterFiles<C>(dir: string): Promise<{ config: C; weights: WeightMap }> {
  const config = JSON.parse(await readFile(path.join(dir, ADAPTER_CONFIG_FILE), 'utf8')) as C;
  const { tensors } = await loadSafetensorsFile(path.join(dir, ADAPTER_WEIGHTS_FILE));
  const weights: WeightMap = new Map();
  for (const [key, t] of tensors) weights.set(key, { shape: t.shape, data: t.data });
  return { config, weights };
}

/** PEFT's key for a LoRA matrix of block `layer`'s projection `target`. */
export const loraKey = (layer: number, target: LoraTarget, matrix: 'A' | 'B') =>
  `base_model.model.transformer.h.${layer}.${target}.lora_${matrix}.weight`;

/** [in, out] of a projection, as GPT-2's Conv1D stores its weight. */
function projectionShape(c: ModelConfig, target: LoraTarget): [number, number] {
  const d = c.n_embd;
  const inner = innerSize(c);
  const shapes: Record<LoraTarget, [number, number]> = {
    'attn.c_attn': [d, 3 * d],
    'attn.c_proj': [d, d],
    'mlp.c_fc': [d, inner],
    'mlp.c_proj': [inner, d],
  };
  return shapes[target];
}

/**
 * The adapter's matrices in PEFT's layout: `lora_A` [r, in] and `lora_B` [out, r], so the update of
 * a Conv1D weight [in, out] is scaling * A^T B^T.
 *
 * @example
 * loraShapes(config, { r: 8, targetModules: ['attn.c_attn'] }).get(loraKey(0, 'attn.c_attn', 'A')); // [8, n_embd]
 */
export function loraShapes(
  c: ModelConfig,
  s: Pick<LoraSettings, 'r' | 'targetModules'>,
): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (let layer = 0; layer < c.n_layer; layer++) {
    for (const target of s.targetModules) {
      const [inDim, outDim] = projectionShape(c, target);
      shapes.set(loraKey(layer, target, 'A'), [s.r, inDim]);
      shapes.set(loraKey(layer, target, 'B'), [outDim, s.r]);
    }
  }
  return shapes;
}

export const loraScaling = (s: Pick<LoraSettings, 'r' | 'alpha'>) => s.alpha / s.r;

/**
 * A fresh adapter as PEFT initialises one: A uniform in ±1/sqrt(in) (kaiming-uniform with a = sqrt(5)),
 * B zero, so training starts from exactly the base model.
 */
export function initLora(
  c: ModelConfig,
  s: Pick<LoraSettings, 'r' | 'targetModules'>,
  seed: number,
): WeightMap {
  const rand = mulberry32(seed);
  const weights: WeightMap = new Map();
  for (const [key, shape] of loraShapes(c, s)) {
    const data = new Float32Array(shape[0]! * shape[1]!);
    if (key.endsWith('lora_A.weight')) {
      const bound = 1 / Math.sqrt(shape[1]!);
      for (let i = 0; i < data.length; i++) data[i] = (rand() * 2 - 1) * bound;
    }
    weights.set(key, { shape, data });
  }
  return weights;
}

/** scaling * A^T B^T: the change an adapter makes to a Conv1D weight [in, out]. */
export function loraDelta(
  a: { shape: number[]; data: Float32Array },
  b: { shape: number[]; data: Float32Array },
  scaling: number,
): Float32Array {
  const [r, inDim] = a.shape as [number, number];
  const [outDim] = b.shape as [number];
  const delta = new Float32Array(inDim * outDim);
  for (let i = 0; i < inDim; i++) {
    for (let k = 0; k < r; k++) {
      const aki = a.data[k * inDim + i]! * scaling;
      if (aki === 0) continue;
      const row = i * outDim;
      for (let o = 0; o < outDim; o++) delta[row + o]! += aki * b.data[o * r + k]!;
    }
  }
  return delta;
}

const projectionName = /^h\.(\d+)\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)$/;

/**
 * Forward options that apply an adapter on the fly to an unchanged base model: each targeted
 * projection gains scaling * (dropout(x) A^T) B^T, computed through the rank-r bottleneck, never as
 * a full weight. Several adapters can share one base in memory, each call naming its own. `adapter`
 * holds PEFT-keyed tensors (variables while training, constants when evaluating); `dropout` is for
 * training only, with a seed so a step's mask is the same when a run resumes.
 *
 * @example
 * const logits = forward(base, ids, loraForwardOptions(adapterTensors, settings)).logits;
 */
export function loraForwardOptions(
  adapter: ReadonlyMap<string, tf.Tensor>,
  s: Pick<LoraSettings, 'r' | 'alpha' | 'targetModules'>,
  dropout?: { rate: number; seed: number },
): Pick<ForwardOptions, 'hooks'> {
  const scaling = loraScaling(s);
  return {
    hooks: {
      projection: (name, input) => {
        const match = projectionName.exec(name);
        const target = match?.[2] as LoraTarget | undefined;
        if (!target || !s.targetModules.includes(target)) return undefined;
        const a = adapter.get(loraKey(Number(match![1]), target, 'A'));
        const b = adapter.get(loraKey(Number(match![1]), target, 'B'));
        if (!a || !b)
          throw new Error(`the adapter has no ${target} matrices for block ${match![1]}`);
        const x =
          dropout && dropout.rate > 0
            ? tf.dropout(input, dropout.rate, undefined, `${dropout.seed}:${name}`)
            : input;
        return tf.matMul(tf.matMul(x, a, false, true), b, false, true).mul(scaling);
      },
    },
  };
}

/**
 * The base weights with the adapter folded in (`sign` 1), or taken out again (`sign` -1). New
 * arrays: the base passed in is never changed.
 */
export function mergeLora(
  base: WeightMap,
  adapter: WeightMap,
  s: Pick<LoraSettings, 'r' | 'alpha' | 'targetModules'>,
  sign: 1 | -1 = 1,
): WeightMap {
  const merged: WeightMap = new Map(base);
  const scaling = loraScaling(s) * sign;
  const layers = new Set<number>();
  for (const key of adapter.keys()) layers.add(Number(/\.h\.(\d+)\./.exec(key)?.[1]));
  for (const layer of layers) {
    for (const target of s.targetModules) {
      const a = adapter.get(loraKey(layer, target, 'A'));
      const b = adapter.get(loraKey(layer, target, 'B'));
      const name = `h.${layer}.${target}.weight`;
      const w = base.get(name);
      if (!a || !b || !w) throw new Error(`the adapter and the base disagree about ${name}`);
      const delta = loraDelta(a, b, scaling);
      const data = new Float32Array(w.data);
      for (let i = 0; i < data.length; i++) data[i]! += delta[i]!;
      merged.set(name, { shape: w.shape, data });
    }
  }
  return merged;
}

/** What `adapter_config.json` holds: PEFT's fields, plus the base checkpoint the adapter belongs to. */
export interface AdapterConfig {
  peft_type: 'LORA';
  task_type: 'CAUSAL_LM';
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: LoraTarget[];
  fan_in_fan_out: true;
  bias: 'none';
  inference_mode: boolean;
  base_model_name_or_path: string;
  /** sha256 of the base's model.safetensors: an adapter is meaningless on any other weights. */
  heldout_base_sha256: string;
}

/**
 * Writes an adapter as PEFT does (`adapter_config.json` + `adapter_model.safetensors`), so
 * `PeftModel.from_pretrained(gpt2, dir)` loads it; returns the weights file's sha256 and size.
 */
export async function saveLoraAdapter(
  dir: string,
  adapter: WeightMap,
  s: LoraSettings,
  base: { name: string; sha256: string },
): Promise<{ sha256: string; sizeBytes: number }> {
  const config: AdapterConfig = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: s.r,
    lora_alpha: s.alpha,
    lora_dropout: s.dropout,
    target_modules: s.targetModules,
    fan_in_fan_out: true,
    bias: 'none',
    inference_mode: true,
    base_model_name_or_path: base.name,
    heldout_base_sha256: base.sha256,
  };
  return writeAdapterFiles(dir, config, adapter);
}

export async function loadLoraAdapter(
  dir: string,
): Promise<{ config: AdapterConfig; settings: LoraSettings; weights: WeightMap }> {
  const { config, weights } = await readAdapterFiles<AdapterConfig>(dir);
  if (config.peft_type !== 'LORA')
    throw new Error(`${dir}: not a LoRA adapter (${config.peft_type})`);
  const settings = loraSettingsSchema.parse({
    r: config.r,
    alpha: config.lora_alpha,
    dropout: config.lora_dropout,
    targetModules: config.target_modules,
  });
  return { config, settings, weights };
}
