import { decodeUtf8 } from './byte-level.ts';
import { numberSpecials, splitOnSpecials } from './specials.ts';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './types.ts';

export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ['<|endoftext|>'];

export interface ByteTokenizerOptions {
  /** Numbered from 256 in this order; the first is the end-of-text token. */
  specialTokens?: readonly string[];
}

/**
 * The simplest tokenizer: one id per UTF-8 byte (0–255), then the special tokens. It needs no
 * training and can spell any text, which suits the tiny model shipped with heldout.
 *
 * @example
 * const tok = createByteTokenizer();
 * tok.encode('hé'); // [104, 195, 169]
 * tok.encode('<|endoftext|>', { allowSpecial: true }); // [256]
 * tok.decode([104, 195]); // 'h\uFFFD' — a cut-off character is replaced, not an error
 */
export function createByteTokenizer(options: ByteTokenizerOptions = {}): Tokenizer {
  const names = options.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  if (names.length === 0) throw new Error('the byte tokenizer needs an end-of-text special token');
  const specials = numberSpecials(names, 256);
  const specialBytes = new Map([...specials].map(([t, id]) => [id, utf8.encode(t)]));
  const vocabSize = 256 + specials.size;
  return {
    kind: 'byte',
    vocabSize,
    eosId: 256,
    padId: 256,
    specialTokens: specials,
    encode(text: string, { allowSpecial = false }: EncodeOptions = {}): number[] {
      const ids: number[] = [];
      for (const seg of splitOnSpecials(text, allowSpecial ? specials : new Map())) {
        if (typeof seg === 'number') ids.push(seg);
        else for (const b of utf8.encode(seg)) ids.push(b);
      }
      return ids;
    },
    decode(ids: readonly number[], { skipSpecial = false }: DecodeOptions = {}): string {
      const chunks: Uint8Array[] = [];
      let run: number[] = [];
      for (const id of ids) {
        if (id >= 0 && id < 256 && Number.isInteger(id)) {
          run.push(id);
          continue;
        }
        const special = specialBytes.get(id);
        if (special === undefined)
          throw new RangeError(`token id ${id} is outside 0..${vocabSize - 1}`);
        if (skipSpecial) continue;
        chunks.push(Uint8Array.from(run), special);
        run = [];
      }
      chunks.push(Uint8Array.from(run));
      return decodeUtf8(chunks);
    },
  };
}

const utf8 = new TextEncoder();
