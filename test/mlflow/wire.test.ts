import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
});
afterAll(() => database.drop());

describe("the MLflow adapter's wire rules", () => {
  it('answers an unknown route with JSON 404, under every prefix, never the UI page', async () => {
    for (const prefix of [
      '/api/2.0/mlflow',
      '/ajax-api/2.0/mlflow',
      '/api/2.0/mlflow-artifacts',
      '/ajax-api/2.0/mlflow-artifacts',
    ]) {
      const res = await t.call('GET', `${prefix}/no/such/thing`);
      expect(res.status, prefix).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.json).toEqual({
        error_code: 'ENDPOINT_NOT_FOUND',
        message: `No API endpoint for GET ${prefix}/no/such/thing`,
      });
    }
  });

  it('refuses an unknown token as UNAUTHENTICATED, and takes the token as a Basic password', async () => {
    const bad = await t.call('POST', '/api/2.0/mlflow/nope', {}, 'hld_not-a-token');
    expect([bad.status, bad.json.error_code]).toEqual([401, 'UNAUTHENTICATED']);
    const basic = await t.app.request('/api/2.0/mlflow/nope', {
      headers: {
        authorization: `Basic ${Buffer.from(`anyone:${t.adminToken}`).toString('base64')}`,
      },
    });
    // Past authentication: the route is what is missing.
    expect([basic.status, ((await basic.json()) as { error_code: string }).error_code]).toEqual([
      404,
      'ENDPOINT_NOT_FOUND',
    ]);
    const wrong = await t.app.request('/api/2.0/mlflow/nope', {
      headers: { authorization: `Basic ${Buffer.from('anyone:hld_wrong').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
  });

  it('leaves heldout API paths and the UI alone', async () => {
    expect((await t.call('GET', '/api/v1/health')).status).toBe(200);
    const page = await t.app.request('/p/anything');
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  });
});
