import type { DatasetRow } from '../../sdk/index.ts';

export interface PreferencePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/**
 * Preference rows as pairs: a pair stays a pair; a ranked list (`responses`, best first) becomes
 * every ordered pair of it, so a ranking of k responses gives k(k-1)/2 comparisons.
 *
 * @example
 * preferencePairs([{ prompt: 'p', responses: ['a', 'b', 'c'] }]).length; // 3: a>b, a>c, b>c
 */
export function preferencePairs(rows: DatasetRow[]): PreferencePair[] {
  return rows.flatMap((row) => {
    const { prompt, chosen, rejected, responses } = row as Partial<PreferencePair> & {
      prompt: string;
      responses?: string[];
    };
    if (!responses) return [{ prompt, chosen: chosen!, rejected: rejected! }];
    return responses.flatMap((better, i) =>
      responses.slice(i + 1).map((worse) => ({ prompt, chosen: better, rejected: worse })),
    );
  });
}
