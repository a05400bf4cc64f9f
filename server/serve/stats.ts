import { desc, eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.ts';
import { servingRequests } from '../db/schema/index.ts';

export type ServedRequest = typeof servingRequests.$inferInsert;

/**
 * Collects one row per served request and writes them in batches after the answers went out: a
 * request never waits for its own statistics, and a database hiccup costs figures, not answers.
 *
 * @example
 * const recorder = new ServingRecorder(db, logger);
 * recorder.record({ modelVersionId, endpoint: 'completions', ... });
 * await recorder.flush(); // at shutdown, or in a test
 */
export class ServingRecorder {
  #pending: ServedRequest[] = [];
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly delayMs = 200,
  ) {}

  record(row: ServedRequest) {
    this.#pending.push(row);
    this.#timer ??= setTimeout(() => void this.flush(), this.delayMs).unref();
  }

  /** Writes what is pending; resolves when everything recorded so far is written (or dropped). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const rows = this.#pending.splice(0);
    this.#writing = this.#writing.then(async () => {
      if (!rows.length) return;
      try {
        await this.db.insert(servingRequests).values(rows);
      } catch (err) {
        this.logger.warn({ err, rows: rows.length }, 'serving statistics were not stored');
      }
    });
    return this.#writing;
  }
}

/** Serving figures of one model version over its latest requests. */
export interface ServingStats {
  /** Requests in the window, and how they ended. */
  requests: number;
  outcomes: Record<string, number>;
  /** The window: the oldest and newest request in it (ISO), null when there were none. */
  since: string | null;
  until: string | null;
  /** From the moment a request had a generation slot (its wait for one is `queueMs`). */
  latencyMs: { p50: number; p95: number; p99: number } | null;
  firstTokenMs: { p50: number; p95: number } | null;
  queueMs: { p50: number; p95: number } | null;
  /**
   * A request's own generation speed: its completion tokens over its generation time, pooled
   * over the window. Requests generating together share the CPU, so this falls as they overlap.
   */
  tokensPerSecond: number | null;
  promptTokens: number;
  completionTokens: number;
}

const round = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);

/**
 * The latency and throughput of a version's latest `last` served requests, exact percentiles.
 * Requests the client cancelled or that failed count in `outcomes` but not in the figures.
 *
 * @example
 * const stats = await servingStats(db, version.id, 1000);
 */
export async function servingStats(db: Db, modelVersionId: number, last: number) {
  const window = db
    .select()
    .from(servingRequests)
    .where(eq(servingRequests.modelVersionId, modelVersionId))
    .orderBy(desc(servingRequests.createdAt))
    .limit(last)
    .as('w');
  const ok = sql`${window.outcome} in ('stop', 'length')`;
  const pct = (q: number, col: unknown) =>
    sql<number | null>`percentile_cont(${q}) within group (order by ${col}) filter (where ${ok})`;
  const [row] = await db
    .select({
      requests: sql<number>`count(*)::int`,
      since: sql<string | Date | null>`min(${window.createdAt})`,
      until: sql<string | Date | null>`max(${window.createdAt})`,
      p50: pct(0.5, window.totalMs),
      p95: pct(0.95, window.totalMs),
      p99: pct(0.99, window.totalMs),
      first50: pct(0.5, window.firstTokenMs),
      first95: pct(0.95, window.firstTokenMs),
      queue50: pct(0.5, window.queueMs),
      queue95: pct(0.95, window.queueMs),
      generated: sql<number | null>`sum(${window.completionTokens}) filter (where ${ok})`,
      seconds: sql<number | null>`sum(${window.totalMs}) filter (where ${ok}) / 1000`,
      promptTokens: sql<number>`coalesce(sum(${window.promptTokens}), 0)::int`,
      completionTokens: sql<number>`coalesce(sum(${window.completionTokens}), 0)::int`,
    })
    .from(window);
  const outcomes = await db
    .select({ outcome: window.outcome, n: sql<number>`count(*)::int` })
    .from(window)
    .groupBy(window.outcome);
  const r = row!;
  const iso = (v: string | Date | null) => (v === null ? null : new Date(v).toISOString());
  const stats: ServingStats = {
    requests: r.requests,
    outcomes: Object.fromEntries(outcomes.map((o) => [o.outcome, o.n])),
    since: iso(r.since),
    until: iso(r.until),
    latencyMs:
      r.p50 === null ? null : { p50: round(r.p50)!, p95: round(r.p95)!, p99: round(r.p99)! },
    firstTokenMs: r.first50 === null ? null : { p50: round(r.first50)!, p95: round(r.first95)! },
    queueMs: r.queue50 === null ? null : { p50: round(r.queue50)!, p95: round(r.queue95)! },
    tokensPerSecond:
      r.seconds && r.generated !== null ? round(Number(r.generated) / Number(r.seconds)) : null,
    promptTokens: r.promptTokens,
    completionTokens: r.completionTokens,
  };
  return stats;
}
