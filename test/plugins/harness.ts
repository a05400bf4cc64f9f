import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as m from '../../plugins/model/index.ts';
import type {
  CheckpointInfo,
  DatasetSplit,
  MetricPoint,
  TrainContext,
} from '../../plugins/sdk/index.ts';

/**
 * A real TrainContext without a server: metrics and logs are kept in memory and checkpoints are
 * copied into a directory, which is what the worker does over HTTP. It lets the trainers be tested
 * on their own; the worker's tests cover the HTTP side.
 */
export function localContext(opts: {
  baseDir: string;
  train: DatasetSplit;
  validation?: DatasetSplit;
  seed?: number;
  store?: string;
  models?: TrainContext['models'];
}) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-train-'));
  const store = opts.store ?? path.join(root, 'checkpoints');
  fs.mkdirSync(store, { recursive: true });
  const metrics: MetricPoint[] = [];
  const logs: string[] = [];
  const saved: (CheckpointInfo & { sha256: string; dir: string })[] = [];
  let parameters: { total: number; trainable: number } | undefined;
  const controller = new AbortController();
  const ctx: TrainContext = {
    runId: 'local',
    seed: opts.seed ?? 0,
    baseModel: { dir: opts.baseDir, sha256: 'local' },
    models: opts.models,
    datasets: { train: opts.train, validation: opts.validation },
    signal: controller.signal,
    device: { backend: m.tf.getBackend(), device: 'test', gpus: [] },
    scratchDir: path.join(root, 'scratch'),
    report: {
      metrics: (points) => void metrics.push(...points),
      parameters: (p) => void (parameters = p),
      log: (_level, message) => void logs.push(message),
      flush: async () => {},
    },
    checkpoints: {
      async save(dir, info) {
        const target = path.join(store, `step-${info.step}`);
        fs.rmSync(target, { recursive: true, force: true });
        fs.cpSync(dir, target, { recursive: true });
        const sha256 = (await m.loadCheckpointDir(target).catch(() => ({ sha256: 'adapter' })))
          .sha256;
        saved.push({ ...info, sha256, dir: target });
        return { id: `ckpt-${info.step}`, sha256 };
      },
      async latest() {
        const steps = fs
          .readdirSync(store)
          .map((d) => Number(d.replace('step-', '')))
          .filter(Number.isFinite)
          .sort((a, b) => b - a);
        return steps.length
          ? { step: steps[0]!, dir: path.join(store, `step-${steps[0]}`) }
          : undefined;
      },
    },
  };
  return {
    ctx,
    controller,
    metrics,
    logs,
    saved,
    store,
    parameters: () => parameters,
    series: (key: string) => metrics.filter((p) => p.key === key),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** A small random GPT-2 with the byte tokenizer, written as a base-model directory. */
export async function tinyBase(dir: string, seed = 1) {
  const config = m.modelConfigSchema.parse({
    vocab_size: 257,
    n_positions: 64,
    n_embd: 32,
    n_layer: 2,
    n_head: 2,
    eos_token_id: 256,
  });
  await m.saveCheckpointDir(dir, config, m.initWeights(config, seed));
  await m.saveTokenizer(dir, m.createByteTokenizer());
  return config;
}

export const sftRows = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => {
    const a = (i + offset) % 10;
    const b = (i * 3 + offset) % 10;
    return { prompt: `Add: ${a}+${b}=`, response: String(a + b) };
  });
