import { mulberry32 } from '../random.ts';
import * as tf from '../tf.ts';
import type { Tokenizer } from '../tokenizers/index.ts';

/** One tokenised training example; `weights[t]` is 1 where token t+1 counts towards the loss. */
export interface Example {
  ids: number[];
  weights: number[];
}

/**
 * SFT rows ({prompt, response}) as token ids with the loss on the response only: the model is not
 * taught to write prompts. The response ends with end-of-text, so the model learns to stop.
 * Too-long examples keep their start (prompt and the beginning of the answer).
 *
 * @example
 * encodeSft([{ prompt: 'Add: 2+2=', response: '4' }], tokenizer, 128);
 */
export function encodeSft(
  rows: { prompt: string; response: string }[],
  tokenizer: Tokenizer,
  maxLength: number,
): Example[] {
  return rows.map(({ prompt, response }) => {
    const p = tokenizer.encode(prompt);
    const r = [...tokenizer.encode(response), tokenizer.eosId];
    const ids = [...p, ...r].slice(0, maxLength + 1);
    // weights[t] scores predicting ids[t + 1]: on when that token belongs to the response.
    const weights = ids.slice(1).map((_, t) => (t + 1 >= p.length ? 1 : 0));
    return { ids, weights };
  });
}

/** Plain text rows ({text}): every token counts. */
export function encodeText(
  rows: { text: string }[],
  tokenizer: Tokenizer,
  maxLength: number,
): Example[] {
  return rows.map(({ text }) => {
    const ids = [...tokenizer.encode(text), tokenizer.eosId].slice(0, maxLength + 1);
    return { ids, weights: ids.slice(1).map(() => 1) };
  });
}

export interface TensorBatch {
  input: tf.Tensor2D;
  target: tf.Tensor2D;
  mask: tf.Tensor2D;
  /** Tokens that count towards the loss. */
  tokens: number;
}

/** Pads examples to the longest in the batch; padding never counts (mask 0). */
export function toBatch(examples: Example[], padId: number): TensorBatch {
  const time = Math.max(...examples.map((e) => e.ids.length - 1), 1);
  const input = new Int32Array(examples.length * time).fill(padId);
  const target = new Int32Array(examples.length * time).fill(padId);
  const mask = new Float32Array(examples.length * time);
  let tokens = 0;
  examples.forEach((e, b) => {
    for (let t = 0; t < e.ids.length - 1; t++) {
      input[b * time + t] = e.ids[t]!;
      target[b * time + t] = e.ids[t + 1]!;
      mask[b * time + t] = e.weights[t]!;
      tokens += e.weights[t]!;
    }
  });
  const shape: [number, number] = [examples.length, time];
  return {
    input: tf.tensor2d(input, shape, 'int32'),
    target: tf.tensor2d(target, shape, 'int32'),
    mask: tf.tensor2d(mask, shape, 'float32'),
    tokens,
  };
}

/**
 * An endless sequence of batches: each epoch is a seeded shuffle of the examples, so a run is
 * reproducible and a resumed run (same seed, skipping `start` batches) sees the same data.
 */
export function batchStream<T = Example>(
  examples: T[],
  batchSize: number,
  seed: number,
  start = 0,
): () => T[] {
  if (examples.length === 0) throw new Error('no examples to train on');
  const perEpoch = Math.max(1, Math.floor(examples.length / batchSize));
  let index = start;
  let epoch = -1;
  let order: number[] = [];
  return () => {
    const e = Math.floor(index / perEpoch);
    if (e !== epoch) {
      epoch = e;
      const rand = mulberry32(seed * 1_000_003 + e);
      order = examples.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    const offset = (index % perEpoch) * batchSize;
    index++;
    return Array.from(
      { length: Math.min(batchSize, examples.length) },
      (_, k) => examples[order[(offset + k) % order.length]!]!,
    );
  };
}
