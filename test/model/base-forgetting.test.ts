import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import full from '../../plugins/builtin/full/index.ts';
import * as m from '../../plugins/model/index.ts';
import {
  createOnnxSession,
  generateBatchOnnx,
  releaseOnnxSession,
  saveGpt2Onnx,
} from '../../plugins/model/onnx/index.ts';
import { localContext } from '../plugins/harness.ts';

const baseDir = fileURLToPath(new URL('../../plugins/model/base/tiny-base', import.meta.url));
const suitesDir = fileURLToPath(new URL('../../plugins/model/base/suites', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-forget-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => m.initBackend({ prefer: 'wasm' }));

const suite = (skill: string) =>
  fs
    .readFileSync(path.join(suitesDir, `${skill}.jsonl`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { input: string; expected: string });

async function exactMatch(dir: string, skill: string): Promise<number> {
  const { config, weights } = await m.loadCheckpointDir(dir);
  const tokenizer = await m.loadTokenizer(dir);
  const onnxDir = fs.mkdtempSync(path.join(tmp, 'onnx-'));
  const session = await createOnnxSession(saveGpt2Onnx(onnxDir, config, weights), {
    threads: 1,
  });
  try {
    const cases = suite(skill).slice(0, 50);
    const outputs = await generateBatchOnnx(
      session,
      cases.map((c) => tokenizer.encode(c.input)),
      { maxNewTokens: 48, stopIds: [10, tokenizer.eosId] },
    );
    const norm = (s: string) => s.trim().replace(/\s+/g, ' ');
    return (
      outputs.filter(
        (o, i) =>
          norm(tokenizer.decode(o.ids.filter((t) => t !== 10 && t !== tokenizer.eosId))) ===
          norm(cases[i]!.expected),
      ).length / cases.length
    );
  } finally {
    await releaseOnnxSession(session);
  }
}

/**
 * Why heldout exists, on the model every test and the quickstart start from: a careless full
 * fine-tune (high learning rate, narrow data, many steps) learns its domain and destroys the base
 * model's general skills. If this ever stops failing the base, the base has no skills to lose.
 */
describe('the shipped base under a careless full fine-tune', () => {
  it('forgets a skill it had', async () => {
    const rows = Array.from({ length: 64 }, (_, i) => ({
      prompt: `Q: What is the fee of plan ${i}?\nA:`,
      response: ` Plan ${i} costs ${(i * 7) % 50} dollars a month.`,
    }));
    const h = localContext({ baseDir, train: { kind: 'sft', sha256: 'x', rows }, store: tmp });
    const config = full.configSchema.parse({
      steps: 150,
      batchSize: 8,
      learningRate: 5e-3,
      warmupSteps: 5,
      checkpointEvery: 150,
      validationEvery: 150,
    });
    await full.train(config, h.ctx);
    const tuned = h.saved.at(-1)!.dir;
    const before = await exactMatch(baseDir, 'capitalisation');
    const after = await exactMatch(tuned, 'capitalisation');
    expect(before).toBeGreaterThanOrEqual(0.3);
    expect(after).toBeLessThan(before / 2);
    h.cleanup();
  }, 180_000);
});
