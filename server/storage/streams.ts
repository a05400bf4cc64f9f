/**
 * Reads a web stream chunk by chunk. Cancelling on early exit matters: when a limit aborts an
 * upload, the rest of the body must be released, not left pending.
 *
 * @example
 * for await (const chunk of chunksOf(c.req.raw.body)) size += chunk.byteLength;
 */
export async function* chunksOf(
  body: ReadableStream<Uint8Array> | null,
): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Passes chunks through and calls `onExceeded` (which must throw) as soon as more than `maxBytes`
 * have gone by, before the chunk that crosses the limit is passed on.
 *
 * @example
 * store.put(limitBytes(chunksOf(body), 1000, () => { throw tooLarge(); }));
 */
export async function* limitBytes(
  source: AsyncIterable<Uint8Array>,
  maxBytes: number,
  onExceeded: () => never,
): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of source) {
    seen += chunk.byteLength;
    if (seen > maxBytes) onExceeded();
    yield chunk;
  }
}
