/**
 * sacrebleu 2.x tokenizers: `13a` (mteval-v13a, the default), `intl` (mteval-v14 international),
 * `char` and `none`. Ported from sacrebleu's `tokenizers/tokenizer_13a.py`, `tokenizer_re.py`,
 * `tokenizer_intl.py` and `tokenizer_char.py`.
 */
import { codePoints, pySplit } from '../text/python-str.ts';

/** The tokenizers that heldout's BLEU supports. */
export type BleuTokenizerName = '13a' | 'intl' | 'char' | 'none';

const RE_13A: readonly [RegExp, string][] = [
  // ASCII punctuation and symbols, except period, comma and dash (handled below).
  [/([{-~[-` -&(-+:-@/])/gu, ' $1 '],
  // Period and comma, unless preceded by a digit ...
  [/([^0-9])([.,])/gu, '$1 $2 '],
  // ... or followed by one: keeps 1,000.50 together.
  [/([.,])([^0-9])/gu, ' $1 $2'],
  // A dash after a digit.
  [/([0-9])(-)/gu, '$1 $2 '],
];

const RE_INTL: readonly [RegExp, string][] = [
  [/(\P{N})(\p{P})/gu, '$1 $2 '],
  [/(\p{P})(\P{N})/gu, ' $1 $2'],
  [/(\p{S})/gu, ' $1 '],
];

function applyAll(line: string, rules: readonly [RegExp, string][]): string {
  let out = line;
  for (const [re, replacement] of rules) out = out.replace(re, replacement);
  return pySplit(out).join(' ');
}

/**
 * The mteval-v13a tokenizer as sacrebleu implements it (WMT's standard).
 *
 * @example
 * tokenize13a('Hello, world!') // 'Hello , world !'
 */
export function tokenize13a(input: string): string {
  let line = input.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (line.includes('&')) {
    line = line
      .replaceAll('&quot;', '"')
      .replaceAll('&amp;', '&')
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>');
  }
  return applyAll(` ${line} `, RE_13A);
}

/**
 * The mteval-v14 "international" tokenizer: splits on Unicode punctuation and symbols, keeping
 * punctuation between digits (a known quirk kept from mteval: `2019.` at the very end stays whole).
 *
 * @example
 * tokenizeIntl('Ça coûte 5€.') // 'Ça coûte 5 € .'
 */
export function tokenizeIntl(line: string): string {
  return applyAll(line, RE_INTL);
}

/**
 * Every code point becomes a token.
 *
 * @example
 * tokenizeChar('ab c') // 'a b   c'
 */
export function tokenizeChar(line: string): string {
  return codePoints(line).join(' ');
}

/** The tokenizer functions by name. */
export const BLEU_TOKENIZERS = {
  '13a': tokenize13a,
  intl: tokenizeIntl,
  char: tokenizeChar,
  none: (line: string) => line,
} satisfies Record<BleuTokenizerName, (line: string) => string>;
