import { describe, expect, it } from 'vitest';
import { squad } from '../../evaluators/index.ts';
import { normalizeAnswer } from '../../evaluators/metrics/squad.ts';

describe('SQuAD v1.1', () => {
  it('normalises like the official script', () => {
    expect(normalizeAnswer('The  Eiffel Tower!')).toBe('eiffel tower');
    expect(normalizeAnswer('an apple, a pear & the fig')).toBe('apple pear fig');
    // Python's \b is Unicode-aware: "thé" is one word, so its "th" prefix is not an article ...
    expect(normalizeAnswer('thé a café')).toBe('thé café');
    // ... and digits of any script are word characters.
    expect(normalizeAnswer('a٣ the')).toBe('a٣');
    expect(normalizeAnswer('1,000.5 km')).toBe('10005 km');
    expect(normalizeAnswer('')).toBe('');
  });

  it('exact match and F1 take the best ground truth', () => {
    expect(squad.exactMatch('the Eiffel tower', ['Paris', 'Eiffel Tower'])).toBe(1);
    expect(squad.exactMatch('Eiffel', ['Eiffel Tower'])).toBe(0);
    expect(squad.f1('Eiffel', ['the Eiffel Tower'])).toBeCloseTo(2 / 3, 12);
    expect(squad.f1('Denver Broncos', ['Denver Broncos', 'Broncos'])).toBe(1);
    expect(squad.f1('blue blue sky', ['blue sky sky'])).toBeCloseTo(2 / 3, 12);
    expect(squad.f1('nothing', ['else'])).toBe(0);
    expect(squad.f1('', [''])).toBe(0);
    expect(() => squad.f1('x', [])).toThrow();
  });
});
