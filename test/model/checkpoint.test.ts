import '@tensorflow/tfjs-backend-cpu';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpointDir, saveCheckpointDir } from '../../plugins/model/checkpoint.ts';
import { modelConfigSchema } from '../../plugins/model/config.ts';
import { writeSafetensors } from '../../plugins/model/safetensors.ts';
import { initWeights } from '../../plugins/model/transformer.ts';

const config = modelConfigSchema.parse({
  vocab_size: 50,
  n_positions: 16,
  n_embd: 8,
  n_layer: 2,
  n_head: 2,
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-ckpt-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('checkpoint directories', () => {
  it('round-trip config and weights, and name the weights by their sha256', async () => {
    const weights = initWeights(config, 1);
    const saved = await saveCheckpointDir(path.join(dir, 'a'), config, weights);
    const bytes = fs.readFileSync(path.join(dir, 'a', 'model.safetensors'));
    expect(saved).toEqual({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sizeBytes: bytes.length,
    });
    const loaded = await loadCheckpointDir(path.join(dir, 'a'));
    expect(loaded.sha256).toBe(saved.sha256);
    expect(loaded.config).toMatchObject({ n_embd: 8, n_layer: 2, layer_norm_epsilon: 1e-5 });
    expect([...loaded.weights.keys()]).toEqual([...weights.keys()]);
    for (const [name, w] of weights) expect(loaded.weights.get(name)!.data).toEqual(w.data);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'a', 'config.json'), 'utf8'));
    expect(json).toMatchObject({
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      n_embd: 8,
    });
  });

  it('load a Hugging Face GPT2LMHeadModel layout: transformer. prefix, mask buffers, tied head', async () => {
    const weights = initWeights(config, 2);
    const hf = new Map([...weights].map(([k, v]) => [`transformer.${k}`, v]));
    hf.set('transformer.h.0.attn.bias', { shape: [1, 1, 16, 16], data: new Float32Array(256) });
    hf.set('lm_head.weight', weights.get('wte.weight')!);
    fs.mkdirSync(path.join(dir, 'hf'));
    fs.writeFileSync(path.join(dir, 'hf', 'model.safetensors'), writeSafetensors(hf));
    fs.writeFileSync(
      path.join(dir, 'hf', 'config.json'),
      JSON.stringify({ ...config, n_ctx: 16, architectures: ['GPT2LMHeadModel'] }),
    );
    const loaded = await loadCheckpointDir(path.join(dir, 'hf'));
    expect([...loaded.weights.keys()].sort()).toEqual([...weights.keys()].sort());
  });

  it('refuse a weights file that does not fit its config, naming the tensor', async () => {
    const weights = initWeights(config, 3);
    weights.set('h.1.mlp.c_fc.weight', { shape: [8, 16], data: new Float32Array(128) });
    fs.mkdirSync(path.join(dir, 'bad'));
    fs.writeFileSync(path.join(dir, 'bad', 'model.safetensors'), writeSafetensors(weights));
    fs.writeFileSync(path.join(dir, 'bad', 'config.json'), JSON.stringify(config));
    await expect(loadCheckpointDir(path.join(dir, 'bad'))).rejects.toThrow(
      'h.1.mlp.c_fc.weight has shape [8,16], config.json implies [8,32]',
    );
  });
});
