import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
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
 *
 * @example
 * const { db, close } = openDatabase(process.env.DATABASE_URL!);
 */
export function openDatabase(url: string, options: { max?: number } = {}): Database {
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // A killed server must not leave half-open sockets waiting on Postgres forever.
    connect_timeout: 10,
    idle_timeout: 60,
    connection: {
      application_name: 'heldout',
      // JIT compiles a plan in 50-150 ms to save milliseconds on queries that scan millions of
      // rows; ours are short and index-bound, and a chart query paid 130 ms of JIT for 40 ms of work.
      jit: 'off',
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
  return {
    sql,
    db: drizzle(sql, { schema }),
    close: () => sql.end({ timeout: 5 }),
  };
}
