/**
 * The tracking API under load, all on this machine (server, Postgres and load generator):
 * `npm run bench -- ingest`.
 *
 * - batch ingest: one client, 1,000 points (10 keys x 100 steps) per request; sequential, and with
 *   4 requests in flight;
 * - one metric of 100,000 points: full read, and a 1,000-bucket downsample;
 * - search over 1,000 runs filtered on a metric, 100 results.
 * Targets (issue 3): >= 50,000 points/s; < 500 ms; < 100 ms; < 30 ms. MLflow 2.17 on the same
 * machine: about 4,900 points/s, 5.9 s, 3.9 s, 85 ms.
 */
import postgres from 'postgres';
import { benchDatabase } from './_database.ts';
import { benchServer, summarise, time } from './_server.ts';

const KEYS = 10;
const STEPS = 100;

function batch(request: number) {
  const points = [];
  for (let s = 0; s < STEPS; s++) {
    const step = request * STEPS + s;
    for (let k = 0; k < KEYS; k++)
      points.push({ key: `train/metric_${k}`, step, value: Math.exp(-step / 5000) + k });
  }
  return points;
}

export default async function ingest(args: string[]) {
  const requests = Number(args[0] ?? 200);
  const database = await benchDatabase();
  const server = await benchServer(database.url);
  const { client } = server;
  try {
    await client.projects.create({ name: 'bench' });

    // Sequential: one request at a time, each waiting for the previous answer.
    const seqRun = await client.runs.create('bench', { name: 'sequential' });
    for (let i = 0; i < 10; i++) await client.metrics.log(seqRun.id, batch(1000 + i)); // warm-up
    const perRequest: number[] = [];
    const seqStart = performance.now();
    for (let i = 0; i < requests; i++)
      perRequest.push(await time(() => client.metrics.log(seqRun.id, batch(i))));
    const seqSeconds = (performance.now() - seqStart) / 1000;

    // Pipelined: the same client keeps 4 requests in flight.
    const pipeRun = await client.runs.create('bench', { name: 'pipelined' });
    let next = 0;
    const pipeStart = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < requests) await client.metrics.log(pipeRun.id, batch(next++));
      }),
    );
    const pipeSeconds = (performance.now() - pipeStart) / 1000;

    // One metric with 100,000 points.
    const longRun = await client.runs.create('bench', { name: 'long-curve' });
    for (let i = 0; i < 100; i++) {
      await client.metrics.log(
        longRun.id,
        Array.from({ length: 1000 }, (_, s) => ({
          key: 'loss',
          step: i * 1000 + s,
          value: 3 * Math.exp(-(i * 1000 + s) / 30000),
        })),
      );
    }
    // Each measured on its own: interleaved, one would pay for the other's garbage collection.
    const fullRead: number[] = [];
    for (let i = 0; i < 11; i++) {
      fullRead.push(
        await time(async () => {
          const page = await client.metrics.historyPage(longRun.id, 'loss', { limit: 100_000 });
          if (page.steps.length !== 100_000) throw new Error(`read ${page.steps.length} points`);
        }),
      );
    }
    const downsample: number[] = [];
    for (let i = 0; i < 21; i++) {
      downsample.push(
        await time(async () => {
          const b = await client.metrics.downsample(longRun.id, 'loss', 1000);
          if (b.buckets.length !== 1000) throw new Error(`got ${b.buckets.length} buckets`);
        }),
      );
    }

    // 1,000 runs with a latest eval/acc each, inserted directly (setup is not what is measured).
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    await sql`
      with p as (select id from projects where name = 'bench'),
      r as (
        insert into runs (project_id, name, status)
        select p.id, 'sweep-' || g, 'finished' from p, generate_series(1, 1000) g returning id, name)
      insert into metric_series (run_id, key, last_step, last_value, last_wall_time, min_value, max_value)
      select id, 'eval/acc', 100, v, 0, v, v from (select id, (hashtext(name) & 1023) / 1023.0 as v from r) x`;
    await sql`analyze`;
    await sql.end();
    const search: number[] = [];
    for (let i = 0; i < 30; i++) {
      search.push(
        await time(async () => {
          const res = await client.runs.search('bench', {
            metrics: [{ key: 'eval/acc', op: '>', value: 0.2 }],
            orderBy: { field: 'metric', key: 'eval/acc', direction: 'desc' },
            limit: 100,
          });
          if (res.runs.length !== 100) throw new Error(`found ${res.runs.length}`);
        }),
      );
    }
    const searchStats = summarise(search.slice(5));

    const points = requests * KEYS * STEPS;
    return {
      database: database.server,
      ingest: {
        pointsPerRequest: KEYS * STEPS,
        requests,
        sequential: {
          pointsPerSecond: Math.round(points / seqSeconds),
          request: summarise(perRequest),
        },
        fourInFlight: { pointsPerSecond: Math.round(points / pipeSeconds) },
      },
      history100k: {
        fullRead: summarise(fullRead.slice(1)),
        downsample1000: summarise(downsample.slice(1)),
      },
      search1000Runs: searchStats,
      targets: { pointsPerSecond: 50_000, fullReadMs: 500, downsampleMs: 100, searchMs: 30 },
      mlflow: { pointsPerSecond: 4_900, fullReadMs: 5_900, downsampleMs: 3_900, searchMs: 85 },
    };
  } finally {
    await server.stop();
    await database.dispose();
  }
}
