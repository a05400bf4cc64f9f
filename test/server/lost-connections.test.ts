import postgres from 'postgres';
import { sql as raw } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../server/db/client.ts';
import { connectionLost } from '../../server/db/lost-connections.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let admin: postgres.Sql;
const uncaught: Error[] = [];
const onUncaught = (err: Error) => uncaught.push(err);
beforeAll(async () => {
  database = await createTestDatabase();
  admin = postgres(database.url, { max: 1, onnotice: () => {} });
  await admin.unsafe('create table kept (v int)');
  process.on('uncaughtException', onUncaught);
});
afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await admin.end();
  await database.drop();
});

/** Ends session `pid` from outside in a moment, as a Postgres restart or crash would. */
function cutSoon(pid: number) {
  // A postgres.js query runs once something awaits it.
  setTimeout(() => admin`select pg_terminate_backend(${pid})`.then(() => {}), 100);
}

/**
 * A pool of its own for each case: a connection cut mid-statement replays that error onto the
 * next statement it runs after reconnecting (porsager/postgres#1223, see client.ts), which must
 * not land in another case.
 */
async function withPool(run: (pool: Database) => Promise<void>) {
  const pool = openDatabase(database.url, { max: 2 });
  try {
    await run(pool);
  } finally {
    await pool.sql.end({ timeout: 1 });
  }
}

const settle = <T>(p: Promise<T>, ms = 10_000) =>
  Promise.race([
    p.then(
      () => 'committed',
      (err: { code?: string; cause?: { code?: string } }) => err.code ?? err.cause?.code ?? 'error',
    ),
    new Promise<string>((r) => setTimeout(() => r('hung'), ms)),
  ]);

// A session ended between two statements of a transaction, while the code is between awaits,
// can still make the driver throw when the next statement is written (the same upstream bug);
// only the common case, a statement cut short, is guarded.
describe('a transaction whose connection dies under a statement', () => {
  it(
    'rejects with the connection error, crashes nothing, and the pool works after (5 times over)',
    () =>
      withPool(async ({ sql }) => {
        for (let i = 0; i < 5; i++) {
          const outcome = await settle(
            sql.begin(async (tx) => {
              const [row] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
              await tx`insert into kept values (${i})`;
              cutSoon(row!.pid);
              await tx`select pg_sleep(5)`;
            }),
          );
          expect(connectionLost({ code: outcome }), `attempt ${i}: ${outcome}`).toBe(true);
          // Give the driver's write timer its turn: that is where it used to throw.
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(uncaught.map((e) => e.message)).toEqual([]);
        // Nothing the cut transactions wrote was kept, and the database still answers.
        expect(await admin`select count(*)::int as n from kept`).toEqual([{ n: 0 }]);
      }),
    60_000,
  );

  it('through drizzle and in a savepoint too', () =>
    withPool(async ({ db }) => {
      const outcome = await settle(
        db.transaction(async (tx) => {
          await tx.transaction(async (inner) => {
            const rows = await inner.execute(raw`select pg_backend_pid() as pid`);
            cutSoon((rows as unknown as { pid: number }[])[0]!.pid);
            await inner.execute(raw`select pg_sleep(5)`);
          });
        }),
      );
      expect(connectionLost({ code: outcome }), outcome).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      expect(uncaught.map((e) => e.message)).toEqual([]);
    }));

  it('still rolls back and rethrows any other failure, and commits a good one', () =>
    withPool(async ({ sql }) => {
      const failed = await settle(
        sql.begin(async (tx) => {
          await tx`insert into kept values (100)`;
          await tx`select * from no_such_table`;
        }),
      );
      expect(failed).toBe('42P01');
      expect(await settle(sql.begin((tx) => [tx`insert into kept values (101)`]))).toBe(
        'committed',
      );
      expect(await admin`select v from kept`).toEqual([{ v: 101 }]);
    }));
});
