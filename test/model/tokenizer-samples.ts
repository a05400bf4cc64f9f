/** Text that stresses byte-level tokenizers: scripts, emoji, whitespace runs, numbers, code. */
export const SAMPLES: readonly string[] = [
  'Hello world',
  "It's the model's job; they'll say we're done, I'd think, you've seen, I'm sure.",
  'Numbers: 3.14159, 1,000,000, 2024-06-01, 0x1F600, -42e-3 and 12345678901234567890.',
  '    indented\tcode\n\n\n  with   runs\u00a0of\u3000spaces \r\n\r\nand CRLF  ',
  'Ünïcödé: naïve café, Straße, Ελληνικά, русский, עברית, العربية, हिन्दी, ไทย',
  '中文分词测试，日本語のテキスト、한국어 문장입니다。',
  'Emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ e\u0301 (combining acute) \u200b zero width',
  'function add(a: number, b: number): number {\n  return a + b; // sum\n}\n',
  '<p class="x">Tags &amp; entities</p> ${template} `backticks` \\\\ backslashes',
  '',
  ' ',
  '\n',
  'lone surrogate \ud83d and BOM \ufeff inside',
  'a'.repeat(300) + ' ' + 'ab'.repeat(200),
];

/** What any byte-level tokenizer gives back: lone surrogates cannot be spelled in UTF-8. */
export const wellFormed = (s: string) =>
  new TextDecoder('utf-8', { ignoreBOM: true }).decode(new TextEncoder().encode(s));
