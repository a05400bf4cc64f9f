/**
 * Bytes per stored metric point, indexes included: `npm run bench -- storage [points]`.
 *
 * Points arrive the way trainers log them: many runs at once, each sending batches of several
 * keys over consecutive steps, so the (series, step) index sees interleaved inserts, not one
 * sorted load. MLflow's Postgres schema spends about 300 bytes a point.
 */
import postgres from 'postgres';
import { benchDatabase } from './_database.ts';

export default async function storage(args: string[]) {
  const target = Number(args[0] ?? 1_000_000);
  const runs = 50;
  const keys = 10;
  const stepsPerBatch = 100; // 10 keys x 100 steps = 1,000 points per request
  const database = await benchDatabase();
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    const [project] = await sql<
      { id: number }[]
    >`insert into projects (name) values ('bench') returning id`;
    const series: number[][] = [];
    for (let r = 0; r < runs; r++) {
      const [run] = await sql<{ id: string }[]>`
        insert into runs (project_id, name, status) values (${project!.id}, ${`run-${r}`}, 'running') returning id`;
      const ids: number[] = [];
      for (let k = 0; k < keys; k++) {
        const [s] = await sql<{ id: number }[]>`
          insert into metric_series (run_id, key, last_step, last_value, last_wall_time, min_value, max_value)
          values (${run!.id}, ${`train/metric_${k}`}, 0, 0, 0, 0, 0) returning id`;
        ids.push(s!.id);
      }
      series.push(ids);
    }
    const steps = Math.ceil(target / (runs * keys));
    let inserted = 0;
    const wallStart = Date.now();
    for (let step0 = 0; step0 < steps; step0 += stepsPerBatch) {
      for (let r = 0; r < runs; r++) {
        const seriesIds: number[] = [];
        const stepCol: number[] = [];
        const values: number[] = [];
        const walls: number[] = [];
        for (let step = step0; step < Math.min(steps, step0 + stepsPerBatch); step++) {
          for (const id of series[r]!) {
            seriesIds.push(id);
            stepCol.push(step);
            values.push(Math.exp(-step / 1000) + Math.random() * 0.01);
            walls.push(wallStart + step * 250);
          }
        }
        await sql`
          insert into metric_points (series_id, step, value, wall_time)
          select * from unnest(${sql.array(seriesIds)}::int4[], ${sql.array(stepCol)}::int8[],
                               ${sql.array(values)}::float8[], ${sql.array(walls)}::int8[])
          on conflict (series_id, step) do update set value = excluded.value, wall_time = excluded.wall_time`;
        inserted += seriesIds.length;
      }
    }
    await sql`vacuum analyze metric_points`;
    const [size] = await sql<{ heap: string; indexes: string; total: string }[]>`
      select pg_relation_size('metric_points') as heap,
             pg_indexes_size('metric_points') as indexes,
             pg_total_relation_size('metric_points') as total`;
    const perPoint = (bytes: string) => Math.round((Number(bytes) / inserted) * 10) / 10;
    return {
      database: database.server,
      points: inserted,
      bytesPerPoint: {
        total: perPoint(size!.total),
        heap: perPoint(size!.heap),
        indexes: perPoint(size!.indexes),
      },
      target: { totalBytesPerPoint: 100 },
      mlflowBytesPerPoint: 300,
    };
  } finally {
    await sql.end();
    await database.dispose();
  }
}
