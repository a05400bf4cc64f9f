import '@tensorflow/tfjs-backend-cpu';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import full from '../../plugins/builtin/full/index.ts';
import * as m from '../../plugins/model/index.ts';
import { localContext, sftRows, tinyBase } from './harness.ts';

const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-base-'));
beforeAll(async () => {
  await m.initBackend({ prefer: 'wasm' });
  await tinyBase(baseDir);
});
afterAll(() => fs.rmSync(baseDir, { recursive: true, force: true }));

const train = { kind: 'sft' as const, sha256: 'x', rows: sftRows(64) };
const validation = { kind: 'sft' as const, sha256: 'y', rows: sftRows(16, 5) };
const config = (over: object = {}) =>
  full.configSchema.parse({
    steps: 24,
    batchSize: 8,
    learningRate: 3e-3,
    warmupSteps: 4,
    validationEvery: 8,
    checkpointEvery: 8,
    seed: 3,
    ...over,
  });

describe('the full trainer', () => {
  it('lowers the training loss, logs validation loss, and checkpoints every N steps with sha256', async () => {
    const h = localContext({ baseDir, train, validation });
    const result = await full.train(config(), h.ctx);
    const loss = h.series('train/loss').map((p) => p.value);
    expect(loss).toHaveLength(24);
    expect(loss.slice(-4).reduce((a, b) => a + b) / 4).toBeLessThan(
      loss.slice(0, 4).reduce((a, b) => a + b) / 4 - 0.5,
    );
    expect(h.series('validation/loss').map((p) => p.step)).toEqual([8, 16, 24]);
    expect(h.saved.map((c) => c.step)).toEqual([8, 16, 24]);
    expect(h.saved[0]).toMatchObject({
      kind: 'full',
      trainableParams: m.parameterCount(
        m.modelConfigSchema.parse(
          JSON.parse(fs.readFileSync(path.join(baseDir, 'config.json'), 'utf8')),
        ),
      ),
    });
    expect(result).toEqual({
      steps: 24,
      finalCheckpoint: { id: 'ckpt-24', sha256: h.saved[2]!.sha256 },
    });
    expect(h.series('system/tokens_per_second')[0]!.value).toBeGreaterThan(0);
    expect(h.parameters()!.trainable).toBe(h.parameters()!.total);
    h.cleanup();
  }, 120_000);

  it('masks the prompt: only response tokens (and end-of-text) count', () => {
    const tok = m.createByteTokenizer();
    const [ex] = m.encodeSft([{ prompt: 'Add: 2+2=', response: '4' }], tok, 64);
    expect(ex!.ids).toEqual([...Buffer.from('Add: 2+2=4'), 256]);
    // weights[t] scores predicting ids[t+1]: '4' (index 9) and end-of-text (index 10).
    expect(ex!.weights).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  });

  it('is deterministic for a seed, and resumes after an interruption to the same weights', async () => {
    const straight = localContext({ baseDir, train, validation });
    await full.train(config({ steps: 16 }), straight.ctx);

    const interrupted = localContext({ baseDir, train, validation });
    interrupted.ctx.report.metrics = (points) => {
      if (points.some((p) => p.key === 'train/loss' && p.step === 8))
        interrupted.controller.abort();
    };
    await expect(full.train(config({ steps: 16 }), interrupted.ctx)).rejects.toThrow(
      'the run was cancelled',
    );
    expect(interrupted.saved.map((c) => c.step)).toEqual([8]);

    const resumed = localContext({ baseDir, train, validation, store: interrupted.store });
    await full.train(config({ steps: 16 }), resumed.ctx);
    expect(resumed.logs).toContain('resuming from the checkpoint at step 8');
    expect(resumed.series('train/loss').map((p) => p.step)).toEqual([
      9, 10, 11, 12, 13, 14, 15, 16,
    ]);
    expect(resumed.saved.at(-1)!.sha256).toBe(straight.saved.at(-1)!.sha256);
    for (const h of [straight, interrupted, resumed]) h.cleanup();
  }, 120_000);

  it('refuses configs and data it cannot use, naming the field', () => {
    expect(() =>
      full.validate!(config({ warmupSteps: 30 }), {
        datasets: [{ role: 'train', kind: 'sft', rowCount: 1 }],
      }),
    ).toThrow('warmupSteps: must be below steps (24)');
    expect(() =>
      full.validate!(config(), { datasets: [{ role: 'train', kind: 'preference', rowCount: 1 }] }),
    ).toThrow('datasets.train: full trains on sft or text data, not preference');
    expect(full.configSchema.safeParse({ learningRate: -1 }).success).toBe(false);
  });
});
