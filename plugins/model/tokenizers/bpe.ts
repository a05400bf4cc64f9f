import { BYTE_TO_CHAR, GPT2_SPLIT, decodeUtf8, tokenBytes } from './byte-level.ts';
import { splitOnSpecials } from './specials.ts';
import type { DecodeOptions, EncodeOptions, Tokenizer } from './types.ts';

/** Everything a byte-level BPE is: the vocabulary, the merges in rank order, the specials. */
export interface BpeSpec {
  /** Byte-level token string (GPT-2 alphabet: space is 'Ġ') → id; all 256 bytes must be in it. */
  vocab: ReadonlyMap<string, number>;
  /** Rank order: earlier merges apply first. Each result must be in `vocab`. */
  merges: ReadonlyArray<readonly [string, string]>;
  /** Special token text → id, matched in raw text (only with `allowSpecial`). */
  specialTokens: ReadonlyMap<string, number>;
  /** Defaults to `<|endoftext|>` when present, else the first special token. */
  eosToken?: string;
  bosToken?: string;
  padToken?: string;
}

// Pair keys pack two ids into one number; 2^21 ids is far beyond any vocabulary we load.
const ID_LIMIT = 1 << 21;
const CACHE_LIMIT = 100_000;

/**
 * A GPT-2-style byte-level BPE: text is split with GPT-2's pattern, each piece is spelled as
 * UTF-8 bytes, and merges apply lowest rank first, leftmost first, as Hugging Face's BPE does.
 * Build one with `trainBpe` or `bpeFromTokenizerJson`.
 *
 * @example
 * const tok = new BpeTokenizer(spec);
 * tok.decode(tok.encode('Hello world')); // 'Hello world'
 */
export class BpeTokenizer implements Tokenizer {
  readonly kind = 'bpe';
  readonly vocabSize: number;
  readonly eosId: number;
  readonly bosId?: number;
  readonly padId?: number;
  readonly specialTokens: ReadonlyMap<string, number>;
  readonly spec: BpeSpec;
  private readonly byteIds: Int32Array;
  private readonly ranks = new Map<number, number>();
  private readonly mergedIds: Int32Array;
  private readonly leftIds: Int32Array;
  private readonly rightIds: Int32Array;
  private readonly idBytes: Array<Uint8Array | undefined> = [];
  private readonly specialIds = new Set<number>();
  private readonly cache = new Map<string, readonly number[]>();

  constructor(spec: BpeSpec) {
    this.spec = spec;
    this.specialTokens = spec.specialTokens;
    const { vocab, merges } = spec;
    this.byteIds = Int32Array.from(BYTE_TO_CHAR, (c, b) => {
      const id = vocab.get(c);
      if (id === undefined)
        throw new Error(`BPE vocabulary lacks byte ${b} (${JSON.stringify(c)})`);
      return id;
    });
    let maxId = -1;
    for (const [token, id] of vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= ID_LIMIT) throw new Error(`bad token id ${id}`);
      maxId = Math.max(maxId, id);
      this.idBytes[id] = tokenBytes(token);
    }
    for (const [token, id] of spec.specialTokens) {
      maxId = Math.max(maxId, id);
      this.idBytes[id] = new TextEncoder().encode(token);
      this.specialIds.add(id);
    }
    this.vocabSize = maxId + 1;
    this.mergedIds = new Int32Array(merges.length);
    this.leftIds = new Int32Array(merges.length);
    this.rightIds = new Int32Array(merges.length);
    merges.forEach(([a, b], rank) => {
      const [ia, ib, ir] = [vocab.get(a), vocab.get(b), vocab.get(a + b)];
      if (ia === undefined || ib === undefined || ir === undefined) {
        throw new Error(
          `merge ${rank} (${JSON.stringify(a)}, ${JSON.stringify(b)}) uses a token missing from the vocabulary`,
        );
      }
      const key = ia * ID_LIMIT + ib;
      // A duplicate merge keeps its first (lowest) rank, as tokenizers does.
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
      this.mergedIds[rank] = ir;
      this.leftIds[rank] = ia;
      this.rightIds[rank] = ib;
    });
    const idOf = (name: string | undefined) => {
      if (name === undefined) return undefined;
      const id = spec.specialTokens.get(name) ?? vocab.get(name);
      if (id === undefined)
        throw new Error(`token ${JSON.stringify(name)} is not in the vocabulary`);
      return id;
    };
    const eos =
      spec.eosToken ??
      (spec.specialTokens.has('<|endoftext|>')
        ? '<|endoftext|>'
        : [...spec.specialTokens.keys()][0]);
    if (eos === undefined) throw new Error('a BPE tokenizer needs an end-of-text special token');
    this.eosId = idOf(eos)!;
    this.bosId = idOf(spec.bosToken);
    this.padId = idOf(spec.padToken) ?? this.eosId;
  }

  encode(text: string, { allowSpecial = false }: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    for (const seg of splitOnSpecials(text, allowSpecial ? this.specialTokens : new Map())) {
      if (typeof seg === 'number') {
        ids.push(seg);
        continue;
      }
      for (const m of seg.matchAll(GPT2_SPLIT)) {
        const word = m[0];
        let pieces = this.cache.get(word);
        if (pieces === undefined) {
          pieces = this.bpe(word);
          if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
          if (word.length < 256) this.cache.set(word, pieces);
        }
        for (const p of pieces) ids.push(p);
      }
    }
    return ids;
  }

  decode(ids: readonly number[], { skipSpecial = false }: DecodeOptions = {}): string {
    const chunks: Uint8Array[] = [];
    for (const id of ids) {
      const bytes = this.idBytes[id];
      if (bytes === undefined) {
        throw new RangeError(`token id ${id} is not in this ${this.vocabSize}-token vocabulary`);
      }
      if (skipSpecial && this.specialIds.has(id)) continue;
      chunks.push(bytes);
    }
    return decodeUtf8(chunks);
  }

  /** Applies the merges to one pre-token: repeatedly merge every occurrence of the best pair. */
  private bpe(word: string): number[] {
    const syms = Array.from(utf8.encode(word), (b) => this.byteIds[b]!);
    while (syms.length > 1) {
      let best = Infinity;
      for (let i = 0; i + 1 < syms.length; i++) {
        const r = this.ranks.get(syms[i]! * ID_LIMIT + syms[i + 1]!);
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) break;
      const merged = this.mergedIds[best]!;
      const [a, b] = [this.leftIds[best]!, this.rightIds[best]!];
      mergePairInPlace(syms, a, b, merged);
    }
    return syms;
  }
}

const utf8 = new TextEncoder();

/** Replaces every adjacent (a, b) in `syms` with `merged`, left to right, in place. */
export function mergePairInPlace(syms: number[], a: number, b: number, merged: number): void {
  let w = 0;
  for (let i = 0; i < syms.length; i++) {
    if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
      syms[w++] = merged;
      i++;
    } else syms[w++] = syms[i]!;
  }
  syms.length = w;
}
