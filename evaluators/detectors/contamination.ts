/**
 * Contamination: word n-gram overlap between a run's training data and a suite's cases, after the
 * GPT-3 paper (Brown et al. 2020, appendix C): texts are lower-cased and split into words on
 * anything that is not a letter or a digit; a case is contaminated when any of its n-grams (13 by
 * default) also occurs in the training data.
 *
 * Short cases. GPT-3 lowered n for benchmarks of short examples; heldout keeps one n and, for a case
 * of fewer than n words, uses the whole case as a single gram when it has at least `minWords`
 * (default 8) words: eight words in the same order are rarely a coincidence, shorter ones (a
 * one-line question, "what is the capital of france") often are. Cases under `minWords` cannot be
 * judged; they are listed in `tooShort` and counted as clean.
 *
 * Efficiency. The training side is by far the larger (100k rows × hundreds of words), so its grams
 * are never stored: the cases' grams are indexed by a 53-bit hash, and every training window is
 * hashed and looked up, then checked word by word on a hit (so a hash collision cannot invent a
 * match). Words are interned against the cases' vocabulary, and windows holding a word no case
 * has are skipped without hashing. Memory is linear in the cases, time linear in the training words.
 */
import { fmt, type Finding } from './finding.ts';

/** Input of {@link detectContamination}. */
export interface ContaminationInput {
  training: readonly string[];
  cases: readonly { id: string; text: string }[];
  /** Gram length in words; default 13. */
  n?: number;
  /** The shortest case (in words) that is used whole when it has fewer than n words; default 8. */
  minWords?: number;
  /** Per-case scores, by case id, to compare the mean with and without contaminated cases. */
  caseScores?: Record<string, number>;
}

/** A contaminated case: `overlap` = matchedGrams / grams. */
export interface ContaminatedCase {
  id: string;
  overlap: number;
  matchedGrams: number;
  grams: number;
}

/** A mean score over a group of cases; `mean` is null when the group has no scored case. */
export interface GroupScore {
  mean: number | null;
  n: number;
}

/** What {@link detectContamination} returns. */
export interface ContaminationResult {
  n: number;
  minWords: number;
  /** Cases that had at least one gram to look for. */
  checked: number;
  tooShort: string[];
  /** In the order of the input cases. */
  contaminated: ContaminatedCase[];
  scores?: { all: GroupScore; clean: GroupScore; contaminated: GroupScore };
  finding?: Finding;
}

/**
 * Lower-cased words of a text, split on every character that is not a letter or a digit.
 *
 * @example
 * contaminationWords("It's 13-gram time!") // ['it', 's', '13', 'gram', 'time']
 */
export function contaminationWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

const B1 = 0x01000193;
const B2 = 0x5bd1e995;

/**
 * Prefix hashes in two 32-bit polynomial lanes, so the hash of any window is O(1) (see
 * {@link windowKey}) and a training text is hashed once whatever the gram lengths.
 */
function prefixHashes(ids: Int32Array): [Int32Array, Int32Array] {
  const p1 = new Int32Array(ids.length + 1);
  const p2 = new Int32Array(ids.length + 1);
  for (let i = 0; i < ids.length; i++) {
    // Spread the small word ids over 32 bits before they enter the polynomial.
    const x = Math.imul(ids[i]! + 1, 0x9e3779b1);
    p1[i + 1] = (Math.imul(p1[i]!, B1) + x) | 0;
    p2[i + 1] = (Math.imul(p2[i]!, B2) + (x ^ (x >>> 15))) | 0;
  }
  return [p1, p2];
}

/** Powers B^k of both lanes (mod 2^32) for each gram length k. */
function powers(k: number): [number, number] {
  let a = 1;
  let b = 1;
  for (let i = 0; i < k; i++) {
    a = Math.imul(a, B1);
    b = Math.imul(b, B2);
  }
  return [a, b];
}

/** The first lane's hash of the window [start, start + k). */
function lane1(p1: Int32Array, start: number, k: number, b1: number): number {
  return (p1[start + k]! - Math.imul(p1[start]!, b1)) | 0;
}

/** The window [start, start + k) as one exact 53-bit integer (32 bits of one lane, 21 of the other). */
function windowKey(
  [p1, p2]: [Int32Array, Int32Array],
  start: number,
  k: number,
  [b1, b2]: [number, number],
): number {
  const h2 = (p2[start + k]! - Math.imul(p2[start]!, b2)) | 0;
  return (lane1(p1, start, k, b1) >>> 0) * 0x200000 + (h2 >>> 11);
}

/**
 * A 2^25-bit filter on the first lane: nearly every training window is no case's gram, and a bit
 * test is far cheaper than a Map lookup keyed by a 53-bit number.
 */
const FILTER_SHIFT = 7;
const filterHas = (filter: Int32Array, h1: number) =>
  (filter[h1 >>> (FILTER_SHIFT + 5)]! >>> ((h1 >>> FILTER_SHIFT) & 31)) & 1;
const filterAdd = (filter: Int32Array, h1: number) => {
  filter[h1 >>> (FILTER_SHIFT + 5)]! |= 1 << ((h1 >>> FILTER_SHIFT) & 31);
};

interface GramRef {
  caseIndex: number;
  start: number;
}

/**
 * Finds the cases of a suite that share a word n-gram with the training data, how much of each
 * overlaps, and (with `caseScores`) the mean score with all cases, clean cases only and
 * contaminated ones. The finding is `warn`, never `block`: whether contamination stops a promotion
 * (any case, a share of cases, or a clean-only score below a threshold) is the gate's decision.
 *
 * @example
 * const training = ['the quick brown fox jumps over the lazy dog near the quiet river bank today'];
 * const cases = [
 *   { id: 'a', text: 'The quick brown fox jumps over the lazy dog near the quiet river bank!' },
 *   { id: 'b', text: 'An entirely different question about arithmetic and the order of operations here' },
 * ];
 * detectContamination({ training, cases }).contaminated // [{ id: 'a', overlap: 1, matchedGrams: 1, grams: 1 }]
 */
export function detectContamination(input: ContaminationInput): ContaminationResult {
  const n = input.n ?? 13;
  const minWords = Math.min(input.minWords ?? 8, n);
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);

  const vocab = new Map<string, number>();
  const intern = (w: string) => {
    let id = vocab.get(w);
    if (id === undefined) vocab.set(w, (id = vocab.size));
    return id;
  };
  const seen = new Set<string>();
  const caseIds: Int32Array[] = [];
  const matched: Uint8Array[] = [];
  const tooShort: string[] = [];
  // Index per gram length (n, plus the lengths of whole short cases): hash → where that gram occurs.
  const index = new Map<number, Map<number, GramRef[]>>();
  const filter = new Int32Array(1 << (32 - FILTER_SHIFT - 5));
  const power = new Map<number, [number, number]>();
  const powerOf = (k: number) => {
    let p = power.get(k);
    if (!p) power.set(k, (p = powers(k)));
    return p;
  };
  input.cases.forEach((c, caseIndex) => {
    if (seen.has(c.id)) throw new Error(`duplicate case id ${JSON.stringify(c.id)}`);
    seen.add(c.id);
    const ids = Int32Array.from(contaminationWords(c.text), intern);
    caseIds.push(ids);
    const k = ids.length >= n ? n : ids.length >= minWords ? ids.length : 0;
    const grams = k === 0 ? 0 : ids.length - k + 1;
    matched.push(new Uint8Array(grams));
    if (k === 0) tooShort.push(c.id);
    let byHash = index.get(k);
    if (grams > 0 && !byHash) index.set(k, (byHash = new Map()));
    const prefix = prefixHashes(ids);
    for (let start = 0; start < grams; start++) {
      filterAdd(filter, lane1(prefix[0], start, k, powerOf(k)[0]));
      const h = windowKey(prefix, start, k, powerOf(k));
      const refs = byHash!.get(h);
      if (refs) refs.push({ caseIndex, start });
      else byHash!.set(h, [{ caseIndex, start }]);
    }
  });

  const lengths = [...index.keys()];
  const lookups = lengths.map((k) => ({ k, byHash: index.get(k)!, power: powerOf(k) }));
  const minLength = Math.min(...lengths);
  for (const text of input.training) {
    const words = contaminationWords(text);
    if (words.length < minLength) continue;
    // Words no case contains get -1: no window through them can match.
    const ids = new Int32Array(words.length);
    for (let i = 0; i < words.length; i++) ids[i] = vocab.get(words[i]!) ?? -1;
    const prefix = prefixHashes(ids);
    let run = 0; // known words ending at position i
    for (let i = 0; i < ids.length; i++) {
      run = ids[i]! < 0 ? 0 : run + 1;
      for (const { k, byHash, power: p } of lookups) {
        if (run < k) continue;
        const start = i - k + 1;
        if (!filterHas(filter, lane1(prefix[0], start, k, p[0]))) continue;
        const refs = byHash.get(windowKey(prefix, start, k, p));
        if (!refs) continue;
        for (const ref of refs) {
          const caseWords = caseIds[ref.caseIndex]!;
          let same = true;
          for (let t = 0; t < k && same; t++) same = caseWords[ref.start + t] === ids[start + t];
          if (same) matched[ref.caseIndex]![ref.start] = 1;
        }
      }
    }
  }

  const contaminated: ContaminatedCase[] = [];
  input.cases.forEach((c, i) => {
    const marks = matched[i]!;
    let hits = 0;
    for (const m of marks) hits += m;
    if (hits > 0)
      contaminated.push({
        id: c.id,
        overlap: hits / marks.length,
        matchedGrams: hits,
        grams: marks.length,
      });
  });

  const result: ContaminationResult = {
    n,
    minWords,
    checked: input.cases.length - tooShort.length,
    tooShort,
    contaminated,
  };
  if (input.caseScores) result.scores = groupScores(input, contaminated, input.caseScores);
  if (contaminated.length > 0) result.finding = toFinding(input.cases.length, result);
  return result;
}

function groupScores(
  input: ContaminationInput,
  contaminated: readonly ContaminatedCase[],
  scores: Record<string, number>,
): NonNullable<ContaminationResult['scores']> {
  const dirty = new Set(contaminated.map((c) => c.id));
  const sums = { all: [0, 0], clean: [0, 0], contaminated: [0, 0] };
  for (const c of input.cases) {
    if (!Object.hasOwn(scores, c.id)) continue;
    const s = scores[c.id]!;
    for (const group of [sums.all, dirty.has(c.id) ? sums.contaminated : sums.clean]) {
      group[0]! += s;
      group[1]! += 1;
    }
  }
  const g = ([sum, count]: number[]): GroupScore => ({
    mean: count ? sum! / count : null,
    n: count!,
  });
  return { all: g(sums.all), clean: g(sums.clean), contaminated: g(sums.contaminated) };
}

function toFinding(total: number, r: ContaminationResult): Finding {
  const k = r.contaminated.length;
  const s = r.scores;
  const scoreText = s
    ? `; mean score ${fmt(s.all.mean ?? Number.NaN)} on all cases, ` +
      `${fmt(s.clean.mean ?? Number.NaN)} on the ${s.clean.n} clean ones and ` +
      `${fmt(s.contaminated.mean ?? Number.NaN)} on the ${s.contaminated.n} contaminated ones`
    : '';
  return {
    detector: 'contamination',
    severity: 'warn',
    summary:
      `${k} of ${total} cases (${fmt((100 * k) / total)}%) share a ${r.n}-word sequence (or ` +
      `their whole text, if shorter) with the training data${scoreText}.`,
    evidence: {
      n: r.n,
      minWords: r.minWords,
      cases: total,
      checked: r.checked,
      tooShort: r.tooShort,
      contaminatedIds: r.contaminated.map((c) => c.id),
      overlap: Object.fromEntries(r.contaminated.map((c) => [c.id, c.overlap])),
      ...(s ? { scores: s } : {}),
    },
  };
}
