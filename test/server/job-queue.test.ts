import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobQueue, type JobQueue } from '../../server/jobs/queue.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

describe('job queue (pg-boss on the server pool)', () => {
  let database: TestDatabase;
  let queue: JobQueue;
  beforeAll(async () => {
    database = await createTestDatabase();
    queue = await createJobQueue(database.sql, { retryLimit: 1, retryDelay: 0 });
  });
  afterAll(async () => {
    await queue.stop();
    await database.drop();
  });

  const drain = async () => {
    while (await queue.claim());
  };

  it('hands a job out once, in order, and enqueueing it again changes nothing', async () => {
    await drain();
    const a = randomUUID();
    const b = randomUUID();
    await queue.enqueue(a);
    await queue.enqueue(b);
    await queue.enqueue(a);
    expect(await queue.claim()).toEqual({ id: a, retryCount: 0 });
    expect(await queue.claim()).toEqual({ id: b, retryCount: 0 });
    expect(await queue.claim()).toBeUndefined();
    await queue.complete(a, { steps: 1 });
    expect(await queue.state(a)).toBe('completed');
  });

  it('retries a failed attempt until the retry limit, then fails for good', async () => {
    await drain();
    const id = randomUUID();
    await queue.enqueue(id);
    expect((await queue.claim())?.id).toBe(id);
    expect(await queue.fail(id, 'worker lost')).toBe('retry');
    // The retry waits out its delay (with backoff, at least a second) before anyone gets it.
    expect(await queue.claim()).toBeUndefined();
    let again;
    for (let i = 0; i < 50 && !again; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await queue.claim();
    }
    expect(again).toEqual({ id, retryCount: 1 });
    expect(await queue.fail(id, 'worker lost')).toBe('failed');
    expect(await queue.claim()).toBeUndefined();
  });

  it('never hands out a cancelled job', async () => {
    await drain();
    const id = randomUUID();
    await queue.enqueue(id);
    await queue.cancel(id);
    expect(await queue.claim()).toBeUndefined();
    expect(await queue.state(id)).toBe('cancelled');
  });

  it('gives each of many concurrent claimers a different job', async () => {
    await drain();
    const ids = Array.from({ length: 20 }, () => randomUUID());
    for (const id of ids) await queue.enqueue(id);
    const claimed = await Promise.all(ids.map(() => queue.claim()));
    expect(new Set(claimed.map((j) => j?.id)).size).toBe(20);
  });
});
