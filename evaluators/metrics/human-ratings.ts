/** Aggregation of human ratings on a numeric scale (e.g. Likert 1-5), several raters per item. */
import { mean, standardError } from '../stats/descriptive.ts';

/** One rating of one item by one rater. */
export interface Rating {
  itemId: string;
  raterId: string;
  score: number;
}

/** Per-item means and the overall mean of item means, with rater agreement. */
export interface RatingSummary {
  /** Mean over items of each item's mean rating: every item weighs the same however many raters it had. */
  mean: number;
  standardError: number;
  items: number;
  ratings: number;
  perItem: Record<string, number>;
  /**
   * Share of rater pairs on the same item that gave the same score (raw pairwise agreement), NaN
   * when no item has two ratings.
   */
  pairwiseAgreement: number;
}

/**
 * Aggregates ratings.
 *
 * @example
 * aggregateRatings([
 *   { itemId: 'a', raterId: 'r1', score: 4 },
 *   { itemId: 'a', raterId: 'r2', score: 4 },
 *   { itemId: 'b', raterId: 'r1', score: 2 },
 * ]).mean // 3
 */
export function aggregateRatings(ratings: readonly Rating[]): RatingSummary {
  const byItem = new Map<string, number[]>();
  for (const r of ratings) {
    if (!Number.isFinite(r.score))
      throw new Error(`rating of ${r.itemId} by ${r.raterId} is not a number`);
    byItem.set(r.itemId, [...(byItem.get(r.itemId) ?? []), r.score]);
  }
  const perItem: Record<string, number> = {};
  let agree = 0;
  let pairs = 0;
  for (const [id, scores] of byItem) {
    perItem[id] = mean(scores);
    for (let i = 0; i < scores.length; i++) {
      for (let j = i + 1; j < scores.length; j++) {
        pairs++;
        if (scores[i] === scores[j]) agree++;
      }
    }
  }
  const itemMeans = Object.values(perItem);
  return {
    mean: mean(itemMeans),
    standardError: standardError(itemMeans),
    items: itemMeans.length,
    ratings: ratings.length,
    perItem,
    pairwiseAgreement: pairs === 0 ? Number.NaN : agree / pairs,
  };
}
