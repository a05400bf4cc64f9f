import type postgres from 'postgres';

// The connection is gone: its socket closed or reset, or Postgres ended the session (admin or
// crash shutdown) and is about to close it.
const LOST = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'ECONNRESET',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
]);

/** Whether `err`, or what caused it (drizzle wraps the driver's errors), says the connection died. */
export function connectionLost(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; cause?: unknown } | null, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.code === 'string' && LOST.has(e.code)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

type Scope = (tx: postgres.TransactionSql) => unknown;

/**
 * Keeps postgres.js from writing to a connection that has died under a transaction. When a
 * transaction's callback fails, `sql.begin` sends ROLLBACK on its reserved connection; if that
 * connection was just lost (Postgres killed, restarted, a backend ended), the driver schedules the
 * write on a socket it has already dropped, and the timer throws outside any promise: an uncaught
 * TypeError that ends the whole server, and a connection whose write buffer stays stuck
 * (porsager/postgres#1154, #1208; unfixed in 3.4.9). A rollback on a dead session is moot anyway,
 * Postgres rolled it back when the session ended, so for those errors the callback's promise is
 * left unsettled: no ROLLBACK (or COMMIT) is ever written, and `begin` still rejects at once with
 * the connection's error, which it races against the callback. Savepoints get the same guard.
 *
 * @example
 * const sql = spareLostConnections(postgres(url));
 */
export function spareLostConnections<S extends postgres.Sql>(sql: S): S {
  const begin = sql.begin.bind(sql) as (options: string, fn: Scope) => Promise<unknown>;
  const spare =
    (fn: Scope): Scope =>
    async (tx) => {
      guardSavepoints(tx);
      try {
        const result = fn(tx);
        return await (Array.isArray(result) ? Promise.all(result) : result);
      } catch (err) {
        if (connectionLost(err)) return new Promise(() => {});
        throw err;
      }
    };
  const guardSavepoints = (tx: postgres.TransactionSql) => {
    const savepoint = tx.savepoint.bind(tx) as (...args: unknown[]) => Promise<unknown>;
    // savepoint(fn), savepoint(name, fn), or a tagged template, which passes through as it came.
    tx.savepoint = ((...args: unknown[]) =>
      typeof args[0] === 'function'
        ? savepoint(spare(args[0] as Scope))
        : typeof args[1] === 'function'
          ? savepoint(args[0], spare(args[1] as Scope))
          : savepoint(...args)) as typeof tx.savepoint;
  };
  sql.begin = ((options: unknown, fn?: unknown) =>
    typeof options === 'function'
      ? begin('', spare(options as Scope))
      : begin(options as string, spare(fn as Scope))) as typeof sql.begin;
  return sql;
}
