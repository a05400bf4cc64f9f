import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { waitFor } from '../helpers/live-server.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
});
afterAll(() => database.drop());

/** The quickstart's state once it has failed, polled for up to 20 s. */
const quickstartFailure = () =>
  waitFor(
    'the quickstart to fail',
    async () => {
      const s = (await t.call('GET', '/api/v1/quickstart')).json;
      return s.status === 'failed' ? s : undefined;
    },
    20_000,
  );

// The flow itself (four fine-tunes, gates, promotion) runs in test/worker/quickstart.test.ts.
describe('/api/v1/quickstart', () => {
  it('is idle until started, and needs a token to watch', async () => {
    expect((await t.call('GET', '/api/v1/quickstart')).json).toEqual({
      status: 'idle',
      project: null,
      events: [],
      promoted: null,
      error: null,
    });
    expect((await t.call('GET', '/api/v1/quickstart', undefined, null)).status).toBe(401);
  });

  it('is started by a global admin only, with the field named on bad input', async () => {
    await t.call('POST', '/api/v1/projects', { name: 'team' });
    const writer = await t.call('POST', '/api/v1/projects/team/tokens', {
      name: 'w',
      role: 'write',
    });
    expect((await t.call('POST', '/api/v1/quickstart', {}, writer.json.token)).status).toBe(403);
    const bad = await t.call('POST', '/api/v1/quickstart', { scale: 'huge' });
    expect([bad.status, bad.json.error.message]).toEqual([400, expect.stringMatching(/^scale: /)]);
  });

  it('reports a failure with its reason instead of hanging', async () => {
    // No socket behind app.request: the server cannot reach itself, so the flow fails at once.
    const started = await t.call('POST', '/api/v1/quickstart', { scale: 'short', project: 'qs' });
    expect([started.status, started.json.status, started.json.project]).toEqual([
      202,
      'running',
      'qs',
    ]);
    const failed = await quickstartFailure();
    expect(failed.error).toBeTruthy();
    expect(failed.events[0]).toMatchObject({
      kind: 'step',
      message: expect.stringMatching(/^project qs/),
    });
  });

  it("shows a project token nothing of a quickstart building another project, its own project's in full", async () => {
    const idle = { status: 'idle', project: null, events: [], promoted: null, error: null };
    await t.call('POST', '/api/v1/projects', { name: 'outsider' });
    await t.call('POST', '/api/v1/projects', { name: 'qs-own' });
    const tokenOf = async (project: string) =>
      (await t.call('POST', `/api/v1/projects/${project}/tokens`, { name: 'w', role: 'write' }))
        .json.token as string;
    const outsider = await tokenOf('outsider');
    const insider = await tokenOf('qs-own');
    expect(
      (await t.call('POST', '/api/v1/quickstart', { scale: 'short', project: 'qs-own' })).status,
    ).toBe(202);
    const failed = await quickstartFailure();
    expect(failed.project).toBe('qs-own');
    const seen = await t.call('GET', '/api/v1/quickstart', undefined, outsider);
    expect([seen.status, seen.json]).toEqual([200, idle]);
    expect(seen.text).not.toContain('qs-own');
    expect((await t.call('GET', '/api/v1/quickstart', undefined, insider)).json).toEqual(failed);
  });
});
