import { BYTE_TO_CHAR, GPT2_SPLIT } from './byte-level.ts';
import { BpeTokenizer, mergePairInPlace } from './bpe.ts';
import { DEFAULT_SPECIAL_TOKENS } from './byte.ts';
import { numberSpecials, splitOnSpecials } from './specials.ts';

export interface TrainBpeOptions {
  /** Total ids: 256 bytes + the special tokens + the merges learned. */
  vocabSize: number;
  /** Numbered from 256, so `<|endoftext|>` is 256 as in the byte tokenizer. */
  specialTokens?: readonly string[];
  /** Stop early when the most frequent pair occurs fewer times than this. */
  minFrequency?: number;
}

const ID_LIMIT = 1 << 21;

/**
 * Learns a GPT-2-style byte-level BPE. Ids 0–255 are the bytes (id = byte value), then the
 * special tokens, then one id per merge. Special-token text in the corpus separates documents
 * and is never merged into. The result is deterministic: ties between equally frequent pairs go
 * to the pair of lower ids.
 *
 * Pair counts are kept up to date incrementally and the best pair comes from a max-heap with
 * lazy deletion (an entry whose count is stale is re-queued when popped), so a merge costs time
 * in proportion to the words it touches, not to the corpus.
 *
 * @example
 * const tok = trainBpe(['the cat sat on the mat'], { vocabSize: 300 });
 * tok.encode(' the'); // one id, learned
 */
export function trainBpe(texts: Iterable<string>, options: TrainBpeOptions): BpeTokenizer {
  const specials = numberSpecials(options.specialTokens ?? DEFAULT_SPECIAL_TOKENS, 256);
  const minFrequency = options.minFrequency ?? 2;
  const firstMergeId = 256 + specials.size;
  if (options.vocabSize < firstMergeId) {
    throw new Error(
      `vocabSize ${options.vocabSize} is below 256 bytes + ${specials.size} specials`,
    );
  }

  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const seg of splitOnSpecials(text, specials)) {
      if (typeof seg === 'number') continue;
      for (const m of seg.matchAll(GPT2_SPLIT)) {
        wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
      }
    }
  }

  const encoder = new TextEncoder();
  const words: number[][] = [];
  const freqs: number[] = [];
  const pairCounts = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  for (const [word, count] of wordCounts) {
    const syms = Array.from(encoder.encode(word));
    if (syms.length < 2) continue;
    const wi = words.push(syms) - 1;
    freqs.push(count);
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i]! * ID_LIMIT + syms[i + 1]!;
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      let set = where.get(key);
      if (!set) where.set(key, (set = new Set()));
      set.add(wi);
    }
  }

  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, key);

  const strings: string[] = [...BYTE_TO_CHAR];
  const vocab = new Map(strings.map((s, id) => [s, id]));
  const merges: Array<[string, string]> = [];
  let nextId = firstMergeId;
  const delta = new Map<number, number>();
  const addPairs = (wi: number, sign: number) => {
    const syms = words[wi]!;
    const f = freqs[wi]! * sign;
    for (let i = 0; i + 1 < syms.length; i++) {
      const key = syms[i]! * ID_LIMIT + syms[i + 1]!;
      const c = (pairCounts.get(key) ?? 0) + f;
      if (c === 0) pairCounts.delete(key);
      else pairCounts.set(key, c);
      delta.set(key, (delta.get(key) ?? 0) + f);
      if (sign > 0) {
        let set = where.get(key);
        if (!set) where.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };

  while (nextId < options.vocabSize && heap.size > 0) {
    const [count, key] = heap.pop();
    const current = pairCounts.get(key) ?? 0;
    if (current !== count) {
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (count < minFrequency) break;
    const a = Math.floor(key / ID_LIMIT);
    const b = key % ID_LIMIT;
    const text = strings[a]! + strings[b]!;
    let merged = vocab.get(text);
    if (merged === undefined) {
      merged = nextId++;
      vocab.set(text, merged);
      strings[merged] = text;
    }
    merges.push([strings[a]!, strings[b]!]);

    delta.clear();
    for (const wi of where.get(key) ?? []) {
      const syms = words[wi]!;
      if (!containsPair(syms, a, b)) continue; // a stale entry: an earlier merge consumed it
      addPairs(wi, -1);
      mergePairInPlace(syms, a, b, merged);
      addPairs(wi, +1);
    }
    where.delete(key);
    pairCounts.delete(key);
    for (const [k, d] of delta) {
      const c = pairCounts.get(k);
      if (d > 0 && c !== undefined) heap.push(c, k);
    }
  }

  return new BpeTokenizer({ vocab, merges, specialTokens: specials });
}

function containsPair(syms: number[], a: number, b: number): boolean {
  for (let i = 0; i + 1 < syms.length; i++) if (syms[i] === a && syms[i + 1] === b) return true;
  return false;
}

/** A binary max-heap of (count, pair key); equal counts pop the lower key first. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] {
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.counts.length && this.above(l, m)) m = l;
        if (r < this.counts.length && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i]!;
    const cj = this.counts[j]!;
    return ci > cj || (ci === cj && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
}
