/**
 * The server at saturation, all on this machine:
 * `npm run bench -- load [seconds] [connections] [ingest seconds]`.
 * autocannon keeps `connections` requests in flight on loopback for `seconds` (default 60) against
 * each of batch ingest (100 points a request, every request new steps), run search over 1,000
 * runs, and a leaderboard of 200 versions x 10 suites. Reported per phase: requests/s, latency
 * p50/p99, errors and non-2xx answers, and the server's resident memory sampled every second,
 * with its growth over the phase's second half (flat memory: a few MB at most). After ingest, the
 * points in the database are counted against the acknowledged requests.
 */
import autocannon from 'autocannon';
import fs from 'node:fs';
import postgres from 'postgres';
import { seedLeaderboard } from '../helpers/leaderboard-seed.ts';
import { benchDatabase } from './_database.ts';
import { benchServer } from './_server.ts';

const POINTS = 100;

/** The server's resident set in MB, from /proc (Linux). */
const rssMb = (pid: number) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

async function phase(
  pid: number,
  seconds: number,
  connections: number,
  opts: Omit<autocannon.Options, 'duration' | 'connections'>,
) {
  const rss: number[] = [rssMb(pid)];
  const sampler = setInterval(() => rss.push(rssMb(pid)), 1000);
  const result = await autocannon({ ...opts, duration: seconds, connections, timeout: 30 });
  clearInterval(sampler);
  rss.push(rssMb(pid));
  const half = rss.slice(Math.floor(rss.length / 2));
  return {
    requestsPerSecond: Math.round(result.requests.average),
    requests: result.requests.total,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    rssMb: {
      start: rss[0],
      end: rss.at(-1),
      max: Math.max(...rss),
      secondHalfGrowth: half.at(-1)! - half[0]!,
      every10s: rss.filter((_, i) => i % 10 === 0),
    },
  };
}

export default async function load(args: string[]) {
  const seconds = Number(args[0] ?? 60);
  const connections = Number(args[1] ?? 16);
  // A longer ingest phase shows where the heap settles: V8 grows it lazily while memory is free.
  const ingestSeconds = Number(args[2] ?? seconds);
  const database = await benchDatabase();
  const server = await benchServer(database.url);
  const { client, token, url, pid } = server;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  try {
    const project = await client.projects.create({ name: 'load' });
    const ingestRun = await client.runs.create('load', { name: 'ingest' });
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    await sql`
      with r as (
        insert into runs (project_id, name, status)
        select ${project.id}, 'sweep-' || g, 'finished' from generate_series(1, 1000) g
        returning id, name)
      insert into metric_series (run_id, key, last_step, last_value, last_wall_time, min_value, max_value)
      select id, 'eval/acc', 100, v, 0, v, v from (select id, (hashtext(name) & 1023) / 1023.0 as v from r) x`;
    await seedLeaderboard(database.url, project.id, 200, 10);
    await sql`analyze`;

    let batch = 0;
    const ingest = await phase(pid, ingestSeconds, connections, {
      url,
      requests: [
        {
          method: 'POST',
          path: `/api/v1/runs/${ingestRun.id}/metrics`,
          headers,
          // Every request logs new steps, so each acknowledged batch is countable afterwards.
          setupRequest: (req) => {
            const first = batch++ * POINTS;
            const metrics = Array.from({ length: POINTS }, (_, i) => ({
              key: 'train/loss',
              step: first + i,
              value: 1 / (first + i + 1),
            }));
            return { ...req, body: JSON.stringify({ metrics }) };
          },
        },
      ],
    });
    const [stored] = await sql<{ n: number }[]>`
      select count(*)::int as n from metric_points p join metric_series s on s.id = p.series_id
      where s.run_id = ${ingestRun.id}`;
    const acknowledged = ingest.requests - ingest.non2xx - ingest.errors;

    const search = await phase(pid, seconds, connections, {
      url: `${url}/api/v1/projects/load/runs/search`,
      method: 'POST',
      headers,
      body: JSON.stringify({
        metrics: [{ key: 'eval/acc', op: '>', value: 0.2 }],
        orderBy: { field: 'metric', key: 'eval/acc', direction: 'desc' },
        limit: 100,
      }),
    });
    const leaderboard = await phase(pid, seconds, connections, {
      url: `${url}/api/v1/projects/load/leaderboard?limit=50`,
      headers,
    });
    await sql.end();
    return {
      database: database.server,
      seconds,
      connections,
      ingest: {
        ...ingest,
        seconds: ingestSeconds,
        pointsPerSecond: Math.round((ingest.requests / ingestSeconds) * POINTS),
        pointsStored: stored!.n,
        pointsAcknowledged: acknowledged * POINTS,
        // Requests cut off when the phase ended may be stored without being counted as answered,
        // so stored >= acknowledged; the reverse would be lost data.
        pointsLost: Math.max(0, acknowledged * POINTS - stored!.n),
      },
      runSearch1000: search,
      leaderboard200x10: leaderboard,
    };
  } finally {
    await server.stop();
    await database.dispose();
  }
}
