import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import lora from '../../plugins/builtin/lora/index.ts';
import * as m from '../../plugins/model/index.ts';
import { localContext, sftRows, tinyBase } from './harness.ts';

const shippedBase = fileURLToPath(new URL('../../plugins/model/base/tiny-base', import.meta.url));
const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-lora-base-'));
beforeAll(async () => {
  await m.initBackend({ prefer: 'wasm' });
  await tinyBase(baseDir);
});
afterAll(() => fs.rmSync(baseDir, { recursive: true, force: true }));

const train = { kind: 'sft' as const, sha256: 'x', rows: sftRows(64) };
const validation = { kind: 'sft' as const, sha256: 'y', rows: sftRows(16, 5) };
const config = (over: object = {}) =>
  lora.configSchema.parse({
    steps: 24,
    batchSize: 8,
    learningRate: 1e-2,
    warmupSteps: 4,
    validationEvery: 8,
    checkpointEvery: 8,
    seed: 3,
    r: 4,
    alpha: 8,
    targetModules: ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc'],
    dropout: 0.1,
    ...over,
  });
const adapterBytes = (dir: string) => fs.readFileSync(path.join(dir, 'adapter_model.safetensors'));

describe('the lora trainer', () => {
  it('trains an adapter alone on the shipped base: loss falls, checkpoints hold only the adapter in the PEFT layout', async () => {
    const baseDir = shippedBase;
    const h = localContext({ baseDir, train, validation });
    await lora.train(config(), h.ctx);
    const loss = h.series('train/loss').map((p) => p.value);
    expect(loss.slice(-4).reduce((a, b) => a + b) / 4).toBeLessThan(
      loss.slice(0, 4).reduce((a, b) => a + b) / 4 - 0.3,
    );
    const last = h.saved.at(-1)!;
    expect(fs.readdirSync(last.dir).sort()).toEqual(
      expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
    );
    expect(fs.existsSync(path.join(last.dir, 'model.safetensors'))).toBe(false);
    const base = await m.loadCheckpointDir(baseDir);
    const counts = h.parameters()!;
    expect(counts.total).toBe(m.parameterCount(base.config) + counts.trainable);
    expect(last).toMatchObject({ kind: 'adapter', trainableParams: counts.trainable });
    const adapterConfig = JSON.parse(
      fs.readFileSync(path.join(last.dir, 'adapter_config.json'), 'utf8'),
    );
    expect(adapterConfig.heldout_base_sha256).toBe(h.ctx.baseModel.sha256);
    expect(adapterBytes(last.dir).length).toBeLessThan(
      fs.statSync(path.join(baseDir, 'model.safetensors')).size,
    );

    // The base never moved: the base from disk plus the saved adapter gives exactly the
    // validation loss the trainer logged at the end.
    const { settings, weights } = await m.loadLoraAdapter(last.dir);
    const merged = m.createModel(base.config, m.mergeLora(base.weights, weights, settings));
    const tokenizer = await m.loadTokenizer(baseDir);
    const batch = m.toBatch(m.encodeSft(validation.rows, tokenizer, 128), 256);
    const recomputed = m.lmLoss(m.forward(merged, batch.input).logits, batch.target, batch.mask);
    expect(recomputed.dataSync()[0]!).toBeCloseTo(h.series('validation/loss').at(-1)!.value, 4);
    h.cleanup();
  }, 120_000);

  it('resumes after an interruption to the same adapter bytes', async () => {
    const straight = localContext({ baseDir, train, validation });
    await lora.train(config({ steps: 16 }), straight.ctx);
    const interrupted = localContext({ baseDir, train, validation });
    interrupted.ctx.report.metrics = (points) => {
      if (points.some((p) => p.key === 'train/loss' && p.step === 8))
        interrupted.controller.abort();
    };
    await expect(lora.train(config({ steps: 16 }), interrupted.ctx)).rejects.toThrow(
      'the run was cancelled',
    );
    const resumed = localContext({ baseDir, train, validation, store: interrupted.store });
    await lora.train(config({ steps: 16 }), resumed.ctx);
    expect(resumed.logs).toContain('resuming from the checkpoint at step 8');
    expect(
      adapterBytes(resumed.saved.at(-1)!.dir).equals(adapterBytes(straight.saved.at(-1)!.dir)),
    ).toBe(true);
    for (const h of [straight, interrupted, resumed]) h.cleanup();
  }, 120_000);
});
