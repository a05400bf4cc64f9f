import { mulberry32 } from '../random.ts';
import { SKILLS, skillExample, type SkillSources } from './skills.ts';
import type { Gloss } from './wordnet.ts';

/** The byte-level vocabulary of the shipped base: 256 bytes, then end-of-text. */
export const EOT = 256;
export const BYTE_VOCAB = 257;

export interface Mixture {
  /** Shares of the three sources in the stream of documents; they need not sum to 1. */
  brown: number;
  wordnet: number;
  skills: number;
}

export const DEFAULT_MIXTURE: Mixture = { brown: 0.45, wordnet: 0.2, skills: 0.35 };

export interface Batch {
  /** [batch * time] token ids, row-major. */
  input: Int32Array;
  target: Int32Array;
}

const encoder = new TextEncoder();

/**
 * An endless, seeded stream of training windows: documents (a Brown paragraph, a WordNet gloss with
 * its examples, a few skill lines) are drawn by the mixture, encoded as UTF-8 bytes, separated by
 * end-of-text, and cut into windows of `time + 1` tokens.
 *
 * @example
 * const next = pretrainingBatches({ brown, glosses, sources }, { batch: 16, time: 128, seed: 1 });
 * const { input, target } = next();
 */
export function pretrainingBatches(
  data: { brown: string[]; glosses: Gloss[]; sources: SkillSources },
  opts: { batch: number; time: number; seed: number; mixture?: Mixture },
): () => Batch {
  const rand = mulberry32(opts.seed);
  const mix = opts.mixture ?? DEFAULT_MIXTURE;
  const total = mix.brown + mix.wordnet + mix.skills;
  const document = (): string => {
    const r = rand() * total;
    if (r < mix.brown) return data.brown[Math.floor(rand() * data.brown.length)]!;
    if (r < mix.brown + mix.wordnet) {
      const g = data.glosses[Math.floor(rand() * data.glosses.length)]!;
      const examples = g.examples.length ? ` For example: ${g.examples.join('; ')}.` : '';
      return `${g.word} (${g.pos}): ${g.definition}.${examples}`;
    }
    // Several examples per document, one per line, as a prompt-response pattern repeats.
    const lines: string[] = [];
    const n = 2 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) {
      const skill = SKILLS[Math.floor(rand() * SKILLS.length)]!;
      const ex = skillExample(skill, data.sources, rand, 'train');
      lines.push(ex.prompt + ex.response);
    }
    return lines.join('\n');
  };
  let buffer: number[] = [];
  const fill = (n: number) => {
    while (buffer.length < n) {
      buffer.push(...encoder.encode(document()), EOT);
    }
  };
  return () => {
    const { batch, time } = opts;
    const input = new Int32Array(batch * time);
    const target = new Int32Array(batch * time);
    for (let b = 0; b < batch; b++) {
      fill(time + 1);
      for (let t = 0; t < time; t++) {
        input[b * time + t] = buffer[t]!;
        target[b * time + t] = buffer[t + 1]!;
      }
      buffer = buffer.slice(time);
    }
    return { input, target };
  };
}
