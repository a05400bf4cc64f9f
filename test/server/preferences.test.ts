import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preferencePairs } from '../../plugins/builtin/shared/preferences.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  await t.call('POST', '/api/v1/projects', { name: 'support' });
});
afterAll(() => database.drop());

describe('human rankings', () => {
  it('are recorded with who ranked them, and cut into a preference dataset version', async () => {
    const empty = await t.call('POST', '/api/v1/projects/support/preferences/dataset', {
      dataset: 'rankings',
    });
    expect(empty.status).toBe(400);

    const ranked = await t.call('POST', '/api/v1/preferences', {
      project: 'support',
      prompt: 'Customer: my card was declined.\nAgent:',
      responses: [' Sorry, let me check.', ' Try again.', ' Not my problem.'],
      annotator: 'ana',
    });
    expect(ranked.status).toBe(201);
    expect(ranked.json).toMatchObject({ annotator: 'ana', responses: expect.any(Array) });
    const pair = await t.call('POST', '/api/v1/preferences', {
      project: 'support',
      prompt: 'Customer: I lost my card.\nAgent:',
      chosen: ' I will block it now.',
      rejected: ' Buy a new one.',
    });
    expect(pair.json.responses).toEqual([' I will block it now.', ' Buy a new one.']);

    const cut = await t.call('POST', '/api/v1/projects/support/preferences/dataset', {
      dataset: 'rankings',
    });
    expect(cut.status).toBe(201);
    expect(cut.json).toMatchObject({ kind: 'preference', version: 1, rowCount: 2 });
    const again = await t.call('POST', '/api/v1/projects/support/preferences/dataset', {
      dataset: 'rankings',
    });
    expect(again.status).toBe(200);

    const content = await t.call(
      'GET',
      '/api/v1/projects/support/datasets/rankings/versions/1/content',
    );
    const rows = content.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows[0]).toMatchObject({ annotator: 'ana', preference_id: ranked.json.id });
    // Three ranked responses give three pairs, the explicit pair one: four comparisons to learn.
    expect(preferencePairs(rows)).toHaveLength(4);

    const page = await t.call('GET', '/api/v1/projects/support/preferences?limit=1');
    expect(page.json.preferences).toHaveLength(1);
    const next = await t.call(
      'GET',
      `/api/v1/projects/support/preferences?limit=1&pageToken=${page.json.nextPageToken}`,
    );
    expect(next.json.preferences[0].id).toBe(pair.json.id);
    expect(next.json.nextPageToken).toBeNull();
  });

  it('refuse a ranking that cannot be learned from, naming the field', async () => {
    const cases: [object, string][] = [
      [{ prompt: 'p', responses: ['only one'] }, 'responses: must rank at least 2 responses'],
      [{ prompt: 'p', chosen: 'a' }, 'rejected: required (or give "responses", best first)'],
      [{ prompt: '', chosen: 'a', rejected: 'b' }, 'prompt: must not be empty'],
    ];
    for (const [body, message] of cases) {
      const res = await t.call('POST', '/api/v1/preferences', { project: 'support', ...body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.message).toBe(message);
    }
    const elsewhere = await t.call('POST', '/api/v1/preferences', {
      project: 'nope',
      prompt: 'p',
      chosen: 'a',
      rejected: 'b',
    });
    expect(elsewhere.status).toBe(404);
  });
});
