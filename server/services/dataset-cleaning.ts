import { createHash } from 'node:crypto';
import type { CleaningReport } from '../schemas/datasets.ts';
import { NEAR_DUPLICATE_THRESHOLD, NearDuplicateIndex } from './dataset-near-duplicates.ts';

/** How many line numbers each finding lists; the counts are always complete. */
export const REPORT_LIST_CAP = 100;
// Iglewicz & Hoaglin's modified z-score cut-off: |0.6745 (x - median) / MAD| > 3.5.
const OUTLIER_Z = 3.5;

/** Whitespace runs become one space and the ends are trimmed, per field; NFC so "é" is one form. */
const normalise = (s: string) => s.normalize('NFC').replace(/\s+/g, ' ').trim();

function capped<T>(items: T[]) {
  return { items: items.slice(0, REPORT_LIST_CAP), truncated: items.length > REPORT_LIST_CAP };
}

function median(sorted: Float64Array): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/**
 * Builds a dataset version's cleaning report from rows fed one at a time while the upload
 * streams. Nothing is kept per row but a hash, a length and a 128-byte sketch.
 *
 * - empty: every text field is blank after trimming.
 * - exact duplicate: the same fields as an earlier row after whitespace normalisation (runs of
 *   whitespace → one space, trimmed, Unicode NFC). Case and punctuation still count.
 * - near duplicate: not an exact duplicate, but estimated Jaccard similarity ≥ 0.8 of character
 *   5-gram sets with an earlier row (see dataset-near-duplicates.ts for the method).
 * - length outlier: total characters of the text fields, on a log scale (lengths are skewed: a
 *   long tail of long answers is normal), with a modified z-score |0.6745 (x − median) / MAD| >
 *   3.5. The median and MAD resist the outliers themselves, unlike mean ± k·sd.
 *   Empty rows and duplicates are left out of these statistics, being reported already.
 *
 * @example
 * const cleaning = new CleaningReporter();
 * cleaning.add(1, ['What is 2+2?', '4']);
 * const report = cleaning.report();
 */
export class CleaningReporter {
  private rows = 0;
  private readonly empty: number[] = [];
  private readonly firstLineOf = new Map<string, number>();
  private readonly exact: { line: number; duplicateOf: number }[] = [];
  private readonly near = new NearDuplicateIndex();
  private nearLines: number[] = [];
  private lengths: number[] = [];

  add(line: number, fields: string[]): void {
    this.rows++;
    const normalised = fields.map(normalise);
    if (normalised.every((f) => f === '')) {
      this.empty.push(line);
      return;
    }
    // Fields are joined with a separator no text holds, so ("ab", "c") and ("a", "bc") differ.
    const joined = normalised.join('\u0000');
    // A 128-bit digest as the key keeps memory per row flat however long the row is.
    const key = createHash('md5').update(joined).digest('base64');
    const first = this.firstLineOf.get(key);
    if (first !== undefined) {
      this.exact.push({ line, duplicateOf: first });
      return;
    }
    this.firstLineOf.set(key, line);
    this.near.add(joined.toLowerCase());
    this.nearLines.push(line);
    this.lengths.push(normalised.reduce((n, f) => n + f.length, 0));
  }

  report(): CleaningReport {
    const near = this.near.find(NEAR_DUPLICATE_THRESHOLD).map((d) => ({
      line: this.nearLines[d.row]!,
      duplicateOf: this.nearLines[d.of]!,
      similarity: Math.round(d.similarity * 1000) / 1000,
    }));
    const outliers = this.lengthOutliers();
    const empty = capped(this.empty);
    const exact = capped(this.exact);
    const nearList = capped(near);
    const outlierList = capped(outliers.rows);
    return {
      rows: this.rows,
      empty: { count: this.empty.length, lines: empty.items, truncated: empty.truncated },
      exactDuplicates: {
        count: this.exact.length,
        rows: exact.items,
        truncated: exact.truncated,
      },
      nearDuplicates: {
        count: near.length,
        threshold: NEAR_DUPLICATE_THRESHOLD,
        method: 'MinHash (one-permutation, 64 bins) + LSH (16 bands x 4) over character 5-grams',
        rows: nearList.items,
        truncated: nearList.truncated,
      },
      lengthOutliers: {
        count: outliers.rows.length,
        rule: `|0.6745 (ln(1 + chars) - median) / MAD| > ${OUTLIER_Z}`,
        medianChars: outliers.medianChars,
        lowChars: outliers.lowChars,
        highChars: outliers.highChars,
        rows: outlierList.items,
        truncated: outlierList.truncated,
      },
    };
  }

  private lengthOutliers() {
    const logs = Float64Array.from(this.lengths, (n) => Math.log1p(n));
    const sorted = logs.slice().sort();
    if (sorted.length === 0) {
      return { rows: [], medianChars: 0, lowChars: null, highChars: null };
    }
    const mid = median(sorted);
    const mad = median(sorted.map((x) => Math.abs(x - mid)).sort());
    const medianChars = Math.round(Math.expm1(mid));
    // MAD 0: at least half the rows have the same length, and any other length would score an
    // infinite z. Calling nothing an outlier is the honest answer there.
    if (mad === 0) return { rows: [], medianChars, lowChars: null, highChars: null };
    const spread = (OUTLIER_Z * mad) / 0.6745;
    const low = mid - spread;
    const high = mid + spread;
    const rows: CleaningReport['lengthOutliers']['rows'] = [];
    logs.forEach((x, i) => {
      if (x < low || x > high) {
        rows.push({
          line: this.nearLines[i]!,
          chars: this.lengths[i]!,
          side: x < low ? 'short' : 'long',
        });
      }
    });
    return {
      rows,
      medianChars,
      // Integer bounds a reader can check by hand: outliers are < lowChars or > highChars.
      lowChars: low <= 0 ? null : Math.ceil(Math.expm1(low)),
      highChars: Math.floor(Math.expm1(high)),
    };
  }
}
