import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let experimentId: string;
let basic: string;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const project = await t.call('POST', '/api/v1/projects', { name: 'csrf' });
  experimentId = String(project.json.id);
  const token = await t.call('POST', '/api/v1/projects/csrf/tokens', { name: 'w', role: 'write' });
  // What a browser keeps after its user once typed the credentials, and sends on its own.
  basic = `Basic ${Buffer.from(`me:${token.json.token}`).toString('base64')}`;
});
afterAll(() => database.drop());

const runs = async () => {
  const [row] = await database.sql<{ n: number }[]>`select count(*)::int as n from runs`;
  return row!.n;
};

/** A write as a cross-site page can send it without asking: Basic credentials, a simple body. */
function send(path: string, body: string, contentType?: string, method = 'POST') {
  const headers: Record<string, string> = { authorization: basic };
  if (contentType) headers['content-type'] = contentType;
  // Bytes, not a string: fetch would label a string text/plain by itself.
  const bytes = new TextEncoder().encode(body);
  return t.app.request(`/api/2.0/mlflow/${path}`, { method, headers, body: bytes });
}

describe('MLflow writes need Content-Type: application/json', () => {
  it('refuses a text/plain, form, multipart or untyped body with the Content-Type rule, writing nothing', async () => {
    const json = JSON.stringify({ experiment_id: experimentId });
    const form = new URLSearchParams({ experiment_id: experimentId }).toString();
    const before = await runs();
    for (const [type, body] of [
      ['text/plain', json],
      ['text/plain;charset=UTF-8', json],
      ['application/x-www-form-urlencoded', form],
      ['multipart/form-data; boundary=x', `--x\r\n\r\n${json}\r\n--x--`],
      [undefined, json],
    ] as const) {
      const res = await send('runs/create', body, type);
      const answer = (await res.json()) as { error_code: string; message: string };
      expect([type, res.status, answer.error_code]).toEqual([type, 400, 'INVALID_PARAMETER_VALUE']);
      expect(answer.message).toMatch(
        /^Bad Request\. Content-Type must be one of \['application\/json'\]/,
      );
      expect(answer.message).toContain(type ? `got '${type.split(';')[0]}'` : 'got none');
    }
    // A bodiless POST too: `{}` is a whole request to some calls.
    expect((await send('runs/create', '', 'text/plain')).status).toBe(400);
    expect(await runs()).toBe(before);
  });

  it('refuses the same on deletes and searches, under the ajax alias too', async () => {
    const res = await t.app.request('/ajax-api/2.0/mlflow/experiments/delete', {
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'text/plain' },
      body: JSON.stringify({ experiment_id: experimentId }),
    });
    expect(res.status).toBe(400);
    expect((await t.call('GET', `/api/v1/projects/csrf`)).status).toBe(200);
    expect((await send('experiments/search', '{}', 'text/plain')).status).toBe(400);
  });

  it('takes application/json (what MLflow clients send), with or without a charset', async () => {
    const before = await runs();
    const body = JSON.stringify({ experiment_id: experimentId });
    for (const type of ['application/json', 'application/json; charset=utf-8']) {
      const res = await send('runs/create', body, type);
      expect(res.status, type).toBe(200);
    }
    expect(await runs()).toBe(before + 2);
    // Reads by GET need no body and no type.
    const read = await t.app.request(
      `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`,
      {
        headers: { authorization: basic },
      },
    );
    expect(read.status).toBe(200);
  });
});
