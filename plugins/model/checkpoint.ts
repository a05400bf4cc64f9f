import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { modelConfigSchema, parameterShapes, type ModelConfig, type WeightMap } from './config.ts';
import { readSafetensors, saveSafetensorsFile } from './safetensors.ts';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';

// Buffers transformers stores beside the parameters (the causal mask) and the tied LM head:
// nothing to load, since the architecture recomputes or shares them.
const derived = /(^|\.)attn\.(masked_)?bias$|^lm_head\.weight$/;

/**
 * Reads a GPT-2-format directory (`config.json` + `model.safetensors`), heldout's own or a
 * Hugging Face one (distilgpt2, gpt2: keys may carry a `transformer.` prefix; F16/BF16 are
 * widened to F32). Every parameter the config implies must be present with its shape.
 *
 * @example
 * const { config, weights } = await loadCheckpointDir('plugins/model/base/tiny-base');
 */
export async function loadCheckpointDir(
  dir: string,
): Promise<{ config: ModelConfig; weights: WeightMap; sha256: string }> {
  const raw = JSON.parse(await readFile(path.join(dir, CONFIG_FILE), 'utf8')) as unknown;
  const config = modelConfigSchema.parse(raw);
  const bytes = await readFile(path.join(dir, WEIGHTS_FILE));
  const { tensors } = readSafetensors(bytes);
  const found = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [key, t] of tensors) {
    const name = key.replace(/^transformer\./, '');
    if (!derived.test(name)) found.set(name, { shape: t.shape, data: t.data });
  }
  // In the architecture's parameter order, whatever order the file stored them in.
  const weights: WeightMap = new Map();
  for (const [name, shape] of parameterShapes(config)) {
    const w = found.get(name);
    if (!w) throw new Error(`${dir}: ${WEIGHTS_FILE} has no tensor ${name}`);
    if (w.shape.join(',') !== shape.join(',')) {
      throw new Error(`${dir}: ${name} has shape [${w.shape}], config.json implies [${shape}]`);
    }
    weights.set(name, w);
  }
  return { config, weights, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Writes `config.json` and `model.safetensors` (F32, atomically) into `dir`, and returns the
 * weights file's sha256 and size: the identity of the checkpoint.
 *
 * @example
 * const { sha256 } = await saveCheckpointDir('out/step-100', config, exportWeights(model));
 */
export async function saveCheckpointDir(
  dir: string,
  config: ModelConfig,
  weights: WeightMap,
  metadata: Record<string, string> = {},
): Promise<{ sha256: string; sizeBytes: number }> {
  await mkdir(dir, { recursive: true });
  const ordered: WeightMap = new Map();
  for (const name of parameterShapes(config).keys()) ordered.set(name, weights.get(name)!);
  // Heads beyond the language model (a reward model's `score.weight`) follow the architecture's.
  for (const [name, w] of weights) if (!ordered.has(name)) ordered.set(name, w);
  await saveSafetensorsFile(path.join(dir, WEIGHTS_FILE), ordered, { format: 'pt', ...metadata });
  const configTmp = path.join(dir, `.${CONFIG_FILE}.tmp`);
  await writeFile(
    configTmp,
    `${JSON.stringify({ ...config, architectures: ['GPT2LMHeadModel'] }, null, 2)}\n`,
  );
  await rename(configTmp, path.join(dir, CONFIG_FILE));
  const bytes = await readFile(path.join(dir, WEIGHTS_FILE));
  return { sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.byteLength };
}
