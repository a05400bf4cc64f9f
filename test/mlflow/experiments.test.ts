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

const api = '/api/2.0/mlflow';
const uniq = (p: string) => `${p}-${Math.random().toString(36).slice(2, 8)}`;
const create = async (name: string, extra: object = {}) => {
  const res = await t.call('POST', `${api}/experiments/create`, { name, ...extra });
  expect(res.status, res.text).toBe(200);
  return res.json.experiment_id as string;
};

describe('MLflow experiments (heldout projects)', () => {
  it('creates, gets by id and by name, with MLflow fields, and refuses a taken name', async () => {
    const name = uniq('churn model');
    const id = await create(name, { tags: [{ key: 'team', value: 'risk' }] });
    expect(id).toMatch(/^\d+$/);
    const got = await t.call('GET', `${api}/experiments/get?experiment_id=${id}`);
    expect(got.status).toBe(200);
    expect(got.json.experiment).toMatchObject({
      experiment_id: id,
      name,
      artifact_location: `mlflow-artifacts:/${id}`,
      lifecycle_stage: 'active',
      tags: [{ key: 'team', value: 'risk' }],
    });
    expect(typeof got.json.experiment.creation_time).toBe('number');
    const byName = await t.call(
      'GET',
      `${api}/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`,
    );
    expect(byName.json.experiment.experiment_id).toBe(id);
    const again = await t.call('POST', `${api}/experiments/create`, { name });
    expect([again.status, again.json.error_code]).toEqual([400, 'RESOURCE_ALREADY_EXISTS']);
    expect(again.json.message).toContain(name);
    // The same project through heldout's own API.
    const native = await t.call('GET', `/api/v1/projects/${id}`);
    expect(native.json.name).toBe(name);
  });

  it('answers unknown experiments with 404 RESOURCE_DOES_NOT_EXIST, and bad input with 400 naming the field', async () => {
    const byName = await t.call('GET', `${api}/experiments/get-by-name?experiment_name=nope-x`);
    expect([byName.status, byName.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    for (const id of ['999999', 'abc']) {
      const res = await t.call('GET', `${api}/experiments/get?experiment_id=${id}`);
      expect([res.status, res.json.error_code], id).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);
    }
    const noName = await t.call('POST', `${api}/experiments/create`, {});
    expect([noName.status, noName.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(noName.json.message).toContain("'name'");
    const digits = await t.call('POST', `${api}/experiments/create`, { name: '123' });
    expect(digits.status).toBe(400);
    const bad = await t.call('POST', `${api}/experiments/create`, '{not json');
    expect([bad.status, bad.json.error_code]).toEqual([400, 'MALFORMED_REQUEST']);
    const missing = await t.call('GET', `${api}/experiments/get`);
    expect(missing.json.message).toContain("'experiment_id'");
  });

  it('renames, sets and deletes tags, deletes and restores', async () => {
    const id = await create(uniq('exp'));
    const name = uniq('renamed');
    expect(
      (await t.call('POST', `${api}/experiments/update`, { experiment_id: id, new_name: name }))
        .json,
    ).toEqual({});
    expect(
      (await t.call('GET', `${api}/experiments/get?experiment_id=${id}`)).json.experiment.name,
    ).toBe(name);
    const other = await create(uniq('other'));
    const taken = await t.call('POST', `${api}/experiments/update`, {
      experiment_id: other,
      new_name: name,
    });
    expect(taken.json.error_code).toBe('RESOURCE_ALREADY_EXISTS');

    await t.call('POST', `${api}/experiments/set-experiment-tag`, {
      experiment_id: id,
      key: 'a',
      value: '1',
    });
    await t.call('POST', `${api}/experiments/set-experiment-tag`, {
      experiment_id: id,
      key: 'b',
      value: '2',
    });
    await t.call('POST', `${api}/experiments/set-experiment-tag`, {
      experiment_id: id,
      key: 'a',
      value: '3',
    });
    const del = await t.call('POST', `${api}/experiments/delete-experiment-tag`, {
      experiment_id: id,
      key: 'b',
    });
    expect([del.status, del.json]).toEqual([200, {}]);
    expect(
      (await t.call('GET', `${api}/experiments/get?experiment_id=${id}`)).json.experiment.tags,
    ).toEqual([{ key: 'a', value: '3' }]);
    const gone = await t.call('POST', `${api}/experiments/delete-experiment-tag`, {
      experiment_id: id,
      key: 'b',
    });
    expect([gone.status, gone.json.error_code]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST']);

    expect((await t.call('POST', `${api}/experiments/delete`, { experiment_id: id })).status).toBe(
      200,
    );
    const deleted = await t.call('GET', `${api}/experiments/get?experiment_id=${id}`);
    expect(deleted.json.experiment.lifecycle_stage).toBe('deleted');
    const newRun = await t.call('POST', `${api}/runs/create`, { experiment_id: id });
    expect([newRun.status, newRun.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect((await t.call('POST', `${api}/experiments/restore`, { experiment_id: id })).status).toBe(
      200,
    );
    expect(
      (await t.call('GET', `${api}/experiments/get?experiment_id=${id}`)).json.experiment
        .lifecycle_stage,
    ).toBe('active');
  });

  it('searches by name, LIKE and tags, by view type, in order, one page at a time (POST, GET and list)', async () => {
    const prefix = uniq('srch');
    const ids = [];
    for (const n of ['a', 'b', 'c'])
      ids.push(await create(`${prefix}-${n}`, { tags: [{ key: 'k', value: n }] }));
    await t.call('POST', `${api}/experiments/delete`, { experiment_id: ids[2] });
    const names = (r: { json: { experiments?: { name: string }[] } }) =>
      (r.json.experiments ?? []).map((e) => e.name);

    const like = await t.call('POST', `${api}/experiments/search`, {
      filter: `name LIKE '${prefix}%'`,
      order_by: ['name DESC'],
    });
    expect(names(like)).toEqual([`${prefix}-b`, `${prefix}-a`]);
    const eq = await t.call('POST', `${api}/experiments/search`, {
      filter: `name = '${prefix}-a'`,
    });
    expect(names(eq)).toEqual([`${prefix}-a`]);
    const tag = await t.call('POST', `${api}/experiments/search`, {
      filter: `tags.k = 'b' and name ILIKE '${prefix.toUpperCase()}%'`,
    });
    expect(names(tag)).toEqual([`${prefix}-b`]);
    const all = await t.call('POST', `${api}/experiments/search`, {
      filter: `name LIKE '${prefix}%'`,
      view_type: 'ALL',
      order_by: ['name'],
    });
    expect(names(all)).toEqual([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
    const deleted = await t.call('POST', `${api}/experiments/search`, {
      filter: `name LIKE '${prefix}%'`,
      view_type: 'DELETED_ONLY',
    });
    expect(names(deleted)).toEqual([`${prefix}-c`]);

    const page1 = await t.call('POST', `${api}/experiments/search`, {
      filter: `name LIKE '${prefix}%'`,
      view_type: 'ALL',
      max_results: 2,
      order_by: ['name'],
    });
    expect(names(page1)).toHaveLength(2);
    const page2 = await t.call('POST', `${api}/experiments/search`, {
      filter: `name LIKE '${prefix}%'`,
      view_type: 'ALL',
      max_results: 2,
      order_by: ['name'],
      page_token: page1.json.next_page_token,
    });
    expect(names(page2)).toEqual([`${prefix}-c`]);
    expect(page2.json.next_page_token).toBeUndefined();

    const get = await t.call(
      'GET',
      `${api}/experiments/search?filter=${encodeURIComponent(`name LIKE '${prefix}%'`)}&max_results=1`,
    );
    expect(names(get)).toHaveLength(1);
    const list = await t.call('GET', `${api}/experiments/list?view_type=DELETED_ONLY`);
    expect(names(list)).toContain(`${prefix}-c`);

    const bad = await t.call('POST', `${api}/experiments/search`, { filter: 'name ~ 1' });
    expect([bad.status, bad.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(bad.json.message).toContain("'name ~ 1'");
    const token = await t.call('POST', `${api}/experiments/search`, { page_token: 'garbage' });
    expect(token.status).toBe(400);
  });

  it('needs a token allowed to create projects to create, and read on the project to read', async () => {
    const id = await create(uniq('guarded'));
    const tok = await t.call('POST', `/api/v1/projects/${id}/tokens`, { name: 'r', role: 'read' });
    const reader = tok.json.token as string;
    const denied = await t.call('POST', `${api}/experiments/create`, { name: uniq('x') }, reader);
    expect([denied.status, denied.json.error_code]).toEqual([403, 'PERMISSION_DENIED']);
    const read = await t.call(
      'GET',
      `${api}/experiments/get?experiment_id=${id}`,
      undefined,
      reader,
    );
    expect(read.status).toBe(200);
    const tag = await t.call(
      'POST',
      `${api}/experiments/set-experiment-tag`,
      { experiment_id: id, key: 'a', value: 'b' },
      reader,
    );
    expect(tag.json.error_code).toBe('PERMISSION_DENIED');
    const anon = await t.call('GET', `${api}/experiments/get?experiment_id=${id}`, undefined, null);
    expect([anon.status, anon.json.error_code]).toEqual([401, 'UNAUTHENTICATED']);
    const listed = await t.call('POST', `${api}/experiments/search`, {}, reader);
    expect(listed.json.experiments.map((e: { experiment_id: string }) => e.experiment_id)).toEqual([
      id,
    ]);
  });
});
