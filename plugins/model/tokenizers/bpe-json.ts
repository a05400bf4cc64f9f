import { BpeTokenizer } from './bpe.ts';
import type { BpeSpec } from './bpe.ts';

/**
 * The parts of a Hugging Face `tokenizer.json` we write and read. We write the layout of GPT-2's
 * own file (ByteLevel pre-tokenizer, post-processor and decoder, a BPE model) so that
 * `tokenizers`, transformers' `PreTrainedTokenizerFast` and `@huggingface/tokenizers` load it.
 */
export interface TokenizerJson {
  version: string;
  added_tokens: Array<{ id: number; content: string; special: boolean; [k: string]: unknown }>;
  normalizer: unknown;
  pre_tokenizer: { type: string; add_prefix_space?: boolean; use_regex?: boolean } | null;
  decoder: { type: string } | null;
  model: {
    type: string;
    vocab: Record<string, number>;
    // "a b" (the format every version reads) or ["a", "b"] (tokenizers ≥ 0.20).
    merges: Array<string | [string, string]>;
    byte_fallback?: boolean;
    continuing_subword_prefix?: string | null;
    end_of_word_suffix?: string | null;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };

/**
 * Serialises a BPE tokenizer as a Hugging Face `tokenizer.json` object.
 *
 * @example
 * await writeFile('tokenizer.json', JSON.stringify(bpeToTokenizerJson(tok)));
 */
export function bpeToTokenizerJson(tok: BpeTokenizer): TokenizerJson {
  const { vocab, merges, specialTokens } = tok.spec;
  const entries = [...vocab, ...specialTokens].sort((a, b) => a[1] - b[1]);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...specialTokens].map(([content, id]) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'ByteLevel', ...byteLevel, trim_offsets: false },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(entries),
      // Byte-level tokens never contain a space, so the joined form is unambiguous.
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * Builds a tokenizer from a `tokenizer.json` object. Only the byte-level BPE layout that GPT-2
 * and our trainer use is accepted; anything else (a normalizer, a SentencePiece model, prefix
 * spaces) would encode differently here than in Hugging Face, so it is refused with the reason.
 *
 * @example
 * const tok = bpeFromTokenizerJson(JSON.parse(await readFile('tokenizer.json', 'utf8')));
 */
export function bpeFromTokenizerJson(
  json: TokenizerJson,
  names: Pick<BpeSpec, 'eosToken' | 'bosToken' | 'padToken'> = {},
): BpeTokenizer {
  const refuse = (why: string) => {
    throw new Error(`unsupported tokenizer.json: ${why} (heldout reads byte-level BPE only)`);
  };
  const m = json.model;
  if (m?.type !== 'BPE') refuse(`model type ${m?.type}`);
  if (json.normalizer != null) refuse('it has a normalizer');
  const pre = json.pre_tokenizer;
  if (pre?.type !== 'ByteLevel') refuse(`pre_tokenizer ${pre?.type ?? 'none'}`);
  if (pre?.add_prefix_space) refuse('add_prefix_space is on');
  if (pre?.use_regex === false) refuse('use_regex is off');
  if (json.decoder != null && json.decoder.type !== 'ByteLevel')
    refuse(`decoder ${json.decoder.type}`);
  if (m.byte_fallback) refuse('byte_fallback is on');
  if (m.continuing_subword_prefix || m.end_of_word_suffix) refuse('it has subword affixes');
  const merges = m.merges.map((x): [string, string] => {
    if (Array.isArray(x)) return x;
    const [a, b, ...rest] = x.split(' ');
    if (a === undefined || b === undefined || rest.length > 0) refuse(`merge ${JSON.stringify(x)}`);
    return [a!, b!];
  });
  const specialTokens = new Map(json.added_tokens.map((t) => [t.content, t.id] as const));
  const vocab = new Map(Object.entries(m.vocab).filter(([t]) => !specialTokens.has(t)));
  return new BpeTokenizer({ vocab, merges, specialTokens, ...names });
}
