import type postgres from 'postgres';

export const POINTS_PER_BATCH = 1000;

/** What one batch got back; `status` 0 when no HTTP answer came (the server died mid-request). */
export interface BatchResult {
  key: string;
  status: number;
  retryAfter: string | null;
  sentAt: number;
  ms: number;
}

export interface IngestStream {
  results: BatchResult[];
  /** Requests sent and not yet answered (or failed). */
  inFlight(): number;
  acknowledged(): BatchResult[];
  /** Stops sending new batches and waits for the ones in flight. */
  stop(): Promise<void>;
}

/**
 * `clients` loops that each post batch after batch to the run's metric ingest. Every batch has a
 * key of its own, so a count of that series' points says whether the batch is whole, and no batch
 * is retried, so each acknowledgement belongs to exactly one request.
 */
export function streamBatches(opts: {
  url: string;
  token: string;
  runId: string;
  clients: number;
  /** A request left unanswered this long fails the test rather than hanging it. */
  timeoutMs?: number;
}): IngestStream {
  const results: BatchResult[] = [];
  let inFlight = 0;
  let stopped = false;
  const loop = async (client: number) => {
    for (let n = 0; !stopped; n++) {
      const key = `c${client}/b${n}`;
      const metrics = Array.from({ length: POINTS_PER_BATCH }, (_, step) => ({
        key,
        step,
        value: step / 10,
      }));
      const sentAt = Date.now();
      inFlight++;
      let status = 0;
      let retryAfter: string | null = null;
      try {
        const res = await fetch(`${opts.url}/api/v1/runs/${opts.runId}/metrics`, {
          method: 'POST',
          headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ metrics }),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
        });
        await res.arrayBuffer();
        status = res.status;
        retryAfter = res.headers.get('retry-after');
      } catch (err) {
        if ((err as Error).name === 'TimeoutError') throw err;
        // A connection cut by the killed server: no answer, so the batch is unacknowledged.
      } finally {
        inFlight--;
      }
      results.push({ key, status, retryAfter, sentAt, ms: Date.now() - sentAt });
      // A server that is down refuses at once; do not spin on it.
      if (status === 0 || status >= 500) await new Promise((r) => setTimeout(r, 50));
    }
  };
  const loops = Array.from({ length: opts.clients }, (_, i) => loop(i));
  const done = Promise.all(loops);
  // Surfaced by stop(); without this a rejected loop is an unhandled rejection in the meantime.
  done.catch(() => {});
  return {
    results,
    inFlight: () => inFlight,
    acknowledged: () => results.filter((r) => r.status >= 200 && r.status < 300),
    async stop() {
      stopped = true;
      await done;
    },
  };
}

/** Points stored per metric key of the run. */
export async function pointsPerKey(sql: postgres.Sql, runId: string): Promise<Map<string, number>> {
  const rows = await sql<{ key: string; points: number }[]>`
    select s.key, count(p.step)::int as points
    from metric_series s left join metric_points p on p.series_id = s.id
    where s.run_id = ${runId} group by s.key`;
  return new Map(rows.map((r) => [r.key, r.points]));
}

/** Polls until `check` holds, or fails after `ms` naming what it waited for. */
export async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
