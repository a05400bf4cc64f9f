import { readFile } from 'node:fs/promises';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bpeFromTokenizerJson,
  bpeToTokenizerJson,
  trainBpe,
} from '../../plugins/model/tokenizers/index.ts';
import type { BpeTokenizer, TokenizerJson } from '../../plugins/model/tokenizers/index.ts';
import { GPT2_SPLIT } from '../../plugins/model/tokenizers/byte-level.ts';
import { SAMPLES, wellFormed } from './tokenizer-samples.ts';

let corpus: string[];
let tok: BpeTokenizer;

beforeAll(async () => {
  // The project's own prose plus the stress samples: varied, offline, a few dozen kB.
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const arch = await readFile(new URL('../../plugins/README.md', import.meta.url), 'utf8');
  corpus = [readme, arch, ...SAMPLES, 'one<|endoftext|>two<|endoftext|>'.repeat(50)];
  tok = trainBpe(corpus, { vocabSize: 512 });
});

describe('trainBpe', () => {
  it('fills the vocabulary: bytes, then specials, then merges', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.eosId).toBe(256);
    expect(tok.specialTokens).toEqual(new Map([['<|endoftext|>', 256]]));
    expect(tok.spec.merges.length).toBe(512 - 257);
    expect(tok.encode('\u0000A\u00ff', { allowSpecial: true })).toEqual([0, 65, 195, 191]);
    // Document separators are never learned from.
    expect(tok.spec.merges.some(([a, b]) => (a + b).includes('<|'))).toBe(false);
  });

  it('is deterministic', () => {
    expect(trainBpe(corpus, { vocabSize: 512 }).spec.merges).toEqual(tok.spec.merges);
  });

  it('learns the same merges as recounting every pair before each merge', () => {
    const small = corpus.slice(0, 3);
    const fast = trainBpe(small, { vocabSize: 400, minFrequency: 1 }).spec.merges;
    expect(fast).toEqual(naiveMerges(small, 400 - 257));
  });

  it('round-trips text, compresses it, and keeps special-token text unforgeable', () => {
    for (const s of SAMPLES) expect(tok.decode(tok.encode(s))).toBe(wellFormed(s));
    const text = corpus[0]!;
    expect(tok.encode(text).length).toBeLessThan(new TextEncoder().encode(text).length * 0.7);
    expect(tok.encode('x<|endoftext|>')).not.toContain(256);
    expect(tok.encode('x<|endoftext|>', { allowSpecial: true }).at(-1)).toBe(256);
  });
});

describe('tokenizer.json', () => {
  it('encodes and decodes exactly as @huggingface/tokenizers does', () => {
    const hf = new HfTokenizer(bpeToTokenizerJson(tok), {});
    const texts = [...SAMPLES, ...corpus[0]!.split('\n\n'), 'special <|endoftext|> inside'];
    for (const text of texts) {
      // Hugging Face always matches added tokens in text, so compare with allowSpecial.
      const ours = tok.encode(text, { allowSpecial: true });
      expect(hf.encode(text, { add_special_tokens: false }).ids, text).toEqual(ours);
      if (ours.length === 0) continue; // its decode refuses an empty list
      expect(hf.decode(ours, { clean_up_tokenization_spaces: false })).toBe(tok.decode(ours));
    }
  });

  it('reads back what it writes, in either merge format, through JSON text', () => {
    const json = JSON.parse(JSON.stringify(bpeToTokenizerJson(tok))) as TokenizerJson;
    const back = bpeFromTokenizerJson(json);
    const pairs = {
      ...json,
      model: { ...json.model, merges: tok.spec.merges.map(([a, b]) => [a, b]) },
    };
    const back2 = bpeFromTokenizerJson(pairs as TokenizerJson);
    for (const s of SAMPLES) {
      expect(back.encode(s)).toEqual(tok.encode(s));
      expect(back2.encode(s)).toEqual(tok.encode(s));
    }
    expect(back.vocabSize).toBe(512);
  });

  it('refuses layouts that would encode differently', () => {
    const json = bpeToTokenizerJson(tok);
    const prefix = { ...json, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true } };
    expect(() => bpeFromTokenizerJson(prefix)).toThrow(/add_prefix_space/);
    const wordPiece = { ...json, model: { ...json.model, type: 'WordPiece' } };
    expect(() => bpeFromTokenizerJson(wordPiece)).toThrow(/model type WordPiece/);
    expect(() => bpeFromTokenizerJson({ ...json, normalizer: { type: 'NFC' } })).toThrow(
      /normalizer/,
    );
  });
});

/** The textbook trainer: count every pair from scratch before each merge. */
function naiveMerges(texts: string[], count: number): Array<[string, string]> {
  const enc = new TextEncoder();
  const byteChar = (b: number) => tokFromBytes([b]);
  const words = new Map<string, number>();
  for (const t of texts) {
    for (const part of t.split('<|endoftext|>')) {
      for (const m of part.matchAll(GPT2_SPLIT)) words.set(m[0], (words.get(m[0]) ?? 0) + 1);
    }
  }
  const seqs = [...words].map(([w, f]) => ({ syms: [...enc.encode(w)].map(byteChar), f }));
  const ids = new Map<string, number>(Array.from({ length: 256 }, (_, b) => [byteChar(b), b]));
  let next = 257;
  const merges: Array<[string, string]> = [];
  while (merges.length < count) {
    const counts = new Map<string, { a: string; b: string; n: number }>();
    for (const { syms, f } of seqs) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = `${syms[i]}\u0000${syms[i + 1]}`;
        const c = counts.get(k) ?? { a: syms[i]!, b: syms[i + 1]!, n: 0 };
        c.n += f;
        counts.set(k, c);
      }
    }
    const best = [...counts.values()].sort(
      (x, y) => y.n - x.n || ids.get(x.a)! - ids.get(y.a)! || ids.get(x.b)! - ids.get(y.b)!,
    )[0];
    if (!best) break;
    merges.push([best.a, best.b]);
    if (!ids.has(best.a + best.b)) ids.set(best.a + best.b, next++);
    for (const s of seqs) {
      const out: string[] = [];
      for (let i = 0; i < s.syms.length; i++) {
        if (s.syms[i] === best.a && s.syms[i + 1] === best.b) {
          out.push(best.a + best.b);
          i++;
        } else out.push(s.syms[i]!);
      }
      s.syms = out;
    }
  }
  return merges;
}

function tokFromBytes(bytes: number[]): string {
  // GPT-2's byte-to-character table, rebuilt here so the test does not lean on our copy.
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  const table: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : 256 + n++);
  return bytes.map((b) => table[b]).join('');
}
