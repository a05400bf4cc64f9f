import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { forgettingScenario, releasePolicy } from '../helpers/evidence.ts';

// Each test is an attack by a project member holding a write token (what every training pipeline
// and MLflow script holds), followed by the path that is allowed.

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let projectId: number;
let writer: string;
let good: string;
let forgot: string;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  projectId = (await t.call('POST', '/api/v1/projects', { name: 'bank' })).json.id;
  ({ good, forgot } = await forgettingScenario(database, projectId));
  writer = (await t.call('POST', '/api/v1/projects/bank/tokens', { name: 'ci', role: 'write' }))
    .json.token;
  expect(
    (
      await t.call('POST', '/api/v1/projects/bank/gates', {
        name: 'release',
        policy: releasePolicy,
      })
    ).status,
  ).toBe(201);
  await t.call('POST', `${models}`, { name: 'bot' });
  // v1 good, v2 forgot general skills (fails release), v3 good again.
  for (const checkpointId of [good, forgot, good])
    await t.call('POST', `${models}/bot/versions`, { checkpointId });
  const first = await asWriter('POST', '/api/v1/promotions', {
    ...bot,
    version: 1,
    alias: 'production',
    gate: 'release',
  });
  expect(first.status, JSON.stringify(first.json)).toBe(201);
});
afterAll(() => database.drop());

const models = '/api/v1/projects/bank/models';
const bot = { project: 'bank', model: 'bot' };
const asWriter = (method: string, path: string, body?: unknown) =>
  t.call(method, path, body, writer);
const production = async () =>
  (await t.call('GET', `${models}/bot/aliases/production`)).json.version as number;
const rules = async () =>
  (await t.call('GET', '/api/v1/projects/bank/protected-aliases')).json.aliases as {
    alias: string;
    protected: boolean;
    gate: { name: string; version: number } | null;
  }[];
const mlflow = (path: string, body: unknown) =>
  t.call('POST', `/api/2.0/mlflow/${path}`, body, writer);

describe('a protected alias is bound to its gate', () => {
  it('production is protected from the start and the first passing promotion bound its gate', async () => {
    expect(await rules()).toEqual([
      expect.objectContaining({
        alias: 'production',
        protected: true,
        gate: expect.objectContaining({ name: 'release', version: 1 }),
      }),
    ]);
    const fresh = (await t.call('POST', '/api/v1/projects', { name: 'fresh' })).json.name;
    expect(fresh).toBe('fresh');
    const list = await t.call('GET', '/api/v1/projects/fresh/protected-aliases');
    expect(list.json.aliases).toEqual([
      expect.objectContaining({
        alias: 'production',
        protected: true,
        gate: null,
        source: 'default',
      }),
    ]);
  });

  it('refuses a verdict of a gate the writer authored (bypass 1: an always-pass gate)', async () => {
    const yolo = await asWriter('POST', '/api/v1/projects/bank/gates', {
      name: 'yolo',
      policy: { kind: 'no_blocking_findings', detectors: ['none'] },
    });
    expect(yolo.status, JSON.stringify(yolo.json)).toBe(201);
    const byName = await asWriter('POST', '/api/v1/promotions', {
      ...bot,
      version: 2,
      alias: 'production',
      gate: 'yolo',
    });
    expect([byName.status, byName.json.error.message]).toEqual([
      409,
      'gate: "production" is protected by gate "release" v1; a verdict of gate "yolo" does not count',
    ]);
    const judged = await asWriter('POST', '/api/v1/projects/bank/gates/yolo/verdicts', {
      model: 'bot',
      version: 2,
    });
    expect(judged.json.outcome).toBe('pass');
    const byId = await asWriter('POST', '/api/v1/promotions', {
      ...bot,
      version: 2,
      alias: 'production',
      verdictId: judged.json.id,
    });
    expect([byId.status, byId.json.error.message]).toEqual([
      409,
      'verdictId: "production" is protected by gate "release" v1; a verdict of gate "yolo" v1 does not count',
    ]);
    expect(await production()).toBe(1);
  });

  it('refuses a writer re-versioning the bound gate (bypass 2: release with min -1)', async () => {
    const loosened = structuredClone(releasePolicy);
    loosened.checks[0] = { ...loosened.checks[0]!, min: -1 } as (typeof loosened.checks)[0];
    const resaved = await asWriter('POST', '/api/v1/projects/bank/gates', {
      name: 'release',
      policy: loosened,
    });
    expect([resaved.status, resaved.json.error.message]).toEqual([
      403,
      expect.stringMatching(/^name: only an admin token re-versions gate "release": it is bound/),
    ]);
    expect((await t.call('GET', '/api/v1/projects/bank/gates/release')).json.version).toBe(1);
    // The same policy again is no new version: a pipeline that saves its gate each run still works.
    const same = await asWriter('POST', '/api/v1/projects/bank/gates', {
      name: 'release',
      policy: releasePolicy,
    });
    expect([same.status, same.json.version]).toEqual([200, 1]);
    // A gate no alias is bound to stays the writer's to edit.
    const unbound = await asWriter('POST', '/api/v1/projects/bank/gates', {
      name: 'yolo',
      policy: releasePolicy,
    });
    expect([unbound.status, unbound.json.version]).toEqual([201, 2]);
  });

  it('refuses a writer unprotecting the alias (bypass 3: protected false, then a plain PUT)', async () => {
    const unprotect = await asWriter('POST', '/api/v1/promotions', {
      ...bot,
      version: 1,
      alias: 'production',
      protected: false,
    });
    expect([unprotect.status, unprotect.json.error.message]).toEqual([
      403,
      'protected: only an admin token unprotects an alias; this one is write',
    ]);
    const rule = await asWriter('PUT', '/api/v1/projects/bank/protected-aliases/production', {
      protected: false,
    });
    expect([rule.status, rule.json.error.message]).toEqual([
      403,
      'protected: only an admin token protects or unprotects an alias or binds its gate; this one is write',
    ]);
    const put = await asWriter('PUT', `${models}/bot/aliases/production`, { version: 2 });
    expect([put.status, put.json.error.message]).toEqual([
      409,
      expect.stringMatching(/^alias: "production" is protected/),
    ]);
    // Protecting another alias is an admin act too, with or without a verdict.
    const protect = await asWriter('POST', '/api/v1/promotions', {
      ...bot,
      version: 1,
      alias: 'canary',
      protected: true,
      gate: 'release',
    });
    expect([protect.status, protect.json.error.message]).toEqual([
      403,
      'protected: only an admin token protects an alias; this one is write',
    ]);
    expect(await production()).toBe(1);
  });

  it('refuses MLflow stage and alias moves the bound gate fails (bypass 4), even on another gate passing', async () => {
    // The newest verdict on v2 is a pass of the writer's own gate: it must not count.
    const judged = await asWriter('POST', '/api/v1/projects/bank/gates/yolo/verdicts', {
      model: 'bot',
      version: 2,
      gateVersion: 1,
    });
    expect(judged.json.outcome).toBe('pass');
    const stage = await mlflow('model-versions/transition-stage', {
      name: 'bot',
      version: '2',
      stage: 'Production',
    });
    expect([stage.status, stage.json.error_code]).toEqual([400, 'INVALID_STATE']);
    expect(stage.json.message).toMatch(/gate "release" says fail for version 2/);
    const alias = await mlflow('registered-models/alias', {
      name: 'bot',
      alias: 'production',
      version: '2',
    });
    expect([alias.status, alias.json.error_code]).toEqual([400, 'INVALID_STATE']);
    const dropped = await t.call(
      'DELETE',
      '/api/2.0/mlflow/registered-models/alias',
      { name: 'bot', alias: 'production' },
      writer,
    );
    expect(dropped.json.error_code).toBe('INVALID_STATE');
    expect(await production()).toBe(1);

    // v3 passes the bound gate: MLflow's stage call promotes it, judged by release v1.
    const ok = await mlflow('model-versions/transition-stage', {
      name: 'bot',
      version: '3',
      stage: 'Production',
    });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    expect(await production()).toBe(3);
    const trail = await t.call('GET', `${models}/bot/promotions`);
    const verdict = await t.call('GET', `/api/v1/verdicts/${trail.json.promotions[0].verdictId}`);
    expect(verdict.json.gate).toEqual({ name: 'release', version: 1 });
  });

  it('lets an admin re-version the bound gate, which re-pins the alias, and rebind or unprotect it', async () => {
    const stricter = structuredClone(releasePolicy);
    stricter.checks[0] = { ...stricter.checks[0]!, min: 0.6 } as (typeof stricter.checks)[0];
    const saved = await t.call('POST', '/api/v1/projects/bank/gates', {
      name: 'release',
      policy: stricter,
    });
    expect([saved.status, saved.json.version]).toEqual([201, 2]);
    expect((await rules())[0]!.gate).toMatchObject({ name: 'release', version: 2 });
    // A verdict of the old version no longer counts.
    const old = await t.call('POST', '/api/v1/projects/bank/gates/release/verdicts', {
      model: 'bot',
      version: 1,
      gateVersion: 1,
    });
    const stale = await asWriter('POST', '/api/v1/promotions', {
      ...bot,
      version: 1,
      alias: 'production',
      verdictId: old.json.id,
    });
    expect([stale.status, stale.json.error.message]).toEqual([
      409,
      'verdictId: "production" is protected by gate "release" v2; a verdict of gate "release" v1 does not count',
    ]);

    const pinned = await t.call('PUT', '/api/v1/projects/bank/protected-aliases/production', {
      gate: 'release',
      gateVersion: 1,
    });
    expect(pinned.json).toMatchObject({ protected: true, gate: { name: 'release', version: 1 } });
    const missing = await t.call('PUT', '/api/v1/projects/bank/protected-aliases/production', {
      gate: 'nope',
    });
    expect([missing.status, missing.json.error.message]).toEqual([
      404,
      'gate: gate "nope" not found',
    ]);
    const unknownKey = await t.call('PUT', '/api/v1/projects/bank/protected-aliases/production', {
      gates: 'release',
    });
    expect(unknownKey.status).toBe(400);

    const off = await t.call('PUT', '/api/v1/projects/bank/protected-aliases/production', {
      protected: false,
    });
    expect(off.json).toMatchObject({ protected: false, gate: null });
    expect((await t.call('GET', `${models}/bot/aliases/production`)).json.protected).toBe(false);
    const put = await asWriter('PUT', `${models}/bot/aliases/production`, { version: 1 });
    expect(put.status).toBe(200);
    const on = await t.call('PUT', '/api/v1/projects/bank/protected-aliases/production', {
      gate: 'release',
    });
    expect(on.json).toMatchObject({ protected: true, gate: { name: 'release', version: 2 } });
    expect((await t.call('GET', `${models}/bot/aliases/production`)).json.protected).toBe(true);
  });
});

describe('the first promotion to an unbound protected alias', () => {
  it("binds only a gate an admin saved: a writer's own gate never becomes the alias's gate", async () => {
    const other = (await t.call('POST', '/api/v1/projects', { name: 'loans' })).json.id as number;
    const scenario = await forgettingScenario(database, other);
    const loans = '/api/v1/projects/loans';
    const token = (await t.call('POST', `${loans}/tokens`, { name: 'ci', role: 'write' })).json
      .token as string;
    await t.call('POST', `${loans}/models`, { name: 'bot' });
    await t.call('POST', `${loans}/models/bot/versions`, { checkpointId: scenario.good });
    const own = await t.call(
      'POST',
      `${loans}/gates`,
      { name: 'mine', policy: { kind: 'no_blocking_findings' } },
      token,
    );
    expect(own.status).toBe(201);
    const promote = (gate: string) =>
      t.call(
        'POST',
        '/api/v1/promotions',
        { project: 'loans', model: 'bot', version: 1, alias: 'production', gate },
        token,
      );
    const refused = await promote('mine');
    expect([refused.status, refused.json.error.message]).toEqual([
      409,
      expect.stringMatching(
        /^gate: "production" is protected and no gate is bound to it yet; gate "mine" v1 was not saved by an admin/,
      ),
    ]);
    expect((await t.call('GET', `${loans}/protected-aliases`)).json.aliases[0].gate).toBeNull();
    // Not even when an admin's pipeline promotes with it: it names a gate, not a version it read.
    const byAdmin = await t.call('POST', '/api/v1/promotions', {
      project: 'loans',
      model: 'bot',
      version: 1,
      alias: 'production',
      gate: 'mine',
    });
    expect([byAdmin.status, byAdmin.json.error.message]).toEqual([
      409,
      expect.stringMatching(/^gate: "production" is protected and no gate is bound to it yet/),
    ]);

    await t.call('POST', `${loans}/gates`, { name: 'release', policy: releasePolicy });
    const bound = await promote('release');
    expect(bound.status, JSON.stringify(bound.json)).toBe(201);
    expect((await t.call('GET', `${loans}/protected-aliases`)).json.aliases[0].gate).toMatchObject({
      name: 'release',
      version: 1,
    });
  });

  it('makes an admin binding "the latest" version name it when a write token saved that version', async () => {
    const fresh = '/api/v1/projects/fresh';
    const token = (await t.call('POST', `${fresh}/tokens`, { name: 'ci', role: 'write' })).json
      .token as string;
    const saved = await t.call(
      'POST',
      `${fresh}/gates`,
      { name: 'release', policy: { kind: 'no_blocking_findings' } },
      token,
    );
    expect(saved.status).toBe(201);
    const latest = await t.call('PUT', `${fresh}/protected-aliases/production`, {
      gate: 'release',
    });
    expect([latest.status, latest.json.error.message]).toEqual([
      409,
      'gate: the latest version of gate "release" (v1) was not saved by an admin; read it, then name it with gateVersion to bind it anyway, or save the policy you mean as an admin',
    ]);
    const named = await t.call('PUT', `${fresh}/protected-aliases/production`, {
      gate: 'release',
      gateVersion: 1,
    });
    expect(named.json).toMatchObject({ protected: true, gate: { name: 'release', version: 1 } });
  });
});
