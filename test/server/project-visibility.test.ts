import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
const tag = Math.random().toString(36).slice(2, 8);
const mine = `vis-mine-${tag}`;
const theirs = `vis-theirs-${tag}`;
const nobodys = `vis-nobody-${tag}`;
let theirId: number;
let writer: string;
let reader: string;

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  await t.call('POST', '/api/v1/projects', { name: mine });
  theirId = (await t.call('POST', '/api/v1/projects', { name: theirs })).json.id;
  const token = async (role: string) =>
    (await t.call('POST', `/api/v1/projects/${mine}/tokens`, { name: role, role })).json.token;
  writer = await token('write');
  reader = await token('read');
});
afterAll(() => database.drop());

/** Status and message with the asked-for name taken out: what tells two answers apart. */
const shape = (
  res: { status: number; json: { error?: { message: string }; message?: string } },
  name: string,
) => [res.status, (res.json.error?.message ?? res.json.message)!.replaceAll(name, '<name>')];

describe("a project-scoped token asking for another project's name", () => {
  it('gets the same 404 for a project that exists as for one that does not (/api/v1)', async () => {
    for (const path of ['', '/suites', '/datasets', '/leaderboard', '/evaluations', '/tokens']) {
      const taken = await t.call('GET', `/api/v1/projects/${theirs}${path}`, undefined, writer);
      const free = await t.call('GET', `/api/v1/projects/${nobodys}${path}`, undefined, writer);
      expect(shape(taken, theirs), path).toEqual(shape(free, nobodys));
      expect(shape(taken, theirs)).toEqual([404, 'project "<name>" not found']);
    }
    // Writes too, and by id as by name.
    const write = await t.call('POST', `/api/v1/projects/${theirs}/runs`, {}, writer);
    expect(shape(write, theirs)).toEqual([404, 'project "<name>" not found']);
    const byId = await t.call('GET', `/api/v1/projects/${theirId}`, undefined, writer);
    expect(shape(byId, String(theirId))).toEqual([404, 'project "<name>" not found']);
  });

  it('still gets 403 naming the role on its own project, and its project as before', async () => {
    expect((await t.call('GET', `/api/v1/projects/${mine}`, undefined, reader)).status).toBe(200);
    const low = await t.call('POST', `/api/v1/projects/${mine}/runs`, {}, reader);
    expect([low.status, low.json.error.message]).toEqual([
      403,
      'this needs a write token; this one is read',
    ]);
  });

  it('without a token hears 401 whether or not the name is taken', async () => {
    const taken = await t.call('GET', `/api/v1/projects/${theirs}`, undefined, null);
    const free = await t.call('GET', `/api/v1/projects/${nobodys}`, undefined, null);
    expect([taken.status, free.status]).toEqual([401, 401]);
    expect(taken.json).toEqual(free.json);
  });

  it("gets MLflow's RESOURCE_DOES_NOT_EXIST for another project's experiment, by name and by id", async () => {
    const api = '/api/2.0/mlflow/experiments';
    const byName = (name: string, token: string | null = writer) =>
      t.call('GET', `${api}/get-by-name?experiment_name=${name}`, undefined, token);
    const taken = await byName(theirs);
    const free = await byName(nobodys);
    expect(shape(taken, theirs)).toEqual(shape(free, nobodys));
    expect([taken.status, taken.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    expect((await byName(mine)).json.experiment.name).toBe(mine);
    expect([(await byName(theirs, null)).status, (await byName(nobodys, null)).status]).toEqual([
      401, 401,
    ]);
    const byId = await t.call('GET', `${api}/get?experiment_id=${theirId}`, undefined, writer);
    const noId = await t.call('GET', `${api}/get?experiment_id=99999999`, undefined, writer);
    expect(shape(byId, String(theirId))).toEqual(shape(noId, '99999999'));
    expect(byId.json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
  });
});
