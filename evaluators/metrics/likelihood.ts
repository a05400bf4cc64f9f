/** Metrics from a model's log-probabilities (natural log): perplexity, bits per byte, multiple choice. */

const utf8 = new TextEncoder();

/**
 * Perplexity: exp of the mean negative log-likelihood per token, pooled over all sequences
 * (token-weighted, not a mean of per-sequence perplexities).
 *
 * @example
 * perplexity([[Math.log(0.5), Math.log(0.5)]]) // 2
 */
export function perplexity(tokenLogprobs: readonly (readonly number[])[]): number {
  let nll = 0;
  let tokens = 0;
  for (const seq of tokenLogprobs) {
    for (const lp of seq) nll -= lp;
    tokens += seq.length;
  }
  if (tokens === 0) throw new Error('perplexity needs at least one token');
  return Math.exp(nll / tokens);
}

/**
 * Bits per UTF-8 byte: total negative log-likelihood in bits over the byte length of the texts the
 * tokens encode; comparable across tokenizers, unlike perplexity.
 *
 * @example
 * bitsPerByte([[Math.log(0.5)]], ['a']) // 1
 */
export function bitsPerByte(
  tokenLogprobs: readonly (readonly number[])[],
  texts: readonly string[],
): number {
  if (tokenLogprobs.length !== texts.length)
    throw new Error('bitsPerByte needs one text per sequence');
  let nll = 0;
  for (const seq of tokenLogprobs) for (const lp of seq) nll -= lp;
  const bytes = texts.reduce((s, t) => s + utf8.encode(t).length, 0);
  if (bytes === 0) throw new Error('bitsPerByte needs non-empty texts');
  return nll / Math.LN2 / bytes;
}

/** One multiple-choice question scored by the model. */
export interface MultipleChoiceItem {
  /** Total log-likelihood of each choice's continuation. */
  choiceLogLikelihoods: readonly number[];
  /** The continuation text of each choice, for length normalisation. */
  choices: readonly string[];
  /** Index of the correct choice. */
  gold: number;
}

/**
 * Accuracy when picking the most likely choice: `acc` from the raw log-likelihood, `accNorm`
 * from the log-likelihood per UTF-8 byte of the choice (lm-evaluation-harness's `acc_norm`).
 * Ties go to the first choice.
 *
 * @example
 * multipleChoiceAccuracy([{ choiceLogLikelihoods: [-1, -2], choices: ['a', 'bb'], gold: 0 }]) // { acc: 1, accNorm: 1, n: 1 }
 */
export function multipleChoiceAccuracy(items: readonly MultipleChoiceItem[]): {
  acc: number;
  accNorm: number;
  n: number;
} {
  if (items.length === 0) return { acc: Number.NaN, accNorm: Number.NaN, n: 0 };
  const argmax = (xs: readonly number[]) => xs.reduce((bi, x, i) => (x > xs[bi]! ? i : bi), 0);
  let acc = 0;
  let accNorm = 0;
  for (const item of items) {
    if (item.choices.length !== item.choiceLogLikelihoods.length) {
      throw new Error('multiple choice: one log-likelihood per choice');
    }
    if (argmax(item.choiceLogLikelihoods) === item.gold) acc++;
    const norm = item.choiceLogLikelihoods.map(
      (ll, i) => ll / Math.max(1, utf8.encode(item.choices[i]!).length),
    );
    if (argmax(norm) === item.gold) accNorm++;
  }
  return { acc: acc / items.length, accNorm: accNorm / items.length, n: items.length };
}
