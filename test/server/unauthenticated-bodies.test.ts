import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverTimeouts } from '../../server/http/server-timeouts.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
const servers: ServerType[] = [];
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  await database.drop();
});

const TIMEOUT_S = '1';

/** The real app behind a real listener, with the listener options `heldout serve` uses. */
async function listen(env: Record<string, string> = {}) {
  const t = await testApp(database, { HELDOUT_UNAUTHENTICATED_TIMEOUT_SECONDS: TIMEOUT_S, ...env });
  const server = serve({ fetch: t.app.fetch, port: 0, serverOptions: serverTimeouts(t.config) });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  return { t, port: (server.address() as AddressInfo).port };
}

interface Exchange {
  /** The raw answer, headers and body, as far as it came. */
  answer: string;
  status: number | undefined;
  /** When the first byte of the answer came, and when the server closed the socket (ms). */
  answeredMs: number | undefined;
  closedMs: number;
}

/**
 * Sends `head` (without its closing blank line when `headUnfinished`) and then `sent` (never the whole declared body, unless `rest` follows after
 * `restAfterMs`), and records what the server does, until it closes the socket or `waitMs`.
 */
function exchange(
  port: number,
  head: string[],
  sent: string,
  opts: { rest?: string; restAfterMs?: number; waitMs?: number; headUnfinished?: boolean } = {},
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    let answeredMs: number | undefined;
    const finish = () => {
      clearTimeout(giveUp);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      resolve({
        answer,
        status: status ? Number(status) : undefined,
        answeredMs,
        closedMs: Date.now() - started,
      });
    };
    const giveUp = setTimeout(() => {
      socket.destroy();
      finish();
    }, opts.waitMs ?? 10_000);
    socket.on('data', (chunk) => {
      answeredMs ??= Date.now() - started;
      answer += chunk.toString('utf8');
    });
    socket.on('close', finish);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    socket.write(`${head.join('\r\n')}\r\n${opts.headUnfinished ? '' : `\r\n${sent}`}`);
    if (opts.rest !== undefined)
      setTimeout(() => socket.writable && socket.write(opts.rest!), opts.restAfterMs ?? 0);
  });
}

const BIG = 16 * 1024 * 1024;
const post = (path: string, length: number, extra: string[] = []) => [
  `POST ${path} HTTP/1.1`,
  'Host: localhost',
  'Content-Type: application/json',
  `Content-Length: ${length}`,
  ...extra,
];

describe('a body from a caller without a valid token', () => {
  it('is never read: a 16 MiB write is answered 401 from its headers and the socket closed', async () => {
    const { port } = await listen();
    const cases: [string, string[]][] = [
      ['/api/v1/projects', []],
      ['/api/v1/projects', ['Authorization: Bearer hld_not-a-token']],
      ['/api/2.0/mlflow/runs/create', []],
      [
        '/api/2.0/mlflow/runs/create',
        [`Authorization: Basic ${Buffer.from('me:hld_wrong').toString('base64')}`],
      ],
      ['/v1/chat/completions', []],
    ];
    for (const [path, auth] of cases) {
      // Only a kilobyte of the 16 MiB ever comes: a server that waited for the body would hang.
      const res = await exchange(port, post(path, BIG, auth), '{"name":"' + 'x'.repeat(1024));
      expect([path, auth.length, res.status], res.answer).toEqual([path, auth.length, 401]);
      expect(res.answer).toMatch(/token|API key|unauthor/i);
      expect(res.closedMs, `${path}: the socket stayed open`).toBeLessThan(3_000);
    }
  });

  it('is refused 401 with the rule named, and the same request with a token still works', async () => {
    const { t, port } = await listen();
    const body = JSON.stringify({ name: 'bodies-ok' });
    const refused = await exchange(port, post('/api/v1/projects', body.length), body);
    expect(refused.status).toBe(401);
    expect(refused.answer).toContain(
      'a bearer token is required to send a body (Authorization: Bearer <token>)',
    );
    const auth = [`Authorization: Bearer ${t.adminToken}`, 'Connection: close'];
    const made = await exchange(port, post('/api/v1/projects', body.length, auth), body);
    expect(made.status, made.answer).toBe(201);
  });

  it('with public reads: at most 64 KiB, within the unauthenticated timeout, or the socket is closed', async () => {
    const { port } = await listen({ HELDOUT_PUBLIC_READ: '1' });
    const search = '/api/v1/projects/none/runs/search';
    const large = await exchange(port, post(search, BIG), '{');
    expect([large.status, large.closedMs < 3_000]).toEqual([413, true]);
    expect(large.answer).toContain('without a token a body may hold at most 65536 bytes');
    // A dribble: 10 of 100 bytes, then nothing. Cut after about a second, not Node's 300 s.
    const slow = await exchange(port, post(search, 100), '{"filter":');
    expect(slow.status).toBeUndefined();
    expect(slow.closedMs).toBeGreaterThanOrEqual(900);
    expect(slow.closedMs).toBeLessThan(4_000);
    // A whole small body is read and answered as before.
    const whole = await exchange(port, post(search, 2, ['Connection: close']), '{}');
    expect(whole.status, whole.answer).toBe(404);
  });
});

describe('slow clients', () => {
  it('must send their headers within the unauthenticated timeout', async () => {
    const { port } = await listen();
    const res = await exchange(port, ['GET /api/v1/health HTTP/1.1', 'Host: localhost'], '', {
      headUnfinished: true,
    });
    // The head never ends (no blank line): Node answers 408 and closes.
    expect(res.closedMs).toBeLessThan(4_000);
    expect(res.status === undefined || res.status === 408).toBe(true);
  });

  it('with a valid token keep the long limit for a slow body', async () => {
    const { t, port } = await listen();
    const body = JSON.stringify({ name: 'slow-but-authorised' });
    const auth = [`Authorization: Bearer ${t.adminToken}`, 'Connection: close'];
    const res = await exchange(
      port,
      post('/api/v1/projects', body.length, auth),
      body.slice(0, 5),
      {
        rest: body.slice(5),
        restAfterMs: 2_000,
      },
    );
    expect(res.status, res.answer).toBe(201);
  });
});
