import { decodeUtf8 } from './byte-level.ts';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './types.ts';

export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_EOS_ID = 50256;
const EOS = '<|endoftext|>';

let loading: Promise<Tokenizer> | undefined;

/**
 * GPT-2's own BPE (tiktoken's `r50k_base`, the same 50 257 ids as Hugging Face's `gpt2`),
 * encoded by the `gpt-tokenizer` package, whose ranks ship inside it: nothing is downloaded.
 * Loaded on first use (a few MB of tables) and shared afterwards.
 *
 * Decoding is ours rather than the package's: its decoder drops a character cut off at the end
 * of the ids (and keeps the cut bytes for the next call), where we write U+FFFD.
 *
 * @example
 * const tok = await createGpt2Tokenizer();
 * tok.encode('Hello world'); // [15496, 995]
 */
export function createGpt2Tokenizer(): Promise<Tokenizer> {
  return (loading ??= load());
}

async function load(): Promise<Tokenizer> {
  const [{ default: ranks }, r50k] = await Promise.all([
    import('gpt-tokenizer/bpeRanks/r50k_base'),
    import('gpt-tokenizer/encoding/r50k_base'),
  ]);
  const encoder = new TextEncoder();
  const idBytes = ranks.map((t) =>
    typeof t === 'string' ? encoder.encode(t) : Uint8Array.from(t),
  );
  idBytes[GPT2_EOS_ID] = encoder.encode(EOS);
  const allowed = { allowedSpecial: new Set([EOS]) };
  // Without this the package throws on special-token text; we encode it as plain text instead.
  const plain = { disallowedSpecial: new Set<string>() };
  return {
    kind: 'gpt2',
    vocabSize: GPT2_VOCAB_SIZE,
    eosId: GPT2_EOS_ID,
    bosId: GPT2_EOS_ID,
    padId: GPT2_EOS_ID,
    specialTokens: new Map([[EOS, GPT2_EOS_ID]]),
    encode: (text: string, { allowSpecial = false }: EncodeOptions = {}) =>
      r50k.encode(text, allowSpecial ? allowed : plain),
    decode(ids: readonly number[], { skipSpecial = false }: DecodeOptions = {}): string {
      const chunks: Uint8Array[] = [];
      for (const id of ids) {
        if (skipSpecial && id === GPT2_EOS_ID) continue;
        const bytes = idBytes[id];
        if (bytes === undefined)
          throw new RangeError(`token id ${id} is outside 0..${GPT2_VOCAB_SIZE - 1}`);
        chunks.push(bytes);
      }
      return decodeUtf8(chunks);
    },
  };
}
