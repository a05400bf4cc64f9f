import { eq, sql as raw } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricPoints, metricSeries, projects, runs } from '../../server/db/schema/index.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

async function newSeries(key = 'loss') {
  const { db } = database;
  const [project] = await db
    .insert(projects)
    .values({ name: `p-${Math.random()}` })
    .returning();
  const [run] = await db.insert(runs).values({ projectId: project!.id, name: 'r' }).returning();
  const [series] = await db
    .insert(metricSeries)
    .values({
      runId: run!.id,
      key,
      lastStep: 0,
      lastValue: 0,
      lastWallTime: 0,
      minValue: 0,
      maxValue: 0,
    })
    .returning();
  return { runId: run!.id, seriesId: series!.id };
}

function logPoints(points: (typeof metricPoints.$inferInsert)[]) {
  return database.db
    .insert(metricPoints)
    .values(points)
    .onConflictDoUpdate({
      target: [metricPoints.seriesId, metricPoints.step],
      set: { value: raw`excluded.value`, wallTime: raw`excluded.wall_time` },
    });
}

describe('metric_points', () => {
  it('makes re-logging a (series, step) idempotent, last write wins', async () => {
    const { seriesId } = await newSeries();
    await logPoints([
      { seriesId, step: 0, value: 2.5, wallTime: 1000 },
      { seriesId, step: 1, value: 2.0, wallTime: 1001 },
    ]);
    await logPoints([{ seriesId, step: 1, value: 1.5, wallTime: 1002 }]);
    await logPoints([{ seriesId, step: 1, value: 1.5, wallTime: 1002 }]);
    const rows = await database.db
      .select()
      .from(metricPoints)
      .where(eq(metricPoints.seriesId, seriesId))
      .orderBy(metricPoints.step);
    expect(rows).toEqual([
      { seriesId, step: 0, value: 2.5, wallTime: 1000 },
      { seriesId, step: 1, value: 1.5, wallTime: 1002 },
    ]);
  });

  it('stores NaN, infinities and 64-bit steps exactly', async () => {
    const { seriesId } = await newSeries();
    const big = 2 ** 53 - 1;
    await logPoints([
      { seriesId, step: 0, value: Number.NaN, wallTime: 1 },
      { seriesId, step: 1, value: Number.POSITIVE_INFINITY, wallTime: 1 },
      { seriesId, step: 2, value: Number.NEGATIVE_INFINITY, wallTime: 1 },
      { seriesId, step: big, value: -0.1, wallTime: 1_790_000_000_000 },
    ]);
    const rows = await database.db
      .select({ step: metricPoints.step, value: metricPoints.value })
      .from(metricPoints)
      .where(eq(metricPoints.seriesId, seriesId))
      .orderBy(metricPoints.step);
    expect(rows).toEqual([
      { step: 0, value: Number.NaN },
      { step: 1, value: Number.POSITIVE_INFINITY },
      { step: 2, value: Number.NEGATIVE_INFINITY },
      { step: big, value: -0.1 },
    ]);
  });

  it('removes a run’s points with the run, though points carry no foreign key', async () => {
    const kept = await newSeries();
    const doomed = await newSeries();
    await logPoints([
      { seriesId: kept.seriesId, step: 0, value: 1, wallTime: 1 },
      { seriesId: doomed.seriesId, step: 0, value: 1, wallTime: 1 },
    ]);
    await database.db.delete(runs).where(eq(runs.id, doomed.runId));
    const left = await database.sql<{ series_id: number }[]>`
      select series_id from metric_points where series_id in (${kept.seriesId}, ${doomed.seriesId})`;
    expect(left).toEqual([{ series_id: kept.seriesId }]);
  });
});
