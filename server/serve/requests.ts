import { z } from 'zod';
import type { ChatRole } from './chat-template.ts';
import { badParam, OpenAiError } from './errors.ts';

/** What a completion asks for, whichever endpoint it came through. */
export interface SamplingParams {
  model: string;
  /** Absent: the endpoint's default (16 for completions, as OpenAI's; what fits for chat). */
  maxTokens?: number;
  temperature: number;
  topP: number;
  /** Absent: a fresh random seed, so unseeded sampling differs from call to call. */
  seed?: number;
  stops: string[];
  stream: boolean;
  includeUsage: boolean;
}

// Parameters OpenAI defines that these models cannot honour: accepted at their neutral value,
// refused otherwise, so a client is never silently given something other than it asked for.
const neutral = <T extends z.ZodType>(
  schema: T,
  isNeutral: (v: z.infer<T>) => boolean,
  why: string,
) =>
  schema.nullish().refine((v) => v === null || v === undefined || isNeutral(v as z.infer<T>), why);

const stopString = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'a stop sequence is at most 256 characters');

const common = {
  model: z.string({ message: 'you must provide a model name' }).min(1, 'must not be empty'),
  temperature: z.number().min(0, 'must be at least 0').max(2, 'must be at most 2').nullish(),
  top_p: z.number().gt(0, 'must be greater than 0').max(1, 'must be at most 1').nullish(),
  n: neutral(z.number().int(), (n) => n === 1, 'only 1 is supported'),
  stop: z.union([stopString, z.array(stopString).max(4, 'at most 4 stop sequences')]).nullish(),
  seed: z.number().int('must be an integer').nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  presence_penalty: neutral(z.number(), (v) => v === 0, 'only 0 is supported'),
  frequency_penalty: neutral(z.number(), (v) => v === 0, 'only 0 is supported'),
  logit_bias: neutral(
    z.record(z.string(), z.number()),
    (v) => Object.keys(v).length === 0,
    'is not supported',
  ),
  user: z.string().nullish(),
};
const maxTokens = z.number().int('must be an integer').min(1, 'must be at least 1').nullish();

export const completionBody = z.object({
  ...common,
  prompt: z.union(
    [
      z.string(),
      z.array(z.string()).length(1, 'one prompt per request: give a string or a list of one'),
    ],
    { message: 'must be a string (token ids are not accepted)' },
  ),
  max_tokens: maxTokens,
  echo: neutral(z.boolean(), (v) => !v, 'is not supported'),
  best_of: neutral(z.number().int(), (v) => v === 1, 'only 1 is supported'),
  logprobs: neutral(z.number().int(), () => false, 'is not supported'),
  suffix: neutral(z.string(), () => false, 'is not supported'),
});

const textPart = z.object({
  type: z.literal('text', { message: 'only text parts are supported' }),
  text: z.string(),
});
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant'], {
    message: 'must be system, developer, user or assistant (tools are not supported)',
  }),
  content: z.union([z.string(), z.array(textPart)], {
    message: 'must be a string or a list of text parts',
  }),
  name: z.string().nullish(),
});

export const chatBody = z.object({
  ...common,
  messages: z.array(message).min(1, 'must hold at least one message'),
  max_tokens: maxTokens,
  max_completion_tokens: maxTokens,
  logprobs: neutral(z.boolean(), (v) => !v, 'is not supported'),
  tools: neutral(z.array(z.unknown()), (v) => v.length === 0, 'tool calls are not supported'),
  functions: neutral(z.array(z.unknown()), (v) => v.length === 0, 'are not supported'),
  response_format: neutral(
    z.object({ type: z.string() }),
    (v) => v.type === 'text',
    'only {"type": "text"} is supported',
  ),
});

/** zod's first complaint as OpenAI words it: a 400 whose `param` is the path to the field. */
function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new OpenAiError(400, 'the body must be a JSON object', { code: 'invalid_json' });
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.');
  const what =
    issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
  throw badParam(param.replace(/\.\[/g, '['), what);
}

function sampling(b: z.infer<typeof completionBody> | z.infer<typeof chatBody>) {
  const stops = b.stop === null || b.stop === undefined ? [] : [b.stop].flat();
  return {
    model: b.model,
    // OpenAI's defaults: 1 and 1, i.e. sampling; greedy is temperature 0.
    temperature: b.temperature ?? 1,
    topP: b.top_p ?? 1,
    seed: b.seed ?? undefined,
    stops,
    stream: b.stream ?? false,
    includeUsage: b.stream_options?.include_usage ?? false,
  };
}

/** A `POST /v1/completions` body, checked. */
export function parseCompletion(body: unknown): SamplingParams & { prompt: string } {
  const b = parse(completionBody, body);
  return {
    ...sampling(b),
    maxTokens: b.max_tokens ?? undefined,
    prompt: typeof b.prompt === 'string' ? b.prompt : b.prompt[0]!,
  };
}

/** A `POST /v1/chat/completions` body, checked. */
export function parseChat(
  body: unknown,
): SamplingParams & { messages: { role: ChatRole; content: string }[] } {
  const b = parse(chatBody, body);
  return {
    ...sampling(b),
    maxTokens: b.max_completion_tokens ?? b.max_tokens ?? undefined,
    messages: b.messages.map((msg) => ({
      role: msg.role,
      content:
        typeof msg.content === 'string' ? msg.content : msg.content.map((p) => p.text).join(''),
    })),
  };
}
