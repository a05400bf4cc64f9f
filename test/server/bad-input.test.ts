import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let runId: string;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  await t.call('POST', '/api/v1/projects', { name: 'hostile' });
  runId = (await t.call('POST', '/api/v1/projects/hostile/runs', {})).json.id;
});
afterAll(() => database.drop());

const bodies: unknown[] = [
  '',
  'null',
  '[]',
  '"text"',
  '{"a":',
  '{}',
  JSON.stringify({ name: 'x'.repeat(100_000) }),
  JSON.stringify(JSON.parse('['.repeat(2000) + ']'.repeat(2000))),
  JSON.stringify({ metrics: [{ key: 'k', step: 1e300, value: 1 }] }),
  JSON.stringify({ metrics: [{ key: 'k', step: -1, value: 1e308, timestamp: -5 }] }),
  JSON.stringify({ params: { ['\u{1F600}'.repeat(300)]: 'v' } }),
  JSON.stringify({ tags: { k: null } }),
  JSON.stringify({ status: 'exploded' }),
  JSON.stringify({ orderBy: { field: 'metric', key: 'k' }, pageToken: '!!!' }),
  JSON.stringify({ metrics: [{ key: 'k', op: '>', value: 'NaN' }] }),
  JSON.stringify({ name: 'ok', role: 'god' }),
  JSON.stringify({ datasets: [{ datasetVersionId: 2 ** 60, role: 'train' }] }),
];

/**
 * Every documented route, with valid and invalid ids, against malformed and hostile bodies: the
 * answer is always a JSON 4xx (or a success), never a 5xx.
 */
describe('hostile input', () => {
  it('never gets a 5xx from any documented route', async () => {
    const doc = (await t.call('GET', '/api/v1/openapi.json')).json as {
      paths: Record<string, Record<string, unknown>>;
    };
    const ids = {
      project: ['hostile', '999999', '%00', 'a'.repeat(300)],
      runId: [runId, 'not-a-uuid', '00000000-0000-4000-8000-000000000000'],
      tokenId: ['1', '-1', '99999999999999999999'],
      name: ['train', '..', '%2e%2e'],
      version: ['1', 'latest', '0', 'x'],
    } as Record<string, string[]>;
    const queries = [
      '',
      '?key=k&buckets=0',
      '?key=k&limit=abc',
      '?path=../x',
      '?kind=nope',
      '?afterStep=1e400',
    ];
    let requests = 0;
    for (const [template, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        for (let variant = 0; variant < 3; variant++) {
          const path = template.replace(
            /\{(\w+)\}/g,
            (_, p: string) => ids[p]?.[variant % ids[p]!.length] ?? 'x',
          );
          for (const query of queries) {
            for (const body of method === 'get' || method === 'delete' ? [undefined] : bodies) {
              const res = await t.call(method.toUpperCase(), `/api/v1${path}${query}`, body);
              requests++;
              if (res.status >= 500)
                throw new Error(
                  `${method} ${path}${query} ${String(body).slice(0, 80)} -> ${res.status} ${res.text}`,
                );
              if (res.status >= 400)
                expect(res.json?.error?.message, `${method} ${path}`).toEqual(expect.any(String));
            }
          }
        }
      }
    }
    expect(requests).toBeGreaterThan(500);
  }, 120_000);
});
