import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts } from '../../server/db/schema/index.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evidenceRows, forgettingScenario, releasePolicy } from '../helpers/evidence.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let projectId: number;
let otherId: number;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  projectId = (await t.call('POST', '/api/v1/projects', { name: 'support' })).json.id;
  otherId = (await t.call('POST', '/api/v1/projects', { name: 'other' })).json.id;
});
afterAll(() => database.drop());

const api = '/api/2.0/mlflow';
const call = (method: string, path: string, body?: object, token?: string) =>
  t.call(method, `${api}/${path}`, body, token);
const get = (path: string, query: Record<string, string | string[]>, token?: string) => {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    for (const one of Array.isArray(v) ? v : [v]) qs.append(k, one);
  return t.call('GET', `${api}/${path}?${qs}`, undefined, token);
};
const inSupport = { key: 'heldout.project', value: 'support' };
const error = (res: { status: number; json: { error_code: string; message: string } }) => [
  res.status,
  res.json.error_code,
  res.json.message,
];

/** Artifacts a run logged (rows only: the registry reads paths, sizes and hashes). */
async function logArtifacts(runId: string, paths: string[]) {
  await database.db.insert(artifacts).values(
    paths.map((path) => ({
      runId,
      path,
      sizeBytes: 10,
      sha256: randomUUID().replace(/-/g, ''),
      storageKey: randomUUID(),
    })),
  );
}

describe('MLflow registered models', () => {
  it('creates, reads, renames, updates and tags a model that /api/v1 shows too', async () => {
    const created = await call('POST', 'registered-models/create', {
      name: 'tagger',
      description: 'tags tickets',
      tags: [inSupport, { key: 'team', value: 'nlp' }],
    });
    expect(created.status).toBe(200);
    const model = created.json.registered_model;
    expect(model).toMatchObject({
      name: 'tagger',
      description: 'tags tickets',
      latest_versions: [],
      aliases: [],
    });
    expect(model.tags).toEqual(expect.arrayContaining([inSupport, { key: 'team', value: 'nlp' }]));
    expect(typeof model.creation_timestamp).toBe('number');
    expect(typeof model.last_updated_timestamp).toBe('number');

    expect(error(await call('POST', 'registered-models/create', { name: 'tagger' }))).toEqual([
      400,
      'RESOURCE_ALREADY_EXISTS',
      "Registered Model (name=tagger) already exists (in heldout project 'support')",
    ]);
    const badName = await call('POST', 'registered-models/create', { name: '1 bad' });
    expect(error(badName).slice(0, 2)).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(badName.json.message).toMatch(/^Invalid value for parameter 'name': /);
    expect(
      (await call('POST', 'registered-models/create', { tags: [inSupport] })).json.message,
    ).toMatch(/^Invalid value for parameter 'name'/);
    const noProject = await call('POST', 'registered-models/create', {
      name: 'x',
      tags: [{ key: 'heldout.project', value: 'nope' }],
    });
    expect(error(noProject)).toEqual([
      400,
      'INVALID_PARAMETER_VALUE',
      "tags: heldout.project names no project 'nope'",
    ]);

    expect((await get('registered-models/get', { name: 'tagger' })).json).toEqual(created.json);
    expect(error(await get('registered-models/get', { name: 'nope' }))).toEqual([
      404,
      'RESOURCE_DOES_NOT_EXIST',
      'Registered Model with name=nope not found',
    ]);

    const renamed = await call('POST', 'registered-models/rename', {
      name: 'tagger',
      new_name: 'ticket-tagger',
    });
    expect(renamed.json.registered_model.name).toBe('ticket-tagger');
    expect((await get('registered-models/get', { name: 'tagger' })).status).toBe(404);
    const updated = await call('PATCH', 'registered-models/update', {
      name: 'ticket-tagger',
      description: 'routes tickets',
    });
    expect(updated.json.registered_model.description).toBe('routes tickets');

    expect(
      (
        await call('POST', 'registered-models/set-tag', {
          name: 'ticket-tagger',
          key: 'owner',
          value: 'ana',
        })
      ).json,
    ).toEqual({});
    expect(
      (await call('DELETE', 'registered-models/delete-tag', { name: 'ticket-tagger', key: 'team' }))
        .json,
    ).toEqual({});
    const tagged = (await get('registered-models/get', { name: 'ticket-tagger' })).json;
    expect(tagged.registered_model.tags).toEqual(
      expect.arrayContaining([{ key: 'owner', value: 'ana' }, inSupport]),
    );
    expect(tagged.registered_model.tags).toHaveLength(2);
    const moveProject = await call('POST', 'registered-models/set-tag', {
      name: 'ticket-tagger',
      key: 'heldout.project',
      value: 'other',
    });
    expect(error(moveProject).slice(0, 2)).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    expect(moveProject.json.message).toMatch(/parameter 'key'/);

    // One data model: heldout's own API shows what MLflow wrote.
    const v1 = await t.call('GET', '/api/v1/projects/support/models/ticket-tagger');
    expect(v1.json).toMatchObject({
      name: 'ticket-tagger',
      description: 'routes tickets',
      projectId,
    });
  });

  it('puts a model in the token\'s project, or "Default", and says when a name is ambiguous', async () => {
    const writer = await t.call('POST', '/api/v1/projects/other/tokens', {
      name: 'ci',
      role: 'write',
    });
    const reader = await t.call('POST', '/api/v1/projects/support/tokens', {
      name: 'dash',
      role: 'read',
    });
    const scoped = await call(
      'POST',
      'registered-models/create',
      { name: 'ranker' },
      writer.json.token,
    );
    expect(scoped.json.registered_model.tags).toEqual([{ key: 'heldout.project', value: 'other' }]);
    expect((await t.call('GET', '/api/v1/projects/other/models/ranker')).status).toBe(200);

    const fallback = await call('POST', 'registered-models/create', { name: 'loose' });
    expect(fallback.json.registered_model.tags).toEqual([
      { key: 'heldout.project', value: 'Default' },
    ]);
    expect((await t.call('GET', '/api/v1/projects/Default/models/loose')).status).toBe(200);

    // The same name in two projects, made through heldout's own API.
    await t.call('POST', '/api/v1/projects/support/models', { name: 'twin' });
    await t.call('POST', '/api/v1/projects/other/models', { name: 'twin' });
    expect(error(await get('registered-models/get', { name: 'twin' }))).toEqual([
      400,
      'INVALID_PARAMETER_VALUE',
      "name: registered model 'twin' exists in several heldout projects (other, support); name it as '<project>/twin' or use a token scoped to one project",
    ]);
    const qualified = await get('registered-models/get', { name: 'support/twin' });
    expect(qualified.json.registered_model.tags).toEqual([inSupport]);
    // A scoped token sees one project, so the name is not ambiguous for it.
    const seen = await get('registered-models/get', { name: 'twin' }, writer.json.token);
    expect(seen.json.registered_model.tags).toEqual([{ key: 'heldout.project', value: 'other' }]);
    expect((await get('registered-models/get', { name: 'ranker' }, reader.json.token)).status).toBe(
      404,
    );
    const denied = await call(
      'POST',
      'registered-models/create',
      { name: 'nope', tags: [inSupport] },
      reader.json.token,
    );
    expect(error(denied).slice(0, 2)).toEqual([403, 'PERMISSION_DENIED']);
    expect(
      (
        await call(
          'PATCH',
          'registered-models/update',
          { name: 'ticket-tagger', description: 'x' },
          reader.json.token,
        )
      ).status,
    ).toBe(403);
  });

  it('searches by name with filters, order and pages', async () => {
    for (const name of ['page-a', 'page-b', 'page-c'])
      await call('POST', 'registered-models/create', { name, tags: [inSupport] });
    const first = await get('registered-models/search', {
      filter: "name LIKE 'page-%'",
      max_results: '2',
    });
    expect(first.json.registered_models.map((m: { name: string }) => m.name)).toEqual([
      'page-a',
      'page-b',
    ]);
    const second = await get('registered-models/search', {
      filter: "name LIKE 'page-%'",
      max_results: '2',
      page_token: first.json.next_page_token,
    });
    expect(second.json).toEqual({
      registered_models: [expect.objectContaining({ name: 'page-c' })],
    });
    const desc = await call('POST', 'registered-models/search', {
      filter: "name ILIKE 'PAGE-%'",
      order_by: ['name DESC'],
    });
    expect(desc.json.registered_models.map((m: { name: string }) => m.name)).toEqual([
      'page-c',
      'page-b',
      'page-a',
    ]);
    const exact = await get('registered-models/search', { filter: "name = 'page-b'" });
    expect(exact.json.registered_models).toHaveLength(1);
    const bad = await get('registered-models/search', { filter: "owner = 'x'" });
    expect(error(bad)).toEqual([
      400,
      'INVALID_PARAMETER_VALUE',
      `Invalid value for parameter 'filter': cannot search by "owner"; searchable: name`,
    ]);
    expect((await get('registered-models/search', { page_token: 'zz' })).json.message).toMatch(
      /parameter 'page_token'/,
    );
    expect((await get('registered-models/search', { max_results: '0' })).json.message).toMatch(
      /parameter 'max_results'/,
    );
    expect((await get('registered-models/search', { order_by: 'size' })).json.message).toMatch(
      /parameter 'order_by'/,
    );
  });
});

describe('MLflow model versions', () => {
  it("registers versions from a run's checkpoints or logged model files", async () => {
    const rows = evidenceRows(database, projectId);
    const run = await rows.run();
    const step100 = await rows.checkpoint({
      runId: run,
      step: 100,
      storageKey: 'checkpoints/step-100',
    });
    await call('POST', 'registered-models/create', { name: 'bot-a', tags: [inSupport] });
    const v1 = await call('POST', 'model-versions/create', {
      name: 'bot-a',
      source: `runs:/${run}/checkpoints/step-100`,
      run_id: run,
      description: 'first',
      tags: [{ key: 'data', value: 'v1' }],
    });
    expect(v1.status, JSON.stringify(v1.json)).toBe(200);
    expect(v1.json.model_version).toMatchObject({
      name: 'bot-a',
      version: '1',
      current_stage: 'None',
      description: 'first',
      source: `runs:/${run}/checkpoints/step-100`,
      run_id: run,
      status: 'READY',
      tags: [{ key: 'data', value: 'v1' }],
      aliases: [],
    });
    expect(typeof v1.json.model_version.creation_timestamp).toBe('number');
    // The whole run: its newest checkpoint.
    const v2 = await call('POST', 'model-versions/create', {
      name: 'bot-a',
      source: `runs:/${run}`,
    });
    expect(v2.json.model_version.version).toBe('2');

    // A model an MLflow client logged as files, registered by its resolved artifact URI.
    const logged = await rows.run();
    await logArtifacts(logged, ['model/MLmodel', 'model/model.pkl', 'other.txt']);
    const uri = `mlflow-artifacts:/${projectId}/${logged}/artifacts/model`;
    const v3 = await call('POST', 'model-versions/create', {
      name: 'bot-a',
      source: uri,
      run_id: logged,
    });
    expect(v3.json.model_version).toMatchObject({ version: '3', source: uri, run_id: logged });
    const v4 = await call('POST', 'model-versions/create', {
      name: 'bot-a',
      source: `runs:/${logged}/model`,
    });
    expect(v4.json.model_version.version).toBe('4');

    const detail = await t.call('GET', '/api/v1/projects/support/models/bot-a');
    const versions = detail.json.versions as { version: number; checkpointId: string }[];
    expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4]);
    expect(versions[0]!.checkpointId).toBe(step100);
    expect(versions[1]!.checkpointId).toBe(step100);
    // The logged files became one checkpoint, found again rather than made twice.
    expect(versions[3]!.checkpointId).toBe(versions[2]!.checkpointId);
    const checkpoint = await t.call('GET', `/api/v1/runs/${logged}/checkpoints`);
    if (checkpoint.status === 200)
      expect(JSON.stringify(checkpoint.json)).toContain(versions[2]!.checkpointId);

    const errors = [
      [{ source: `runs:/${logged}/nothing` }, /^source: run .* has no artifacts under 'nothing'/],
      [{ source: 's3://bucket/model' }, /^Invalid value for parameter 'source': .*run's artifacts/],
      [{ source: `runs:/${run}/model`, run_id: logged }, /^Invalid value for parameter 'run_id'/],
      [{ source: `runs:/${randomUUID()}/model` }, /^run_id: no run .* in the registered model/],
      [{ source: 'runs:/not-a-run/model' }, /^run_id: no run not-a-run/],
    ] as const;
    for (const [body, message] of errors) {
      const res = await call('POST', 'model-versions/create', { name: 'bot-a', ...body });
      expect([res.status, res.json.error_code], JSON.stringify(body)).toEqual([
        400,
        'INVALID_PARAMETER_VALUE',
      ]);
      expect(res.json.message).toMatch(message);
    }
    const elsewhere = await evidenceRows(database, otherId).run();
    await logArtifacts(elsewhere, ['model/MLmodel']);
    const foreign = await call('POST', 'model-versions/create', {
      name: 'bot-a',
      source: `runs:/${elsewhere}/model`,
    });
    expect(foreign.json.message).toMatch(
      /^run_id: no run .* in the registered model's heldout project/,
    );
    expect(
      (await call('POST', 'model-versions/create', { name: 'nope', source: `runs:/${run}` }))
        .status,
    ).toBe(404);

    // Read, update, tag, search, download.
    const got = await get('model-versions/get', { name: 'bot-a', version: '1' });
    expect(got.json).toEqual(v1.json);
    expect(error(await get('model-versions/get', { name: 'bot-a', version: '9' }))).toEqual([
      404,
      'RESOURCE_DOES_NOT_EXIST',
      'Model Version (name=bot-a, version=9) not found',
    ]);
    expect((await get('model-versions/get', { name: 'bot-a', version: 'x' })).json.message).toMatch(
      /^Invalid value for parameter 'version'/,
    );
    const upd = await call('PATCH', 'model-versions/update', {
      name: 'bot-a',
      version: '1',
      description: 'the first',
    });
    expect(upd.json.model_version.description).toBe('the first');
    await call('POST', 'model-versions/set-tag', {
      name: 'bot-a',
      version: '1',
      key: 'ok',
      value: 'yes',
    });
    await call('DELETE', 'model-versions/delete-tag', { name: 'bot-a', version: '1', key: 'data' });
    expect(
      (await get('model-versions/get', { name: 'bot-a', version: '1' })).json.model_version.tags,
    ).toEqual([{ key: 'ok', value: 'yes' }]);
    const byRun = await get('model-versions/search', { filter: `run_id = '${logged}'` });
    expect(byRun.json.model_versions.map((v: { version: string }) => v.version)).toEqual([
      '4',
      '3',
    ]);
    const byName = await get('model-versions/search', {
      filter: "name='bot-a'",
      max_results: '3',
      order_by: 'version_number ASC',
    });
    expect(byName.json.model_versions.map((v: { version: string }) => v.version)).toEqual([
      '1',
      '2',
      '3',
    ]);
    expect(byName.json.next_page_token).toEqual(expect.any(String));
    expect((await get('model-versions/search', { filter: "run_id = 'x'" })).json).toEqual({
      model_versions: [],
    });
    expect(
      (await get('model-versions/get-download-uri', { name: 'bot-a', version: '1' })).json,
    ).toEqual({
      artifact_uri: `mlflow-artifacts:/${projectId}/${run}/artifacts/checkpoints/step-100`,
    });
    expect(
      (await get('model-versions/get-download-uri', { name: 'bot-a', version: '3' })).json,
    ).toEqual({
      artifact_uri: uri,
    });

    // Aliases that nothing protects move by hand, as in MLflow.
    expect(
      (
        await call('POST', 'registered-models/alias', {
          name: 'bot-a',
          alias: 'champion',
          version: '2',
        })
      ).json,
    ).toEqual({});
    const byAlias = await get('registered-models/alias', { name: 'bot-a', alias: 'champion' });
    expect(byAlias.json.model_version).toMatchObject({ version: '2', aliases: ['champion'] });
    expect(
      (await get('registered-models/get', { name: 'bot-a' })).json.registered_model.aliases,
    ).toEqual([{ alias: 'champion', version: '2' }]);
    const heldoutAlias = await t.call(
      'GET',
      '/api/v1/projects/support/models/bot-a/aliases/champion',
    );
    expect(heldoutAlias.json).toMatchObject({ version: 2, protected: false });
    const badAlias = await call('POST', 'registered-models/alias', {
      name: 'bot-a',
      alias: 'no spaces',
      version: '2',
    });
    expect(badAlias.json.message).toMatch(/^Invalid value for parameter 'alias'/);
    expect(
      (await call('DELETE', 'registered-models/alias', { name: 'bot-a', alias: 'champion' })).json,
    ).toEqual({});
    expect(
      error(await get('registered-models/alias', { name: 'bot-a', alias: 'champion' })),
    ).toEqual([
      404,
      'RESOURCE_DOES_NOT_EXIST',
      'Registered model alias champion not found for model bot-a',
    ]);

    // Deleting: a version, then the model.
    await call('POST', 'registered-models/alias', { name: 'bot-a', alias: 'old', version: '4' });
    expect(
      (await call('DELETE', 'model-versions/delete', { name: 'bot-a', version: '4' })).json,
    ).toEqual({});
    expect((await get('model-versions/get', { name: 'bot-a', version: '4' })).status).toBe(404);
    expect((await get('registered-models/alias', { name: 'bot-a', alias: 'old' })).status).toBe(
      404,
    );
    expect((await call('DELETE', 'registered-models/delete', { name: 'bot-a' })).json).toEqual({});
    expect((await get('registered-models/get', { name: 'bot-a' })).status).toBe(404);
    expect((await t.call('GET', '/api/v1/projects/support/models/bot-a')).status).toBe(404);
  });
});

describe('MLflow stages over heldout aliases', () => {
  it('moves a protected production alias only on a passing verdict', async () => {
    const { good, forgot, run1 } = await forgettingScenario(database, projectId);
    await t.call('POST', '/api/v1/projects/support/gates', {
      name: 'release',
      policy: releasePolicy,
    });
    await call('POST', 'registered-models/create', { name: 'bot', tags: [inSupport] });
    for (const checkpointId of [good, forgot, good])
      await t.call('POST', '/api/v1/projects/support/models/bot/versions', { checkpointId });
    const transition = (version: string, stage: string, extra: object = {}) =>
      call('POST', 'model-versions/transition-stage', { name: 'bot', version, stage, ...extra });

    // Staging is an ordinary alias here: it moves.
    const staged = await transition('2', 'staging');
    expect(staged.json.model_version).toMatchObject({
      version: '2',
      current_stage: 'Staging',
      aliases: ['staging'],
    });
    // Production is protected, through heldout, with a passing verdict for version 1.
    const first = await t.call('POST', '/api/v1/promotions', {
      project: 'support',
      model: 'bot',
      version: 1,
      alias: 'production',
      protected: true,
      gate: 'release',
    });
    expect(first.status).toBe(201);
    const latest = await call('POST', 'registered-models/get-latest-versions', {
      name: 'bot',
      stages: ['Production'],
    });
    expect(latest.json.model_versions.map((v: { version: string }) => v.version)).toEqual(['1']);

    // Version 2 forgot general skills: the gate bound to production fails it, and MLflow cannot
    // move production, neither by stage nor by alias.
    const refused = await transition('2', 'Production');
    expect(error(refused)).toEqual([
      400,
      'INVALID_STATE',
      expect.stringMatching(
        /^alias 'production' of registered model 'bot' is protected in heldout and moves only to a version that passes its gate: gate: gate "release" says fail for version 2 of "bot"; "production" was not moved$/,
      ),
    ]);
    const byAlias = await call('POST', 'registered-models/alias', {
      name: 'bot',
      alias: 'production',
      version: '2',
    });
    expect(error(byAlias).slice(0, 2)).toEqual([400, 'INVALID_STATE']);
    expect(
      (await t.call('GET', '/api/v1/projects/support/models/bot/aliases/production')).json.version,
    ).toBe(1);
    expect(
      (await get('model-versions/get', { name: 'bot', version: '2' })).json.model_version
        .current_stage,
    ).toBe('Staging');
    expect(
      (await call('DELETE', 'registered-models/alias', { name: 'bot', alias: 'production' })).json
        .error_code,
    ).toBe('INVALID_STATE');

    // Version 3 (the good checkpoint again) passes the bound gate: MLflow promotes it.
    const promoted = await transition('3', 'Production', { archive_existing_versions: true });
    expect(promoted.status, JSON.stringify(promoted.json)).toBe(200);
    expect(promoted.json.model_version).toMatchObject({
      version: '3',
      current_stage: 'Production',
      aliases: ['production'],
    });
    const alias = await t.call('GET', '/api/v1/projects/support/models/bot/aliases/production');
    expect(alias.json).toMatchObject({ version: 3, protected: true });
    const trail = await t.call('GET', '/api/v1/projects/support/models/bot/promotions');
    expect(trail.json.promotions[0]).toMatchObject({
      alias: 'production',
      fromVersion: 1,
      toVersion: 3,
      verdictId: expect.any(String),
      verdictOutcome: 'pass',
      reason: 'MLflow API',
    });
    const all = await get('registered-models/get-latest-versions', { name: 'bot' });
    expect(
      all.json.model_versions.map((v: { version: string; current_stage: string }) => [
        v.current_stage,
        v.version,
      ]),
    ).toEqual([
      ['None', '1'],
      ['Staging', '2'],
      ['Production', '3'],
    ]);
    expect(
      (await get('registered-models/get', { name: 'bot' })).json.registered_model.latest_versions,
    ).toHaveLength(3);

    // What production serves cannot be archived or deleted from under it.
    expect((await transition('3', 'Archived')).json.message).toBe(
      "version 3 of 'bot' is what the protected alias 'production' serves; transition another version to Production first",
    );
    expect(
      error(await call('DELETE', 'model-versions/delete', { name: 'bot', version: '3' })).slice(
        0,
        2,
      ),
    ).toEqual([400, 'INVALID_STATE']);
    expect(
      (await call('DELETE', 'registered-models/delete', { name: 'bot' })).json.error_code,
    ).toBe('INVALID_STATE');
    // Leaving Staging takes the unprotected staging alias with it.
    expect((await transition('2', 'Archived')).json.model_version).toMatchObject({
      current_stage: 'Archived',
      aliases: [],
    });
    expect(error(await transition('2', 'Prod')).slice(0, 2)).toEqual([
      400,
      'INVALID_PARAMETER_VALUE',
    ]);
    expect((await transition('2', 'Prod')).json.message).toMatch(
      /^Invalid value for parameter 'stage'/,
    );
    expect(run1).toBeTruthy();
  });
});
