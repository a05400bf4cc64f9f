/**
 * Python `str` semantics that the reference implementations rely on. JavaScript's `\s` and
 * `String.prototype.trim` use a different whitespace set (they include U+FEFF and miss U+001C–U+001F
 * and U+0085), so splitting "like Python" needs its own character class.
 */

/** The characters for which Python's `str.isspace()` is true (Python 3.11, Unicode 14). */
const PY_WHITESPACE =
  '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WS_RUN = new RegExp(`[${PY_WHITESPACE}]+`);
const PY_WS_TRAILING = new RegExp(`[${PY_WHITESPACE}]+$`);

/**
 * Python's `s.split()` (no argument): splits on runs of Python whitespace, drops empty strings.
 *
 * @example
 * pySplit(' a\u00a0b\x1cc ') // ['a', 'b', 'c']
 */
export function pySplit(s: string): string[] {
  const parts = s.split(PY_WS_RUN);
  if (parts.length > 0 && parts[0] === '') parts.shift();
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/**
 * Python's `s.rstrip()` (no argument).
 *
 * @example
 * pyRstrip('text \n') // 'text'
 */
export function pyRstrip(s: string): string {
  return s.replace(PY_WS_TRAILING, '');
}

/** True when `s` holds an astral code point, i.e. when UTF-16 indices are not code-point indices. */
const SURROGATE = /[\ud800-\udfff]/;

/**
 * The code points of `s` as an array of strings, like iterating a Python `str`.
 *
 * @example
 * codePoints('a👍') // ['a', '👍']
 */
export function codePoints(s: string): string[] {
  return SURROGATE.test(s) ? Array.from(s) : s.split('');
}
