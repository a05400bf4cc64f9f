/**
 * The byte-level pieces GPT-2 and Hugging Face's ByteLevel pre-tokenizer share, so our BPE and
 * theirs split and spell text identically.
 */

/**
 * GPT-2's pre-tokenizer: contractions, letters, numbers and punctuation runs (each with one
 * optional leading space), then whitespace. `\s+(?!\S)` leaves the last space of a run to the
 * next word. Identical to the pattern in `tokenizers` (ByteLevel, use_regex) and tokenizers.js.
 */
export const GPT2_SPLIT =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's `bytes_to_unicode`: every byte maps to a printable character, so that BPE tokens are
 * strings without spaces or control characters. Printable Latin-1 bytes map to themselves; the
 * other 68 map to U+0100 upwards in byte order (space → 'Ġ', newline → 'Ċ').
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(printable(b) ? b : next++));
})();

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(
  BYTE_TO_CHAR.map((c, b) => [c, b]),
);

/**
 * Spells a token string (byte-level characters) back as its bytes; undefined when the string
 * has a character outside the 256-character alphabet.
 */
export function tokenBytes(token: string): Uint8Array | undefined {
  const out = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const b = CHAR_TO_BYTE.get(token[i]!);
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}

/** Joins byte chunks and decodes them, writing U+FFFD for invalid or truncated sequences. */
export function decodeUtf8(chunks: readonly Uint8Array[]): string {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return utf8.decode(all);
}

// ignoreBOM keeps a leading U+FEFF that was in the text instead of silently dropping it.
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
