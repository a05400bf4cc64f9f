import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import peft from '../../plugins/builtin/peft/index.ts';
import * as m from '../../plugins/model/index.ts';
import { localContext, sftRows } from './harness.ts';

const baseDir = fileURLToPath(new URL('../../plugins/model/base/tiny-base', import.meta.url));
beforeAll(() => m.initBackend({ prefer: 'wasm' }));

const train = { kind: 'sft' as const, sha256: 'x', rows: sftRows(64) };
const validation = { kind: 'sft' as const, sha256: 'y', rows: sftRows(16, 5) };
const config = (method: string, over: object = {}) =>
  peft.configSchema.parse({
    method,
    steps: 24,
    batchSize: 8,
    learningRate: 1e-2,
    warmupSteps: 4,
    validationEvery: 8,
    checkpointEvery: 12,
    seed: 3,
    ...over,
  });
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('the peft trainer', () => {
  it.each([
    ['ia3', 3 * 128 * 4 + 512 * 4],
    ['prompt-tuning', 8 * 128],
    ['bitfit', 4 * (128 + 384 + 128 + 128 + 512 + 128) + 128],
  ])(
    '%s trains its few parameters on the frozen shipped base and lowers the loss',
    async (method, trainable) => {
      const h = localContext({ baseDir, train, validation });
      await peft.train(config(method), h.ctx);
      const loss = h.series('train/loss').map((p) => p.value);
      expect(mean(loss.slice(-4))).toBeLessThan(mean(loss.slice(0, 4)) - 0.2);
      expect(h.parameters()!.trainable).toBe(trainable);
      const last = h.saved.at(-1)!;
      expect(last).toMatchObject({ kind: 'adapter', step: 24, trainableParams: trainable });
      const saved = await m.loadPeftAdapter(last.dir);
      expect(saved.method).toBe(method);
      expect(saved.config.heldout_base_sha256).toBe(h.ctx.baseModel.sha256);
      const count = [...saved.weights.values()].reduce((n, w) => n + w.data.length, 0);
      expect(count).toBe(trainable);
      if (method === 'ia3') {
        const qkv = saved.weights.get('base_model.model.transformer.h.0.attn.c_attn.ia3_l')!;
        expect(qkv.shape).toEqual([384, 1]);
        expect(qkv.data.slice(0, 128).every((v) => v === 1)).toBe(true);
        expect(qkv.data.slice(128).some((v) => v !== 1)).toBe(true);
      }
      if (method === 'prompt-tuning')
        expect(saved.weights.get('prompt_embeddings')!.shape).toEqual([8, 128]);
      if (method === 'bitfit')
        expect([...saved.weights.keys()].every((k) => k.endsWith('.bias'))).toBe(true);
      expect(fs.statSync(path.join(last.dir, 'adapter_model.safetensors')).size).toBeLessThan(
        fs.statSync(path.join(baseDir, 'model.safetensors')).size / 20,
      );
      h.cleanup();
    },
    120_000,
  );

  it('resumes an interrupted IA³ run to the same adapter bytes', async () => {
    const bytes = (dir: string) => fs.readFileSync(path.join(dir, 'adapter_model.safetensors'));
    const straight = localContext({ baseDir, train, validation });
    await peft.train(config('ia3', { steps: 16, checkpointEvery: 8 }), straight.ctx);
    const interrupted = localContext({ baseDir, train, validation });
    interrupted.ctx.report.metrics = (points) => {
      if (points.some((p) => p.key === 'train/loss' && p.step === 8))
        interrupted.controller.abort();
    };
    await expect(
      peft.train(config('ia3', { steps: 16, checkpointEvery: 8 }), interrupted.ctx),
    ).rejects.toThrow('the run was cancelled');
    const resumed = localContext({ baseDir, train, validation, store: interrupted.store });
    await peft.train(config('ia3', { steps: 16, checkpointEvery: 8 }), resumed.ctx);
    expect(bytes(resumed.saved.at(-1)!.dir).equals(bytes(straight.saved.at(-1)!.dir))).toBe(true);
    for (const h of [straight, interrupted, resumed]) h.cleanup();
  }, 120_000);
});
