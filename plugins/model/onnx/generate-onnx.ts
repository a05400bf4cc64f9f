import { logSoftmax, pickToken, type DecodingOptions, type Generation } from '../generate.ts';
import { mulberry32 } from '../random.ts';
import { forwardOnnx, type OnnxCache, type OnnxGpt2Session } from './session.ts';

/**
 * Continues `prompt` with ONNX Runtime and a KV cache; the same semantics as `generate` in
 * generate.ts (seeded sampling through its `pickToken`, stop ids, untempered log-probabilities).
 *
 * @example
 * const { ids } = await generateOnnx(onnx, tokenizer.encode('2+2='), { maxNewTokens: 4 });
 */
export async function generateOnnx(
  onnx: OnnxGpt2Session,
  prompt: number[],
  opts: DecodingOptions,
): Promise<Generation> {
  return (await generateBatchOnnx(onnx, [prompt], opts))[0]!;
}

/**
 * Continues several prompts in one batch: prompts are left-padded to one length, the attention
 * mask hides the padding and position ids restart at 0 after it, so every row gives what
 * `generateOnnx` gives for it alone (each row draws from its own generator seeded with
 * `opts.seed`). Rows that finish keep being fed (their outputs ignored) until all are done.
 *
 * @example
 * const outs = await generateBatchOnnx(onnx, [[1, 2], [3, 4, 5]], { maxNewTokens: 8 });
 */
export async function generateBatchOnnx(
  onnx: OnnxGpt2Session,
  prompts: number[][],
  opts: DecodingOptions,
): Promise<Generation[]> {
  if (prompts.some((p) => p.length === 0)) {
    throw new Error('generate needs at least one prompt token');
  }
  const { n_positions: maxPositions, vocab_size: vocab } = onnx.config;
  const stop = new Set(opts.stopIds ?? []);
  const width = Math.max(...prompts.map((p) => p.length));
  const rows = prompts.map((prompt) => ({
    rand: mulberry32(opts.seed ?? 0),
    limit: Math.min(opts.maxNewTokens, Math.max(0, maxPositions - prompt.length)),
    // The position of the next token fed for this row.
    position: prompt.length,
    out: { ids: [], logprobs: [], finishReason: 'length' } as Generation,
    done: false,
  }));
  for (const row of rows) row.done = row.limit === 0;

  const pad = (p: number[]) => width - p.length;
  let input = prompts.map((p) => [...new Array<number>(pad(p)).fill(0), ...p]);
  let positionIds = prompts.map((p) => input[0]!.map((_, t) => Math.max(0, t - pad(p))));
  const mask = prompts.map((p) => input[0]!.map((_, t) => (t < pad(p) ? 0 : 1)));
  let cache: OnnxCache | undefined;

  while (rows.some((r) => !r.done)) {
    const result = await forwardOnnx(onnx, input, { cache, attentionMask: mask, positionIds });
    cache = result.cache;
    const seq = result.dims[1];
    const next: number[] = [];
    rows.forEach((row, b) => {
      if (row.done) {
        next.push(0);
        return;
      }
      const start = (b * seq + seq - 1) * vocab;
      const logits = result.logits.subarray(start, start + vocab);
      const token = pickToken(logits, opts, row.rand);
      row.out.ids.push(token);
      row.out.logprobs.push(logSoftmax(logits)[token]!);
      next.push(token);
      if (stop.has(token)) {
        row.out.finishReason = 'stop';
        row.done = true;
      } else if (row.out.ids.length >= row.limit) row.done = true;
    });
    input = next.map((t) => [t]);
    // Finished rows are clamped to a valid position: their logits are never read again.
    positionIds = rows.map((row) => [Math.min(row.position++, maxPositions - 1)]);
    for (const m of mask) m.push(1);
  }
  return rows.map((r) => r.out);
}
