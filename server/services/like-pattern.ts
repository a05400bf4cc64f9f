/**
 * A client's LIKE / ILIKE pattern, made one Postgres accepts. Backslash is LIKE's escape character,
 * and Postgres refuses a pattern that ends in a lone one ("LIKE pattern must not end with escape
 * character"), which reached clients as a 500. Such a trailing backslash is taken literally, as a
 * user typing `C:\` means; every other escape keeps its meaning.
 *
 * @example
 * likePattern('abc\\'); // 'abc\\\\' : matches the text `abc\`
 * likePattern('50\\%'); // unchanged: a literal percent sign
 */
export function likePattern(pattern: string): string {
  const trailing = /\\*$/.exec(pattern)![0].length;
  return trailing % 2 ? `${pattern}\\` : pattern;
}
