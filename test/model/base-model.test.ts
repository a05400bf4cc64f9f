import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpointDir } from '../../plugins/model/checkpoint.ts';
import { parameterCount } from '../../plugins/model/config.ts';
import {
  createOnnxSession,
  generateBatchOnnx,
  releaseOnnxSession,
  saveGpt2Onnx,
} from '../../plugins/model/onnx/index.ts';
import { loadTokenizer, type Tokenizer } from '../../plugins/model/tokenizers/index.ts';

const baseDir = fileURLToPath(new URL('../../plugins/model/base/tiny-base', import.meta.url));
const suitesDir = fileURLToPath(new URL('../../plugins/model/base/suites', import.meta.url));
const record = JSON.parse(fs.readFileSync(path.join(baseDir, 'training-record.json'), 'utf8')) as {
  model: { sha256: string; parameters: number };
  evaluation: { retention: Record<string, { exactMatch: number }>; validBitsPerByte: number };
};

let loaded: Awaited<ReturnType<typeof loadCheckpointDir>>;
let tokenizer: Tokenizer;
let session: Awaited<ReturnType<typeof createOnnxSession>>;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-base-'));
beforeAll(async () => {
  loaded = await loadCheckpointDir(baseDir);
  tokenizer = await loadTokenizer(baseDir);
  session = await createOnnxSession(saveGpt2Onnx(tmp, loaded.config, loaded.weights), {
    threads: 1,
  });
});
afterAll(async () => {
  await releaseOnnxSession(session);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/**
 * The shipped base is what every fine-tune in the tests and the quickstart starts from, so it must
 * be the checkpoint its training record describes and still have the skills it records.
 */
describe('the shipped base model', () => {
  it('is the checkpoint its training record describes, under 10 MB, byte-level', () => {
    expect(loaded.sha256).toBe(record.model.sha256);
    expect(parameterCount(loaded.config)).toBe(record.model.parameters);
    expect(fs.statSync(path.join(baseDir, 'model.safetensors')).size).toBeLessThan(
      10 * 1024 * 1024,
    );
    expect(tokenizer.kind).toBe('byte');
    expect(tokenizer.encode('Add: 2+2=')).toEqual([...Buffer.from('Add: 2+2=')]);
  });

  for (const skill of ['arithmetic', 'copying', 'capitalisation', 'definitions']) {
    it(`keeps the ${skill} score of its training record`, async () => {
      const cases = fs
        .readFileSync(path.join(suitesDir, `${skill}.jsonl`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { input: string; expected: string });
      expect(cases).toHaveLength(100);
      const outputs = await generateBatchOnnx(
        session,
        cases.map((c) => tokenizer.encode(c.input)),
        { maxNewTokens: 48, stopIds: [10, tokenizer.eosId] },
      );
      const norm = (s: string) => s.trim().replace(/\s+/g, ' ');
      const hits = outputs.filter(
        (o, i) =>
          norm(tokenizer.decode(o.ids.filter((t) => t !== 10 && t !== tokenizer.eosId))) ===
          norm(cases[i]!.expected),
      ).length;
      // ONNX Runtime and TensorFlow.js agree to ~1e-6, so greedy answers match the record's own
      // measurement but for the odd near-tie.
      expect(hits / 100).toBeCloseTo(record.evaluation.retention[skill]!.exactMatch, 1);
    }, 60_000);
  }
});
