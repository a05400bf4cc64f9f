import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { spareLostConnections } from './lost-connections.ts';
import * as schema from './schema/index.ts';

export type Db = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

export interface Database {
  db: Db;
  sql: Sql;
  close(): Promise<void>;
}

/**
 * Opens a pooled connection to `url`. Notices (like "relation already exists, skipping") are
 * dropped: they are expected during migrations and say nothing to an operator.
 * `statementTimeoutMs` has Postgres cancel any statement running longer (SQLSTATE 57014, which the
 * HTTP layer answers 503); absent or 0, statements may run as long as they like.
 *
 * @example
 * const { db, close } = openDatabase(process.env.DATABASE_URL!, { statementTimeoutMs: 30_000 });
 */
export function openDatabase(
  url: string,
  options: { max?: number; statementTimeoutMs?: number } = {},
): Database {
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // A killed server must not leave half-open sockets waiting on Postgres forever, and with
    // Postgres unreachable a request must fail (503) in seconds, not hang: 3 s is still a hundred
    // times what a connection takes on a healthy network.
    connect_timeout: 3,
    // postgres.js waits before re-dialling after a failed connection, 3^n / 100 s growing to
    // 10-20 s: once Postgres had been down a moment, each request sat that long before it could
    // fail, and requests kept waiting that long after Postgres came back. Capped at half a second
    // a request is answered within about connect_timeout, and a restarted Postgres is found at once.
    // (A driver bug left as is: a connection cut mid-query by a stopping Postgres replays that
    // 57P01 onto its first query after reconnecting, as in porsager/postgres#1223; it costs one
    // 503 per such connection.)
    backoff: (retries: number) => Math.min(0.01 * 2 ** retries, 0.5),
    idle_timeout: 60,
    connection: {
      application_name: 'heldout',
      // JIT compiles a plan in 50-150 ms to save milliseconds on queries that scan millions of
      // rows; ours are short and index-bound, and a chart query paid 130 ms of JIT for 40 ms of work.
      jit: 'off',
      // Set per connection at its start, so it holds for every statement and costs no round trip.
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
    },
    // int8 as a JS number: steps, sizes and epoch milliseconds all fit in 2^53.
    types: {
      int8: {
        to: 20,
        from: [20],
        serialize: (x: number) => String(x),
        parse: (x: string) => Number(x),
      },
    },
  });
  // A transaction cut by a lost connection must not crash the process (see lost-connections.ts).
  spareLostConnections(sql);
  return {
    sql,
    db: drizzle(sql, { schema }),
    close: () => sql.end({ timeout: 5 }),
  };
}
