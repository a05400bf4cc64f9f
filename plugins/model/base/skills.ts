import { mulberry32 } from '../random.ts';
import type { Gloss } from './wordnet.ts';

/**
 * The general skills the shipped base model is pretrained on, and the retention suites that check
 * them: what a careless fine-tune can destroy. Each example is one line, `prompt` + `response`;
 * suites hold cases the pretraining never saw (held-out sums and words), except `definitions`,
 * where recalling the memorised definition is the skill itself.
 */
export type Skill = 'arithmetic' | 'copying' | 'capitalisation' | 'definitions';

export interface SkillExample {
  prompt: string;
  response: string;
}

export interface EvalCase {
  id: string;
  input: string;
  expected: string;
  metadata: { skill: Skill };
}

const heldOut = (key: string) => {
  // A fixed tenth of every skill's space is never trained on (FNV-1a of the key).
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % 10 === 0;
};

export interface SkillSources {
  /** Lower-case single words, 3 to 8 letters. */
  words: string[];
  /** Words with a short definition, memorised during pretraining. */
  definitions: { word: string; definition: string }[];
}

/** Word lists for the skills, from WordNet, in a deterministic order. */
export function skillSources(glosses: Gloss[], definitionCount = 300): SkillSources {
  const words = [
    ...new Set(glosses.filter((g) => /^[a-z]{3,8}$/.test(g.word)).map((g) => g.word)),
  ].sort();
  const seen = new Set<string>();
  const definitions: SkillSources['definitions'] = [];
  // Short nouns with short definitions: a small model can hold a few hundred of them.
  for (const g of glosses) {
    if (g.pos !== 'noun' || !/^[a-z]{3,7}$/.test(g.word) || seen.has(g.word)) continue;
    if (g.definition.length > 40 || g.definition.length < 8) continue;
    seen.add(g.word);
    definitions.push({ word: g.word, definition: g.definition });
  }
  const rand = mulberry32(2024);
  definitions.sort((a, b) => a.word.localeCompare(b.word));
  for (let i = definitions.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [definitions[i], definitions[j]] = [definitions[j]!, definitions[i]!];
  }
  return { words, definitions: definitions.slice(0, definitionCount) };
}

const pickWords = (words: string[], n: number, rand: () => number) =>
  Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]!);

/** One example of `skill`; `split` chooses between the trained part of its space and the held-out one. */
export function skillExample(
  skill: Skill,
  sources: SkillSources,
  rand: () => number,
  split: 'train' | 'eval',
): SkillExample {
  for (;;) {
    let key: string;
    let example: SkillExample;
    switch (skill) {
      case 'arithmetic': {
        const a = Math.floor(rand() * 100);
        const b = Math.floor(rand() * 100);
        key = `${a}+${b}`;
        example = { prompt: `Add: ${a}+${b}=`, response: String(a + b) };
        break;
      }
      case 'copying': {
        const words = pickWords(sources.words, 2 + Math.floor(rand() * 3), rand).join(' ');
        key = words;
        example = { prompt: `Copy: ${words} ->`, response: ` ${words}` };
        break;
      }
      case 'capitalisation': {
        const [word] = pickWords(sources.words, 1, rand);
        key = word!;
        example = { prompt: `Upper: ${word} ->`, response: ` ${word!.toUpperCase()}` };
        break;
      }
      case 'definitions': {
        const d = sources.definitions[Math.floor(rand() * sources.definitions.length)]!;
        return { prompt: `Define ${d.word}:`, response: ` ${d.definition}` };
      }
    }
    if (heldOut(`${skill}:${key}`) === (split === 'eval')) return example;
  }
}

export const SKILLS: readonly Skill[] = ['arithmetic', 'copying', 'capitalisation', 'definitions'];

/**
 * A retention suite: `count` distinct held-out cases of one skill (for definitions, distinct
 * words), deterministic for the seed.
 *
 * @example
 * retentionSuite('arithmetic', sources, 100)[0]; // { id: 'arithmetic-0', input: 'Add: 3+90=', expected: '93', ... }
 */
export function retentionSuite(
  skill: Skill,
  sources: SkillSources,
  count: number,
  seed = 7,
): EvalCase[] {
  const rand = mulberry32(seed);
  const seen = new Set<string>();
  const cases: EvalCase[] = [];
  for (let tries = 0; cases.length < count && tries < count * 100; tries++) {
    const ex = skillExample(skill, sources, rand, 'eval');
    if (seen.has(ex.prompt)) continue;
    seen.add(ex.prompt);
    cases.push({
      id: `${skill}-${cases.length}`,
      input: ex.prompt,
      expected: ex.response.trim(),
      metadata: { skill },
    });
  }
  return cases;
}
