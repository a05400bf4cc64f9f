/**
 * Generation for `/v1`, token by token. The model code is the evaluation path's own
 * (plugins/model: `forward` with the adapter's forward options, `pickToken`, the seeded
 * `mulberry32`), and the loop is `generate()`'s step for step: the same prompt, decoding and seed
 * give the same tokens as an evaluation of the same checkpoint (test/serve checks it). What this
 * adds: it yields to the event loop between tokens (other requests, and the rest of the API, go
 * on while a generation runs), streams text as it is produced, stops at the first stop string
 * rather than after max_tokens, and stops when the client goes away.
 */
import * as m from '../../plugins/model/index.ts';
import type { ServedModel } from './models.ts';

export interface GenerationRequest {
  prompt: number[];
  maxTokens: number;
  /** 0: greedy. */
  temperature: number;
  topP: number;
  seed: number;
  /** Text that ends the completion; it is not part of the answer. */
  stops: string[];
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface GenerationStep {
  /** New text that can be shown now; '' while it might still turn out to be a stop string. */
  text: string;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** How long a tail of `text` could be the start of one of `stops`, and so must be held back. */
function heldBack(text: string, stops: string[]): number {
  let hold = 0;
  for (const s of stops)
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--)
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
  // A character cut between byte-level tokens decodes as U+FFFD until its last byte arrives.
  const partial = /\uFFFD{1,3}$/.exec(text)?.[0].length ?? 0;
  return Math.max(hold, partial);
}

/**
 * Yields one step per generated token (with the text that became final), and returns why it
 * stopped and how many tokens it generated (the end-of-text token and a stop string's tokens
 * included, as OpenAI counts them).
 *
 * @example
 * const it = generateText(served, { prompt, maxTokens: 32, temperature: 0, topP: 1, seed: 0, stops: [] });
 * for (let r = await it.next(); !r.done; r = await it.next()) process.stdout.write(r.value.text);
 */
export async function* generateText(
  served: ServedModel,
  req: GenerationRequest,
): AsyncGenerator<GenerationStep, { finishReason: FinishReason; completionTokens: number }> {
  const { model, tokenizer, adapter } = served;
  const forwardOptions = adapter?.options ?? {};
  const decoding: m.DecodingOptions = {
    maxNewTokens: req.maxTokens,
    temperature: req.temperature,
    topP: req.topP,
    seed: req.seed,
  };
  const rand = m.mulberry32(req.seed);
  const cache: m.KvCache = { keys: [], values: [], length: 0 };
  const ids: number[] = [];
  const limit = Math.min(req.maxTokens, Math.max(0, served.contextLength - req.prompt.length));
  let input = req.prompt;
  let sent = 0;
  try {
    for (let step = 0; step < limit; step++) {
      await nextTurn();
      if (req.signal?.aborted) return { finishReason: 'cancelled', completionTokens: ids.length };
      const logits = m.nextTokenLogits(model, input, step, cache, forwardOptions);
      const token = m.pickToken(logits, decoding, rand);
      ids.push(token);
      if (token === tokenizer.eosId) {
        yield { text: tokenizer.decode(ids.slice(0, -1)).slice(sent) };
        return { finishReason: 'stop', completionTokens: ids.length };
      }
      const text = tokenizer.decode(ids);
      // Only the newest token can complete a stop string, so the search starts just before it.
      const from = Math.max(0, sent - Math.max(0, ...req.stops.map((s) => s.length)));
      const hits = req.stops.map((s) => text.indexOf(s, from)).filter((at) => at >= 0);
      if (hits.length) {
        yield { text: text.slice(sent, Math.min(...hits)) };
        return { finishReason: 'stop', completionTokens: ids.length };
      }
      const upTo = step === limit - 1 ? text.length : text.length - heldBack(text, req.stops);
      yield { text: text.slice(sent, Math.max(sent, upTo)) };
      sent = Math.max(sent, upTo);
      input = [token];
    }
  } finally {
    m.disposeCache(cache);
  }
  return { finishReason: 'length', completionTokens: ids.length };
}
