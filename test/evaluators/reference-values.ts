/** Loads the values computed by the real Python packages (see fixtures/generate_reference.py). */
import fs from 'node:fs';

export interface PyBleuOpts {
  tokenize?: '13a' | 'intl' | 'char' | 'none';
  smooth_method?: 'exp' | 'floor' | 'add-k' | 'none';
  smooth_value?: number;
  lowercase?: boolean;
  effective_order?: boolean;
  max_ngram_order?: number;
}

export interface PyChrfOpts {
  char_order?: number;
  word_order?: number;
  beta?: number;
  lowercase?: boolean;
  whitespace?: boolean;
  eps_smoothing?: boolean;
}

interface BleuExpected {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

export interface ReferenceValues {
  generatedBy: Record<string, string>;
  bleuSentence: { hyp: string; refs: string[]; opts: PyBleuOpts; expected: BleuExpected }[];
  bleuCorpus: {
    name: string;
    hyps: string[];
    refs: string[][];
    opts: PyBleuOpts;
    expected: BleuExpected;
  }[];
  chrfSentence: { hyp: string; refs: string[]; opts: PyChrfOpts; expected: { score: number } }[];
  chrfCorpus: {
    name: string;
    hyps: string[];
    refs: string[][];
    opts: PyChrfOpts;
    expected: { score: number };
  }[];
  pairedBootstrap: {
    name: string;
    refs: string[];
    baseline: string[];
    system: string[];
    indices: number[][];
    metrics: {
      metric: 'bleu' | 'chrf' | 'chrf++';
      baseline: { score: number; mean: number; ci: number };
      system: { score: number; mean: number; ci: number; pValue: number };
    }[];
  }[];
  porter: { word: string; stem: string }[];
}

export const reference = JSON.parse(
  fs.readFileSync(new URL('./fixtures/reference-values.json', import.meta.url), 'utf8'),
) as ReferenceValues;

/** sacrebleu's option names in heldout's spelling; effective order off unless the case sets it. */
export function bleuOpts(o: PyBleuOpts) {
  return {
    tokenize: o.tokenize,
    smoothMethod: o.smooth_method,
    smoothValue: o.smooth_value,
    lowercase: o.lowercase,
    effectiveOrder: o.effective_order ?? false,
    maxNgramOrder: o.max_ngram_order,
  };
}

export function chrfOpts(o: PyChrfOpts) {
  return {
    charOrder: o.char_order,
    wordOrder: o.word_order,
    beta: o.beta,
    lowercase: o.lowercase,
    whitespace: o.whitespace,
    epsSmoothing: o.eps_smoothing,
  };
}

/** Relative-or-absolute closeness: 1e-9 is far below any rounding sacrebleu prints. */
export function close(actual: number, expected: number, tol = 1e-9): boolean {
  return Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected));
}
