import type { Context, Next } from 'hono';
import { JSON_MAX_DEPTH, nestsAtMost } from '../schemas/common.ts';
import type { AppEnv } from './env.ts';
import { AppError } from './errors.ts';

/**
 * Whether JSON text nests objects and arrays more than `levels` deep. A scan of the text, with no
 * parse and no recursion: the common body costs one pass over its characters.
 */
function nestsDeeperThan(text: string, levels: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character, quotes included
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > levels) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * The top-level field of a JSON body that nests more than `max` levels deep (`body` when the body
 * itself is not an object), or undefined when none does or the text is not JSON (the validator
 * that parses it says so).
 *
 * @example
 * tooDeepField('{"policy": [[[1]]]}', 2); // 'policy'
 */
export function tooDeepField(text: string, max = JSON_MAX_DEPTH): string | undefined {
  // The body's own braces are one level more than any of its fields'.
  if (!nestsDeeperThan(text, max + 1)) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body';
  return Object.entries(body).find(([, v]) => !nestsAtMost(v, max))?.[0];
}

/**
 * Refuses a JSON body any field of which nests more than JSON_MAX_DEPTH levels, with a 400 naming
 * the field, before anything validates it: recursive schemas (a gate policy's all/any checks)
 * overflow zod's stack near a thousand levels, and JSON.stringify near five thousand. Mounted
 * after the body-size limit, which bounds the text it reads; the text stays cached for the
 * validator.
 */
export async function jsonDepthLimit(c: Context<AppEnv>, next: Next): Promise<void> {
  const field = tooDeepField(await c.req.text());
  if (field)
    throw new AppError(
      400,
      'validation_failed',
      `${field}: must nest at most ${JSON_MAX_DEPTH} levels deep`,
    );
  await next();
}
