import PgBoss from 'pg-boss';
import type { Sql } from '../db/client.ts';

export const TRAIN_QUEUE = 'train';

export interface QueueJob {
  /** The pg-boss job id, which is also our `jobs.id`. */
  id: string;
  /** 0 on the first attempt. */
  retryCount: number;
}

// node-postgres (pg-boss's own driver) sends undefined as NULL and plain objects as JSON;
// postgres.js refuses the first and needs the second as text.
const asParameter = (v: unknown) =>
  v === undefined
    ? null
    : v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
      ? JSON.stringify(v)
      : v;

const bossOn = (sql: Sql, extra: Partial<PgBoss.ConstructorOptions> = {}) => {
  const boss = new PgBoss({
    db: {
      executeSql: async (text: string, values?: unknown[]) => ({
        rows: await sql.unsafe(text, (values ?? []).map(asParameter) as never[]),
      }),
    },
    schema: 'pgboss',
    schedule: false,
    ...extra,
  });
  boss.on('error', () => {});
  return boss;
};

/** Creates or upgrades pg-boss's schema; run under the migration lock, like our migrations. */
export async function installJobQueue(sql: Sql): Promise<void> {
  const boss = bossOn(sql, { supervise: false });
  await boss.start();
  await boss.stop({ graceful: false, wait: true });
}

export interface QueueOptions {
  /** Attempts after the first; a worker lost mid-run counts as a failed attempt. */
  retryLimit?: number;
  /** Seconds before the first retry (doubled, with jitter, for each further one). */
  retryDelay?: number;
  /**
   * Runs pg-boss's maintenance (archiving, its own 23-hour expiry) in this process; `serve` does,
   * tests and short-lived tools do not, so they hold no timers.
   */
  supervise?: boolean;
}

/**
 * The Postgres job queue (pg-boss) that training jobs wait in. It shares the server's connection
 * pool: pg-boss only needs `executeSql`, and one pool means one set of credentials and one place
 * the embedded database is reached from. Claiming uses pg-boss's `FOR UPDATE SKIP LOCKED` fetch,
 * so any number of servers can hand jobs to any number of workers.
 * It starts on first use, so an app that never queues a job never touches pg-boss.
 *
 * @example
 * const queue = createJobQueue(database.sql);
 * await queue.enqueue(job.id);
 * const claimed = await queue.claim();
 */
export function createJobQueue(sql: Sql, options: QueueOptions = {}) {
  // A job lost with its worker is found by our heartbeat reaper long before pg-boss's own expiry
  // (its ceiling is 24 hours) would notice.
  const boss = bossOn(sql, { migrate: false, supervise: options.supervise ?? false });
  let ready: Promise<void> | undefined;
  const started = () =>
    (ready ??= (async () => {
      await boss.start();
      await boss.createQueue(TRAIN_QUEUE, {
        name: TRAIN_QUEUE,
        retryLimit: options.retryLimit ?? 3,
        retryDelay: options.retryDelay ?? 2,
        retryBackoff: true,
        expireInSeconds: 23 * 3600,
      });
    })());

  return {
    /** Idempotent: the queue's job id is ours, so re-sending a job that is already there is a no-op. */
    async enqueue(id: string): Promise<void> {
      await started();
      await boss.send(TRAIN_QUEUE, { jobId: id }, { id });
    },

    /** The oldest waiting job, now active, or undefined when none is waiting. */
    async claim(): Promise<QueueJob | undefined> {
      await started();
      const [job] = await boss.fetch(TRAIN_QUEUE, { batchSize: 1, includeMetadata: true });
      return job ? { id: job.id, retryCount: job.retryCount } : undefined;
    },

    async complete(id: string, output: object): Promise<void> {
      await started();
      await boss.complete(TRAIN_QUEUE, id, output);
    },

    /** A failed attempt: pg-boss retries it after the delay while attempts remain. */
    async fail(id: string, error: string): Promise<'retry' | 'failed'> {
      await started();
      await boss.fail(TRAIN_QUEUE, id, { message: error });
      const job = await boss.getJobById(TRAIN_QUEUE, id);
      return job?.state === 'retry' ? 'retry' : 'failed';
    },

    /** Never runs (again): cancelled runs and failures no retry can mend. */
    async cancel(id: string): Promise<void> {
      await started();
      await boss.cancel(TRAIN_QUEUE, id);
    },

    async state(id: string): Promise<string | undefined> {
      await started();
      return (await boss.getJobById(TRAIN_QUEUE, id))?.state;
    },

    async stop(): Promise<void> {
      if (ready) await boss.stop({ graceful: false, wait: true });
    },
  };
}

export type JobQueue = ReturnType<typeof createJobQueue>;
