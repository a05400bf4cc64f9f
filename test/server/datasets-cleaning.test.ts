import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { CleaningReporter } from '../../server/services/dataset-cleaning.ts';
import { NearDuplicateIndex, sketch } from '../../server/services/dataset-near-duplicates.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

/** A deterministic stream of made-up words, so unrelated rows share almost no 5-grams. */
function wordSource(seed: number) {
  let s = seed;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff;
  const vocabulary = Array.from({ length: 3000 }, () =>
    Array.from({ length: 3 + Math.floor(next() * 6) }, () =>
      String.fromCharCode(97 + Math.floor(next() * 26)),
    ).join(''),
  );
  return (count: number) =>
    Array.from({ length: count }, () => vocabulary[Math.floor(next() * vocabulary.length)]).join(
      ' ',
    );
}

describe('near-duplicate index', () => {
  it('gives equal sketches for equal shingle sets and tells similar from unrelated text', () => {
    const words = wordSource(7);
    const a = words(80);
    const edited = a.replace(/^\S+/, 'changed');
    const index = new NearDuplicateIndex();
    index.add(a);
    index.add(edited);
    index.add(words(80));
    expect(sketch(a)).toEqual(sketch(a));
    expect(index.similarity(0, 1)).toBeGreaterThan(0.85);
    expect(index.similarity(0, 2)).toBeLessThan(0.2);
    expect(index.find()).toEqual([{ row: 1, of: 0, similarity: index.similarity(0, 1) }]);
  });

  it('finds planted near-duplicates among 100k rows in linear-ish time', () => {
    const words = wordSource(11);
    const index = new NearDuplicateIndex();
    const rows: string[] = [];
    const planted = new Map<number, number>();
    for (let i = 0; i < 100_000; i++) {
      if (i % 1000 === 999) {
        // A copy of a row 500 back with two words swapped for new ones: Jaccard ≈ 0.85-0.9.
        const words2 = rows[i - 500]!.split(' ');
        words2[3] = 'qqqq';
        words2[30] = 'zzzz';
        rows.push(words2.join(' '));
        planted.set(i, i - 500);
      } else rows.push(words(50));
      index.add(rows[i]!);
    }
    const started = performance.now();
    const found = index.find();
    const ms = performance.now() - started;
    // An estimate from 64 bins: a planted pair (true Jaccard 0.88-0.91) can dip below 0.8 now and
    // then, but nothing unplanted may be reported.
    for (const d of found) expect(planted.get(d.row)).toBe(d.of);
    expect(found.length).toBeGreaterThanOrEqual(97);
    // Sorting 16 x 100k keys; a quadratic pass over 5·10⁹ pairs would take minutes.
    expect(ms).toBeLessThan(10_000);
  });
});

describe('cleaning report', () => {
  it('counts empties, exact and near duplicates, and length outliers with their lines', () => {
    const words = wordSource(3);
    const report = new CleaningReporter();
    for (let line = 1; line <= 40; line++) report.add(line, [words(12), words(12)]);
    report.add(41, ['  ', '\n\t']);
    report.add(42, ['', '']);
    const original = [words(12), words(12)];
    report.add(43, original);
    report.add(44, [` ${original[0]!.replace(/ /g, '   ')} `, original[1]!.replace(/ /g, '\n')]);
    report.add(45, [original[0]!.replace(/^\S+/, 'different'), original[1]!]);
    report.add(46, ['ok', 'no']);
    report.add(47, [words(400), words(400)]);
    // The same words split differently between fields: not an exact duplicate, but a near one.
    report.add(48, [`${original[0]} ${original[1]}`, '']);

    const r = report.report();
    expect(r.rows).toBe(48);
    expect(r.empty).toEqual({ count: 2, lines: [41, 42], truncated: false });
    expect(r.exactDuplicates).toEqual({
      count: 1,
      rows: [{ line: 44, duplicateOf: 43 }],
      truncated: false,
    });
    expect(r.nearDuplicates.rows).toEqual([
      { line: 45, duplicateOf: 43, similarity: expect.any(Number) },
      { line: 48, duplicateOf: 43, similarity: expect.any(Number) },
    ]);
    expect(r.nearDuplicates.count).toBe(2);
    for (const d of r.nearDuplicates.rows) expect(d.similarity).toBeGreaterThanOrEqual(0.8);
    expect(r.lengthOutliers.rows).toEqual([
      { line: 46, chars: 4, side: 'short' },
      { line: 47, chars: expect.any(Number), side: 'long' },
    ]);
    expect(r.lengthOutliers.lowChars).toBeGreaterThan(4);
    expect(r.lengthOutliers.highChars).toBeLessThan(r.lengthOutliers.rows[1]!.chars);
  });

  it('caps each list at 100 lines but keeps full counts', () => {
    const report = new CleaningReporter();
    for (let line = 1; line <= 250; line++) report.add(line, ['same text']);
    const r = report.report();
    expect(r.exactDuplicates.count).toBe(249);
    expect(r.exactDuplicates.rows).toHaveLength(100);
    expect(r.exactDuplicates.truncated).toBe(true);
    expect(r.lengthOutliers.count).toBe(0);
  });
});

describe('cleaning report over HTTP', () => {
  let database: TestDatabase;
  let t: Awaited<ReturnType<typeof testApp>>;
  let dataDir: string;
  beforeAll(async () => {
    database = await createTestDatabase();
    dataDir = path.resolve(`.tmp/datasets-cleaning-${database.name}`);
    t = await testApp(database, { HELDOUT_DATA_DIR: dataDir });
    await t.call('POST', '/api/v1/projects', { name: 'clean' });
  });
  afterAll(async () => {
    await database.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('is stored with the version and served with it', async () => {
    const words = wordSource(5);
    const rows = Array.from({ length: 30 }, () => ({ prompt: words(10), response: words(15) }));
    rows.push({ prompt: ' ', response: '' }); // line 31: empty
    rows.push({ prompt: rows[0]!.prompt, response: `  ${rows[0]!.response}` }); // 32: exact dup of 1
    const near = rows[1]!.response.split(' ');
    near[0] = 'tweaked';
    rows.push({ prompt: rows[1]!.prompt, response: near.join(' ') }); // 33: near dup of 2
    rows.push({ prompt: 'Hi', response: 'Yo' }); // 34: short outlier
    const body = rows.map((r) => JSON.stringify(r)).join('\n');
    const res = await t.app.request('/api/v1/projects/clean/datasets/chat/versions?kind=sft', {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/x-ndjson' },
    });
    expect(res.status).toBe(201);
    const fetched = await t.call('GET', '/api/v1/projects/clean/datasets/chat/versions/1');
    const report = fetched.json.cleaningReport;
    expect(report).toEqual(((await res.json()) as { cleaningReport: unknown }).cleaningReport);
    expect(report.rows).toBe(34);
    expect(report.empty.lines).toEqual([31]);
    expect(report.exactDuplicates.rows).toEqual([{ line: 32, duplicateOf: 1 }]);
    expect(report.nearDuplicates.rows).toMatchObject([{ line: 33, duplicateOf: 2 }]);
    expect(report.lengthOutliers.rows).toEqual([{ line: 34, chars: 4, side: 'short' }]);
    expect(report.lengthOutliers.rule).toMatch(/MAD/);
  });
});
