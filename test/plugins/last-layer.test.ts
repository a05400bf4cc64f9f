import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as m from '../../plugins/model/index.ts';
import { createPluginHost } from '../../server/plugins/host.ts';
import { localContext, sftRows, tinyBase } from './harness.ts';

const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-base-'));
beforeAll(async () => {
  await m.initBackend({ prefer: 'wasm' });
  await tinyBase(baseDir, 2);
});
afterAll(() => fs.rmSync(baseDir, { recursive: true, force: true }));

describe('a third-party plugin loaded by path', () => {
  it('trains with the SDK alone: only its layers change, and the loss falls', async () => {
    const host = createPluginHost(['./plugins/examples/last-layer/index.ts']);
    const plugin = await host.get('last-layer');
    const h = localContext({ baseDir, train: { kind: 'sft', sha256: 'x', rows: sftRows(32) } });
    const result = await plugin.train(
      plugin.configSchema.parse({ steps: 30, learningRate: 5e-3 }),
      h.ctx,
    );
    const loss = h.series('train/loss').map((p) => p.value);
    expect(loss.at(-1)!).toBeLessThan(loss[0]! - 0.3);
    expect(h.parameters()!.trainable).toBeLessThan(h.parameters()!.total / 2);
    const before = await m.loadCheckpointDir(baseDir);
    const after = await m.loadCheckpointDir(h.saved[0]!.dir);
    expect(after.weights.get('h.0.attn.c_attn.weight')!.data).toEqual(
      before.weights.get('h.0.attn.c_attn.weight')!.data,
    );
    expect(after.weights.get('h.1.attn.c_attn.weight')!.data).not.toEqual(
      before.weights.get('h.1.attn.c_attn.weight')!.data,
    );
    expect(result.finalCheckpoint!.sha256).toBe(after.sha256);
    h.cleanup();
  }, 60_000);
});
