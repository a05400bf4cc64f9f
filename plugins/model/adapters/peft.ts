import { innerSize, type ModelConfig, type WeightMap } from '../config.ts';
import { mulberry32, normal } from '../random.ts';
import { readAdapterFiles, writeAdapterFiles } from './lora.ts';

/**
 * The parameter-efficient methods besides LoRA, each stored as PEFT stores it where PEFT has a
 * layout (IA³, prompt tuning) and in the same two-file shape where it has none (BitFit):
 * - IA³: a learned vector rescales each block's keys and values (the fused c_attn output, query
 *   part held at 1) and the feed-forward activation (the input of mlp.c_proj), initialised to 1.
 * - prompt tuning: `n` virtual token embeddings prepended to every input.
 * - BitFit: only the biases (and LayerNorm shifts) train.
 */
export type PeftMethod = 'ia3' | 'prompt-tuning' | 'bitfit';

export const ia3Key = (layer: number, module: 'attn.c_attn' | 'mlp.c_proj') =>
  `base_model.model.transformer.h.${layer}.${module}.ia3_l`;
export const PROMPT_KEY = 'prompt_embeddings';

/** Whether a base parameter trains under BitFit: every bias, the LayerNorm shifts included. */
export const isBias = (name: string) => name.endsWith('.bias');

/** IA³ vectors, all ones (the base's own behaviour): [3 * n_embd, 1] and [1, n_inner] as PEFT shapes them. */
export function initIa3(c: ModelConfig): WeightMap {
  const weights: WeightMap = new Map();
  for (let layer = 0; layer < c.n_layer; layer++) {
    const qkv = 3 * c.n_embd;
    weights.set(ia3Key(layer, 'attn.c_attn'), {
      shape: [qkv, 1],
      data: new Float32Array(qkv).fill(1),
    });
    const inner = innerSize(c);
    weights.set(ia3Key(layer, 'mlp.c_proj'), {
      shape: [1, inner],
      data: new Float32Array(inner).fill(1),
    });
  }
  return weights;
}

/**
 * Virtual tokens initialised from the embeddings of real ones (PEFT's `TEXT` init needs a text;
 * random rows of the vocabulary work as well for a start and need none).
 */
export function initPrompt(wte: { shape: number[]; data: Float32Array }, n: number, seed: number) {
  const rand = mulberry32(seed);
  const [vocab, dim] = wte.shape as [number, number];
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const row = Math.floor(rand() * vocab);
    for (let j = 0; j < dim; j++)
      data[i * dim + j] = wte.data[row * dim + j]! + normal(rand) * 1e-3;
  }
  return { shape: [n, dim], data };
}

const PEFT_TYPES: Record<PeftMethod, string> = {
  ia3: 'IA3',
  'prompt-tuning': 'PROMPT_TUNING',
  bitfit: 'BITFIT',
};

export interface PeftAdapterConfig {
  peft_type: string;
  task_type: 'CAUSAL_LM';
  base_model_name_or_path: string;
  heldout_base_sha256: string;
  [field: string]: unknown;
}

/** PEFT's config fields for each method, so PEFT reads the IA³ and prompt-tuning files as its own. */
function methodFields(method: PeftMethod, c: ModelConfig, weights: WeightMap) {
  if (method === 'ia3') {
    return {
      target_modules: ['attn.c_attn', 'mlp.c_proj'],
      feedforward_modules: ['mlp.c_proj'],
      fan_in_fan_out: true,
      init_ia3_weights: true,
      heldout_scaled: 'keys and values of attn.c_attn (queries held at 1), input of mlp.c_proj',
    };
  }
  if (method === 'prompt-tuning') {
    return {
      num_virtual_tokens: weights.get(PROMPT_KEY)!.shape[0],
      token_dim: c.n_embd,
      num_transformer_submodules: 1,
      num_attention_heads: c.n_head,
      num_layers: c.n_layer,
      prompt_tuning_init: 'RANDOM',
    };
  }
  return { trained: 'biases' };
}

/** Writes `adapter_config.json` + `adapter_model.safetensors`; returns the weights' sha256 and size. */
export async function savePeftAdapter(
  dir: string,
  method: PeftMethod,
  weights: WeightMap,
  c: ModelConfig,
  base: { name: string; sha256: string },
): Promise<{ sha256: string; sizeBytes: number }> {
  const config: PeftAdapterConfig = {
    peft_type: PEFT_TYPES[method],
    task_type: 'CAUSAL_LM',
    inference_mode: true,
    base_model_name_or_path: base.name,
    heldout_base_sha256: base.sha256,
    ...methodFields(method, c, weights),
  };
  return writeAdapterFiles(dir, config, weights);
}

export async function loadPeftAdapter(
  dir: string,
): Promise<{ method: PeftMethod; config: PeftAdapterConfig; weights: WeightMap }> {
  const { config, weights } = await readAdapterFiles<PeftAdapterConfig>(dir);
  const method = (Object.keys(PEFT_TYPES) as PeftMethod[]).find(
    (k) => PEFT_TYPES[k] === config.peft_type,
  );
  if (!method) throw new Error(`${dir}: unknown adapter type ${config.peft_type}`);
  return { method, config, weights };
}
