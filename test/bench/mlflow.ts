/**
 * Metric ingest through the MLflow adapter against heldout's own API, same server, same shape:
 * `npm run bench -- mlflow [requests]`.
 *
 * The shape of `ingest.ts`: 1,000 points a request (10 keys x 100 steps, MLflow's limit per
 * log-batch), one client, sequential and with 4 requests in flight, the same number of requests.
 * MLflow's side creates its experiment and runs through `/api/2.0/mlflow` and logs through
 * `POST /runs/log-batch` (metrics only, each with a timestamp as MLflow clients send it); the
 * native side through `/api/v1`. Both warm up with 10 requests first.
 */
import { benchDatabase } from './_database.ts';
import { benchServer, summarise, time } from './_server.ts';

const KEYS = 10;
const STEPS = 100;

interface Point {
  key: string;
  step: number;
  value: number;
}

function batch(request: number): Point[] {
  const points: Point[] = [];
  for (let s = 0; s < STEPS; s++) {
    const step = request * STEPS + s;
    for (let k = 0; k < KEYS; k++)
      points.push({ key: `train/metric_${k}`, step, value: Math.exp(-step / 5000) + k });
  }
  return points;
}

/** Sequential and 4-in-flight ingest of `requests` batches, each on a fresh run from `newRun`. */
async function measure(
  requests: number,
  newRun: (name: string) => Promise<string>,
  log: (runId: string, points: Point[]) => Promise<unknown>,
) {
  const seqRun = await newRun('sequential');
  for (let i = 0; i < 10; i++) await log(seqRun, batch(1000 + i)); // warm-up
  const perRequest: number[] = [];
  const seqStart = performance.now();
  for (let i = 0; i < requests; i++) perRequest.push(await time(() => log(seqRun, batch(i))));
  const seqSeconds = (performance.now() - seqStart) / 1000;

  const pipeRun = await newRun('pipelined');
  let next = 0;
  const pipeStart = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < requests) await log(pipeRun, batch(next++));
    }),
  );
  const pipeSeconds = (performance.now() - pipeStart) / 1000;
  const points = requests * KEYS * STEPS;
  return {
    sequential: {
      pointsPerSecond: Math.round(points / seqSeconds),
      request: summarise(perRequest),
    },
    fourInFlight: { pointsPerSecond: Math.round(points / pipeSeconds) },
  };
}

export default async function mlflow(args: string[]) {
  const requests = Number(args[0] ?? 200);
  const database = await benchDatabase();
  const server = await benchServer(database.url);
  const { client } = server;

  const call = async (path: string, body: object) => {
    const res = await fetch(`${server.url}/api/2.0/mlflow${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };

  try {
    await client.projects.create({ name: 'bench-native' });
    const native = await measure(
      requests,
      async (name) => (await client.runs.create('bench-native', { name })).id,
      (runId, points) => client.metrics.log(runId, points),
    );

    const { experiment_id } = (await call('/experiments/create', { name: 'bench-mlflow' })) as {
      experiment_id: string;
    };
    const viaMlflow = await measure(
      requests,
      async (run_name) => {
        const created = (await call('/runs/create', { experiment_id, run_name })) as {
          run: { info: { run_id: string } };
        };
        return created.run.info.run_id;
      },
      (run_id, points) => {
        const timestamp = Date.now();
        return call('/runs/log-batch', {
          run_id,
          metrics: points.map((p) => ({ ...p, timestamp })),
        });
      },
    );

    return {
      database: database.server,
      pointsPerRequest: KEYS * STEPS,
      requests,
      mlflowLogBatch: viaMlflow,
      native,
      mlflowOverNative: {
        sequential:
          Math.round(
            (viaMlflow.sequential.pointsPerSecond / native.sequential.pointsPerSecond) * 100,
          ) / 100,
        fourInFlight:
          Math.round(
            (viaMlflow.fourInFlight.pointsPerSecond / native.fourInFlight.pointsPerSecond) * 100,
          ) / 100,
      },
    };
  } finally {
    await server.stop();
    await database.dispose();
  }
}
