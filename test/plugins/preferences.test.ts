import { describe, expect, it } from 'vitest';
import { preferencePairs } from '../../plugins/builtin/shared/preferences.ts';

describe('preference rows as pairs', () => {
  it('keeps pairs and expands a ranking of k responses into its k(k-1)/2 ordered pairs', () => {
    expect(
      preferencePairs([
        { prompt: 'p', chosen: 'yes', rejected: 'no' },
        { prompt: 'q', responses: ['best', 'middle', 'worst'] },
      ]),
    ).toEqual([
      { prompt: 'p', chosen: 'yes', rejected: 'no' },
      { prompt: 'q', chosen: 'best', rejected: 'middle' },
      { prompt: 'q', chosen: 'best', rejected: 'worst' },
      { prompt: 'q', chosen: 'middle', rejected: 'worst' },
    ]);
  });
});
