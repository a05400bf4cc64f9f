/** A run of ordinary text, or one special token's id. */
export type Segment = string | number;

/**
 * Splits text around special tokens, longest match first so that a special which is a prefix of
 * another never wins. Returns the text as one segment when `specials` is empty.
 *
 * @example
 * splitOnSpecials('a<|endoftext|>b', new Map([['<|endoftext|>', 256]])); // ['a', 256, 'b']
 */
export function splitOnSpecials(text: string, specials: ReadonlyMap<string, number>): Segment[] {
  if (specials.size === 0 || text === '') return text === '' ? [] : [text];
  const pattern = new RegExp(
    [...specials.keys()]
      .sort((a, b) => b.length - a.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('|'),
    'g',
  );
  const out: Segment[] = [];
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(specials.get(m[0])!);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Checks a list of special tokens and numbers them from `firstId`. */
export function numberSpecials(tokens: readonly string[], firstId: number): Map<string, number> {
  const map = new Map<string, number>();
  for (const t of tokens) {
    if (t === '') throw new Error('a special token cannot be empty');
    if (map.has(t)) throw new Error(`special token ${JSON.stringify(t)} is listed twice`);
    map.set(t, firstId + map.size);
  }
  return map;
}
