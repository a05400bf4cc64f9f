import { mulberry32 } from './random.ts';
import * as tf from './tf.ts';
import {
  disposeCache,
  forward,
  type ForwardOptions,
  type Gpt2Model,
  type KvCache,
} from './transformer.ts';

export interface DecodingOptions {
  maxNewTokens: number;
  /** 0 means greedy. */
  temperature?: number;
  /** Keep only the k most likely tokens (0: no limit). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability reaches p (1: no limit). */
  topP?: number;
  seed?: number;
  /** Generation stops after emitting any of these (the stop token is included in the output). */
  stopIds?: number[];
}

export interface Generation {
  /** The new tokens only. */
  ids: number[];
  /** log p of each new token under the model's own (untempered) distribution. */
  logprobs: number[];
  finishReason: 'stop' | 'length';
}

/** Indices of the tokens allowed by top-k and top-p, most likely first. */
export function nucleus(probs: Float32Array, topK = 0, topP = 1): number[] {
  const order = Array.from(probs.keys()).sort((a, b) => probs[b]! - probs[a]! || a - b);
  const k = topK > 0 ? Math.min(topK, order.length) : order.length;
  const kept: number[] = [];
  let mass = 0;
  for (let i = 0; i < k; i++) {
    kept.push(order[i]!);
    mass += probs[order[i]!]!;
    if (mass >= topP) break;
  }
  return kept;
}

/** log-softmax of one position's logits, computed stably in float64. */
export function logSoftmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return logits.map((v) => v - lse);
}

/** Picks the next token from the last position's logits. Deterministic for a seeded `rand`. */
export function pickToken(logits: Float32Array, opts: DecodingOptions, rand: () => number): number {
  const temperature = opts.temperature ?? 0;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const probs = logSoftmax(logits.map((v) => v / temperature)).map(Math.exp);
  const kept = nucleus(probs, opts.topK ?? 0, opts.topP ?? 1);
  const total = kept.reduce((s, i) => s + probs[i]!, 0);
  let r = rand() * total;
  for (const i of kept) {
    r -= probs[i]!;
    if (r <= 0) return i;
  }
  return kept[kept.length - 1]!;
}

/**
 * The logits of the token after `input`, extending `cache`: at step 0 `input` is the whole prompt,
 * after that only the newest token. Serving generates with this too, so a served answer is token
 * for token what an evaluation generated.
 */
export function nextTokenLogits(
  model: Gpt2Model,
  input: number[],
  step: number,
  cache: KvCache,
  forwardOptions: Omit<ForwardOptions, 'cache'> = {},
): Float32Array {
  const last = tf.tidy(() => {
    const { logits } = forward(model, tf.tensor2d([input], undefined, 'int32'), {
      ...forwardOptions,
      // Prompt-tuning prefixes belong to the first pass only; the cache holds them after it.
      prefixEmbeddings: step === 0 ? forwardOptions.prefixEmbeddings : undefined,
      cache,
    });
    return logits.slice([0, logits.shape[1] - 1, 0], [1, 1, -1]).reshape([-1]);
  });
  const logits = last.dataSync() as Float32Array;
  last.dispose();
  return logits;
}

/**
 * Continues `prompt` token by token with a KV cache: the prompt is processed once, then each step
 * feeds only the newest token.
 *
 * @example
 * const { ids } = generate(model, tokenizer.encode('2+2='), { maxNewTokens: 4 });
 */
export function generate(
  model: Gpt2Model,
  prompt: number[],
  opts: DecodingOptions,
  forwardOptions: Omit<ForwardOptions, 'cache'> = {},
): Generation {
  if (prompt.length === 0) throw new Error('generate needs at least one prompt token');
  const rand = mulberry32(opts.seed ?? 0);
  const stop = new Set(opts.stopIds ?? []);
  const cache: KvCache = { keys: [], values: [], length: 0 };
  const ids: number[] = [];
  const logprobs: number[] = [];
  const room = model.config.n_positions - prompt.length;
  const limit = Math.min(opts.maxNewTokens, Math.max(0, room));
  let input = prompt;
  let finishReason: Generation['finishReason'] = 'length';
  try {
    for (let step = 0; step < limit; step++) {
      const logits = nextTokenLogits(model, input, step, cache, forwardOptions);
      const token = pickToken(logits, opts, rand);
      ids.push(token);
      logprobs.push(logSoftmax(logits)[token]!);
      if (stop.has(token)) {
        finishReason = 'stop';
        break;
      }
      input = [token];
    }
  } finally {
    disposeCache(cache);
  }
  return { ids, logprobs, finishReason };
}
