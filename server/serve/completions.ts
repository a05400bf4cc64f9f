/**
 * One completion from request to answer, for both endpoints: resolve the name (per request), wait
 * for a slot, take the loaded checkpoint, check the prompt fits, then generate, as one JSON body
 * or as OpenAI's server-sent chunks ending with `data: [DONE]`. Every request is recorded against
 * the version that served it.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import type { AppEnv } from '../http/env.ts';
import { CheckpointCorruptError } from '../services/checkpoint-integrity.ts';
import { requirePrincipal } from '../services/principal.ts';
import { CHAT_STOPS, chatPrompt, type ChatRole } from './chat-template.ts';
import { badParam, OpenAiError } from './errors.ts';
import type { FinishReason, generateText } from './generation.ts';
import type { ServeLimiter } from './limiter.ts';
import type { ModelCache, ServedModel } from './models.ts';
import type { SamplingParams } from './requests.ts';
import { resolveServedModel } from './resolve.ts';
import type { ServingRecorder } from './stats.ts';

export interface ServeDeps {
  db: Db;
  logger: Logger;
  limiter: ServeLimiter;
  /** The model code, loaded on first use (see app.ts). */
  engine: () => Promise<{ models: ModelCache; generateText: typeof generateText }>;
  recorder: ServingRecorder;
}

export type CompletionInput = SamplingParams &
  (
    | { endpoint: 'completions'; prompt: string }
    | { endpoint: 'chat.completions'; messages: { role: ChatRole; content: string }[] }
  );

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const usage = (prompt: number, completion: number): Usage => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
});

/** The prompt's token ids, and how many new tokens it leaves room for; 400 when it cannot fit. */
function fit(served: ServedModel, input: CompletionInput, text: string) {
  const { tokenizer, contextLength } = served;
  const encoded = tokenizer.encode(text);
  // An empty prompt starts from the start-of-text token, as a document does.
  const prompt = encoded.length ? encoded : [tokenizer.bosId ?? tokenizer.eosId];
  const room = contextLength - prompt.length;
  const param = input.endpoint === 'completions' ? 'prompt' : 'messages';
  if (room < 1)
    throw badParam(
      param,
      `this model's maximum context length is ${contextLength} tokens; the prompt has ${prompt.length}`,
      'context_length_exceeded',
    );
  const asked = input.maxTokens;
  // OpenAI's defaults: 16 for completions, as much as fits for chat.
  if (asked === undefined)
    return { prompt, maxTokens: input.endpoint === 'completions' ? Math.min(16, room) : room };
  if (prompt.length + asked > contextLength) {
    throw badParam(
      'max_tokens',
      `this model's maximum context length is ${contextLength} tokens; the prompt has ${prompt.length} and max_tokens asks for ${asked} more (at most ${room})`,
      'context_length_exceeded',
    );
  }
  return { prompt, maxTokens: asked };
}

/**
 * Answers one completion request (`input` already checked).
 *
 * @example
 * return runCompletion(deps, c, { endpoint: 'completions', ...parseCompletion(await c.req.json()) });
 */
export async function runCompletion(deps: ServeDeps, c: Context<AppEnv>, input: CompletionInput) {
  const principal = c.get('principal');
  requirePrincipal(principal);
  const resolved = await resolveServedModel(deps.db, principal, input.model);
  const arrived = performance.now();
  const releaseSlot = await deps.limiter.acquire(c.req.raw.signal);
  const started = performance.now();
  let releaseModel = () => {};
  const record = (
    outcome: string,
    promptTokens: number,
    completionTokens: number,
    first?: number,
  ) =>
    deps.recorder.record({
      modelVersionId: resolved.version.id,
      endpoint: input.endpoint,
      stream: input.stream,
      outcome,
      promptTokens,
      completionTokens,
      queueMs: started - arrived,
      firstTokenMs: first === undefined ? null : first - started,
      totalMs: performance.now() - started,
    });
  const done = () => {
    releaseModel();
    releaseSlot();
  };
  let served: ServedModel;
  let fitted: ReturnType<typeof fit>;
  const chat = input.endpoint === 'chat.completions' ? chatPrompt(input.messages) : undefined;
  try {
    try {
      const loaded = await (await deps.engine()).models.acquire(resolved.checkpoint);
      served = loaded.served;
      releaseModel = loaded.release;
    } catch (err) {
      deps.logger.error({ err, model: resolved.id }, 'serving: the checkpoint could not be loaded');
      // Not the client's doing, so a 5xx; but tampered weights are named, never served.
      if (err instanceof CheckpointCorruptError)
        throw new OpenAiError(500, `${resolved.id}: ${err.message}`, {
          code: 'checkpoint_corrupt',
        });
      throw new OpenAiError(500, `${resolved.id} could not be loaded; the server's log says why`, {
        code: 'model_load_failed',
      });
    }
    fitted = fit(served, input, chat ? chat.prompt : (input as { prompt: string }).prompt);
  } catch (err) {
    // A prompt that does not fit is the client's doing, not the model's failure.
    record(err instanceof OpenAiError && err.status < 500 ? 'refused' : 'error', 0, 0);
    done();
    throw err;
  }

  const abort = new AbortController();
  const onGone = () => abort.abort();
  c.req.raw.signal.addEventListener('abort', onGone, { once: true });
  const { generateText } = await deps.engine();
  const steps = generateText(served, {
    prompt: fitted.prompt,
    maxTokens: fitted.maxTokens,
    temperature: input.temperature,
    topP: input.topP,
    seed: input.seed ?? randomInt(2 ** 31),
    stops: chat ? [...input.stops, ...CHAT_STOPS] : input.stops,
    signal: abort.signal,
  });
  // The answer's leading space (after `A:`) is the template's, not the answer's.
  let trimLeading = chat !== undefined && !chat.prefill;
  let first: number | undefined;
  const next = async () => {
    const r = await steps.next();
    first ??= performance.now();
    if (r.done) return r;
    let text = r.value.text;
    if (trimLeading) {
      text = text.trimStart();
      if (text) trimLeading = false;
    }
    return { done: false as const, value: text };
  };
  const finish = (reason: FinishReason | 'error', completionTokens: number) => {
    c.req.raw.signal.removeEventListener('abort', onGone);
    // A generation left mid-way (a failed write) must still free its KV cache.
    void steps.return({ finishReason: 'cancelled', completionTokens });
    record(reason, fitted.prompt.length, completionTokens, first);
    done();
  };

  const id = `${chat ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('base64url')}`;
  const head = {
    id,
    object: chat ? 'chat.completion' : 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: resolved.id,
    system_fingerprint: `fp_${resolved.checkpoint.sha256.slice(0, 12)}`,
  };
  c.header('x-heldout-model-version', resolved.id);
  c.header('x-heldout-checkpoint', resolved.checkpoint.id);

  if (!input.stream) {
    let text = '';
    let end;
    try {
      for (let r = await next(); ; r = await next()) {
        if (r.done) {
          end = r.value;
          break;
        }
        text += r.value;
      }
    } catch (err) {
      finish('error', 0);
      throw err;
    }
    finish(end.finishReason, end.completionTokens);
    const reason = end.finishReason === 'length' ? 'length' : 'stop';
    const choice = chat
      ? {
          index: 0,
          message: { role: 'assistant', content: text, refusal: null },
          logprobs: null,
          finish_reason: reason,
        }
      : { index: 0, text, logprobs: null, finish_reason: reason };
    return c.json({
      ...head,
      choices: [choice],
      usage: usage(fitted.prompt.length, end.completionTokens),
    });
  }

  const chunk = (choice: Record<string, unknown>) => ({
    ...head,
    object: chat ? 'chat.completion.chunk' : 'text_completion',
    choices: [{ index: 0, ...choice, logprobs: null }],
  });
  return streamSSE(c, async (sse) => {
    sse.onAbort(onGone);
    const send = (body: unknown) => sse.writeSSE({ data: JSON.stringify(body) });
    let end: { finishReason: FinishReason; completionTokens: number } | undefined;
    try {
      if (chat)
        await send(chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null }));
      for (let r = await next(); ; r = await next()) {
        if (r.done) {
          end = r.value;
          break;
        }
        if (!r.value) continue;
        await send(
          chunk(
            chat
              ? { delta: { content: r.value }, finish_reason: null }
              : { text: r.value, finish_reason: null },
          ),
        );
      }
      if (end.finishReason !== 'cancelled') {
        const reason = end.finishReason;
        await send(
          chunk(chat ? { delta: {}, finish_reason: reason } : { text: '', finish_reason: reason }),
        );
        if (input.includeUsage)
          await send({
            ...chunk({}),
            choices: [],
            usage: usage(fitted.prompt.length, end.completionTokens),
          });
        await sse.writeSSE({ data: '[DONE]' });
      }
    } catch (err) {
      // The status line is gone already: the error travels as an event, which OpenAI's clients
      // raise as an APIError.
      deps.logger.error({ err, model: resolved.id }, 'serving: a streamed generation failed');
      await send(
        new OpenAiError(500, 'the generation failed; the server log says why').toJSON(),
      ).catch(() => {});
    } finally {
      finish(end?.finishReason ?? 'error', end?.completionTokens ?? 0);
    }
  });
}
