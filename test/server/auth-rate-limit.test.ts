import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayPrefix, hashToken } from '../../server/auth/tokens.ts';
import { apiTokens } from '../../server/db/schema/index.ts';
import { AuthFailureLimiter } from '../../server/http/auth-failures.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
});
afterAll(() => database.drop());

const basic = (password: string) => `Basic ${Buffer.from(`me:${password}`).toString('base64')}`;

/** A request as if from `address`: @hono/node-server's bindings carry the socket. */
async function from(
  address: string,
  path: string,
  authorization?: string,
  headers: Record<string, string> = {},
  app = t.app,
) {
  const res = await app.request(
    path,
    { headers: authorization ? { authorization, ...headers } : headers },
    { incoming: { socket: { remoteAddress: address } } },
  );
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read what came back
  const json: any = await res.json();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json };
}

describe('failed authentications per client address', () => {
  it('answers the 21st bad token 429 rate_limited with Retry-After, before any lookup', async () => {
    const address = '203.0.113.1';
    for (let i = 0; i < 20; i++) {
      const res = await from(address, '/api/v1/projects', `Bearer hld_guess-${i}`);
      expect([res.status, res.json.error.code]).toEqual([401, 'unauthorized']);
    }
    const limited = await from(address, '/api/v1/projects', 'Bearer hld_guess-21');
    expect([limited.status, limited.json.error.code]).toEqual([429, 'rate_limited']);
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(limited.retryAfter)).toBeLessThanOrEqual(60);
    expect(limited.json.error.message).toContain(`retry in ${limited.retryAfter} s`);
    // A valid token still works from there: only failures are limited.
    const fresh = await from(address, '/api/v1/projects', `Bearer ${t.adminToken}`);
    expect(fresh.status).toBe(200);
    // Other addresses are not affected.
    expect((await from('203.0.113.2', '/api/v1/projects', 'Bearer hld_x')).status).toBe(401);
    expect((await from('203.0.113.2', '/api/v1/projects', `Bearer ${t.adminToken}`)).status).toBe(
      200,
    );
  });

  it('lets every valid token through an address an attacker has locked: 30 failures, then 20 tokens of 20 users', async () => {
    const address = '203.0.113.3';
    const users: string[] = [];
    for (let i = 0; i < 20; i++) {
      const name = `nat-${i}`;
      expect((await t.call('POST', '/api/v1/projects', { name })).status).toBe(201);
      const made = await t.call('POST', `/api/v1/projects/${name}/tokens`, {
        name: 'user',
        role: 'write',
      });
      users.push(made.json.token);
    }
    for (let i = 0; i < 30; i++) await from(address, '/api/v1/projects', `Bearer hld_guess-${i}`);
    const locked = await from(address, '/api/v1/projects', 'Bearer hld_guess');
    expect([locked.status, locked.json.error.message]).toEqual([
      429,
      expect.stringMatching(/^too many failed authentications from this address/),
    ]);
    // None of these tokens was ever used from there before.
    for (const [i, token] of users.entries()) {
      const res = await from(address, `/api/v1/projects/nat-${i}`, `Bearer ${token}`);
      expect([i, res.status]).toEqual([i, 200]);
    }
    // A guess in the shape of a real token is looked up, and still refused as rate limited.
    const shaped = `hld_${'A'.repeat(43)}`;
    expect((await from(address, '/api/v1/projects', `Bearer ${shaped}`)).status).toBe(429);
    expect((await from(address, '/api/v1/projects', 'Bearer hld_guess')).status).toBe(429);
  });

  it('lets an operator-chosen token through a locked address only once it has worked from there', async () => {
    // HELDOUT_ADMIN_TOKEN may be a weak secret: a locked address gets no answers about it
    // until it has proved itself from there, so guessing it stays limited.
    const chosen = `operator-chosen-${Math.random().toString(36).slice(2)}`;
    await database.db.insert(apiTokens).values({
      name: 'operator',
      role: 'admin',
      tokenHash: hashToken(chosen),
      prefix: displayPrefix(chosen),
    });
    const known = '203.0.113.6';
    const stranger = '203.0.113.7';
    expect((await from(known, '/api/v1/projects', `Bearer ${chosen}`)).status).toBe(200);
    for (const address of [known, stranger])
      for (let i = 0; i < 25; i++) await from(address, '/api/v1/projects', `Bearer guess-${i}`);
    expect((await from(known, '/api/v1/projects', `Bearer ${chosen}`)).status).toBe(200);
    expect((await from(stranger, '/api/v1/projects', `Bearer ${chosen}`)).status).toBe(429);
  });

  it('counts malformed headers, MLflow Basic passwords and /v1 with the rest, each answering 429 in its own shape', async () => {
    const address = '203.0.113.4';
    for (let i = 0; i < 7; i++) await from(address, '/api/v1/projects', 'Token nonsense');
    for (let i = 0; i < 7; i++)
      await from(address, '/api/2.0/mlflow/experiments/search?max_results=1', basic(`hld_${i}`));
    for (let i = 0; i < 6; i++)
      expect(
        (await from(address, '/ajax-api/2.0/mlflow-artifacts/artifacts', `Bearer hld_${i}`)).status,
      ).toBe(401);
    const limited = await from(
      address,
      '/api/2.0/mlflow/experiments/search?max_results=1',
      basic('hld_more'),
    );
    expect([limited.status, limited.json.error_code]).toEqual([429, 'RESOURCE_EXHAUSTED']);
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
    expect((await from(address, '/api/v1/projects', 'Bearer hld_again')).status).toBe(429);
    // OpenAI's /v1 shares the count too, and says so in OpenAI's words.
    const openai = await from(address, '/v1/models', 'Bearer hld_again');
    expect([openai.status, openai.json.error.code]).toEqual([429, 'rate_limit_exceeded']);
    expect(Number(openai.retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it('never counts anonymous requests or successes', async () => {
    const address = '203.0.113.5';
    for (let i = 0; i < 30; i++) {
      await from(address, '/api/v1/projects');
      await from(address, '/api/v1/projects', `Bearer ${t.adminToken}`);
    }
    expect((await from(address, '/api/v1/projects', 'Bearer hld_first-bad')).status).toBe(401);
  });

  it('tells clients apart by their socket address on a real server', async () => {
    const server: ServerType = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/projects`;
    try {
      const statuses = [];
      for (let i = 0; i < 21; i++) {
        const res = await fetch(url, { headers: { authorization: `Bearer hld_${i}` } });
        statuses.push(res.status);
      }
      expect(statuses.at(-1)).toBe(429);
      // app.request has no socket: its bucket is another one.
      expect((await t.call('GET', '/api/v1/projects', undefined, 'hld_nope')).status).toBe(401);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('the client address behind reverse proxies (HELDOUT_TRUST_PROXY)', () => {
  it('ignores X-Forwarded-For by default: a forged header does not escape the limit', async () => {
    const socket = '203.0.113.8';
    for (let i = 0; i < 20; i++)
      await from(socket, '/api/v1/projects', `Bearer hld_g${i}`, {
        'x-forwarded-for': `198.51.100.${i}`,
      });
    const res = await from(socket, '/api/v1/projects', 'Bearer hld_g', {
      'x-forwarded-for': '198.51.100.200',
    });
    expect(res.status).toBe(429);
  });

  it('with one trusted hop counts the address the proxy saw, whatever the client wrote left of it', async () => {
    const proxied = await testApp(database, { HELDOUT_TRUST_PROXY: '1' });
    const proxy = '10.0.0.1';
    const via = (xff: string, token = 'hld_bad') =>
      from(proxy, '/api/v1/projects', `Bearer ${token}`, { 'x-forwarded-for': xff }, proxied.app);
    for (let i = 0; i < 20; i++) expect((await via('198.51.100.1')).status).toBe(401);
    expect((await via('198.51.100.1')).status).toBe(429);
    // A forged entry on the left does not change who the proxy says is calling.
    expect((await via('6.6.6.6, 198.51.100.1')).status).toBe(429);
    // Another client behind the same proxy is not locked out, not even from guessing.
    expect((await via('198.51.100.2')).status).toBe(401);
    expect((await via('198.51.100.2', proxied.adminToken)).status).toBe(200);
  });

  it('with two trusted hops takes the second entry from the right', async () => {
    const proxied = await testApp(database, { HELDOUT_TRUST_PROXY: '2' });
    const via = (xff: string) =>
      from(
        '10.0.0.2',
        '/api/v1/projects',
        'Bearer hld_bad',
        { 'x-forwarded-for': xff },
        proxied.app,
      );
    for (let i = 0; i < 20; i++) await via(`6.6.6.${i}, 198.51.100.9, 10.0.0.3`);
    expect((await via('7.7.7.7, 198.51.100.9, 10.0.0.3')).status).toBe(429);
    expect((await via('198.51.100.10, 10.0.0.3')).status).toBe(401);
  });

  it('refuses a value that is neither a flag nor a hop count, naming the variable', async () => {
    await expect(testApp(database, { HELDOUT_TRUST_PROXY: 'yes' })).rejects.toThrow(
      /HELDOUT_TRUST_PROXY must be true, false or a number of proxy hops/,
    );
  });
});

describe('AuthFailureLimiter', () => {
  it('slides its window and forgets the least recently seen address past its cap', () => {
    const limiter = new AuthFailureLimiter({ failures: 2, windowMs: 10_000, maxClients: 2 });
    limiter.fail('a', undefined, 0);
    limiter.fail('a', undefined, 4_000);
    expect(limiter.retryAfterSeconds('a', 5_000)).toBe(5);
    expect(limiter.retryAfterSeconds('a', 10_000)).toBe(0);
    limiter.fail('a', undefined, 10_500);
    expect(limiter.retryAfterSeconds('a', 10_500)).toBe(4);
    limiter.succeed('b', 'hash');
    limiter.fail('c', undefined, 10_500);
    // 'a' was the least recently seen of three, with room for two.
    expect(limiter.retryAfterSeconds('a', 10_500)).toBe(0);
    expect(limiter.knownGood('b', 'hash')).toBe(true);
    limiter.fail('b', 'hash', 10_600);
    expect(limiter.knownGood('b', 'hash')).toBe(false);
  });
});
