import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evidenceRows, forgettingScenario, releasePolicy } from '../helpers/evidence.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let projectId: number;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  projectId = (await t.call('POST', '/api/v1/projects', { name: 'support' })).json.id;
});
afterAll(() => database.drop());

const gates = '/api/v1/projects/support/gates';

describe('gates', () => {
  it('keep a version per distinct policy: the same policy is the same version', async () => {
    const first = await t.call('POST', gates, { name: 'release', policy: releasePolicy });
    expect(first.status).toBe(201);
    expect(first.json).toMatchObject({ name: 'release', version: 1, policy: releasePolicy });

    // Same checks, keys in another order: still version 1.
    const reordered = {
      checks: releasePolicy.checks.map((c) => Object.fromEntries(Object.entries(c).reverse())),
      kind: 'all',
    };
    const same = await t.call('POST', gates, { name: 'release', policy: reordered });
    expect([same.status, same.json.version, same.json.id]).toEqual([200, 1, first.json.id]);

    const stricter = { kind: 'all', checks: [...releasePolicy.checks.slice(0, 1)] };
    const second = await t.call('POST', gates, {
      name: 'release',
      policy: stricter,
      description: 'qa only',
    });
    expect([second.status, second.json.version]).toEqual([201, 2]);
    await t.call('POST', gates, { name: 'smoke', policy: { kind: 'no_blocking_findings' } });

    const list = await t.call('GET', gates);
    expect(
      list.json.gates.map((g: { name: string; version: number }) => [g.name, g.version]),
    ).toEqual([
      ['release', 2],
      ['smoke', 1],
    ]);
    expect((await t.call('GET', `${gates}/release`)).json.policy).toEqual(stricter);
    const v1 = await t.call('GET', `${gates}/release?version=1`);
    expect(v1.json.policy).toEqual(releasePolicy);
    expect((await t.call('GET', `${gates}/release?version=9`)).status).toBe(404);
    expect((await t.call('GET', `${gates}/nope`)).status).toBe(404);
    // Back to the first policy: a change again, so a new version (verdicts keep theirs).
    const back = await t.call('POST', gates, { name: 'release', policy: releasePolicy });
    expect([back.status, back.json.version]).toEqual([201, 3]);
  });

  it('refuse a bad policy with a 400 naming policy.<path>', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { kind: 'all', checks: [{ kind: 'threshold', suite: 'qa', min: 1 }] },
        /^policy\.checks\[0\]\.metric: /,
      ],
      [{ kind: 'threshold', suite: 'qa', metric: 'em' }, /^policy\.min: a threshold needs min/],
      [{ kind: 'all', checks: [] }, /^policy\.checks: /],
      [{ kind: 'bogus' }, /^policy\.kind: /],
      ['all', /^policy: /],
    ];
    for (const [policy, message] of cases) {
      const res = await t.call('POST', gates, { name: 'bad', policy });
      expect(res.status, JSON.stringify(policy)).toBe(400);
      expect(res.json.error.message).toMatch(message);
    }
    const noName = await t.call('POST', gates, { policy: releasePolicy });
    expect([noName.status, noName.json.error.message]).toEqual([
      400,
      expect.stringMatching(/^name: /),
    ]);
    const badVersion = await t.call('GET', `${gates}/release?version=x`);
    expect([badVersion.status, badVersion.json.error.message]).toEqual([
      400,
      expect.stringMatching(/^version: /),
    ]);
    expect((await t.call('GET', '/api/v1/projects/nope/gates')).status).toBe(404);
    expect((await t.call('GET', gates, undefined, null)).status).toBe(401);
  });
});

describe('verdicts', () => {
  it('pass a checkpoint that kept its general skills and fail one that forgot them', async () => {
    const { good, forgot } = await forgettingScenario(database, projectId);
    await t.call('POST', gates, { name: 'release', policy: releasePolicy });
    const models = '/api/v1/projects/support/models';
    await t.call('POST', models, { name: 'bot' });
    expect((await t.call('POST', `${models}/bot/versions`, { checkpointId: good })).status).toBe(
      201,
    );
    await t.call('POST', `${models}/bot/versions`, { checkpointId: forgot });

    const pass = await t.call('POST', `${gates}/release/verdicts`, { model: 'bot', version: 1 });
    expect(pass.status, JSON.stringify(pass.json)).toBe(201);
    expect(pass.json).toMatchObject({
      model: 'bot',
      version: 1,
      gate: { name: 'release', version: 3 },
      outcome: 'pass',
    });
    // The inactive suite, the failed evaluation on general v2, and the blocking finding on
    // another checkpoint of the same run are not evidence about this version.
    expect(pass.json.checks.map((c: { suite?: string }) => c.suite)).toEqual([
      'qa',
      'general',
      'general',
      undefined,
    ]);
    expect(pass.json.checks[1]).toMatchObject({ observed: 0.875, baseline: 0.875 });

    const fail = await t.call('POST', `${gates}/release/verdicts`, { model: 'bot', version: 2 });
    expect(fail.json.outcome).toBe('fail');
    const byKind = Object.fromEntries(
      fail.json.checks.map((c: { kind: string; outcome: string }) => [c.kind, c]),
    );
    // Its base is the root of its lineage (run2 continued from `good`, whose run started from
    // the built-in model), not the checkpoint it continued from.
    expect(byKind.threshold.outcome).toBe('pass');
    expect(byKind.change).toMatchObject({ outcome: 'fail', observed: 0.5, baseline: 0.875 });
    expect(byKind.max_regressions).toMatchObject({ outcome: 'fail', flipped: ['c2', 'c3', 'c4'] });
    expect(byKind.no_blocking_findings.outcome).toBe('fail');
    // Against the champion (whoever holds the alias being promoted to) the drop is found too:
    // `forgot` lost 3 of the 7 general cases `good` passes.
    await t.call('PUT', `${models}/bot/aliases/staging`, { version: 1 });
    const vsChampion = await t.call('POST', `${gates}/release/verdicts`, {
      model: 'bot',
      version: 2,
      alias: 'staging',
    });
    const blocking = vsChampion.json.checks.find(
      (c: { kind: string }) => c.kind === 'no_blocking_findings',
    );
    expect(JSON.stringify(blocking)).toMatch(/below the champion/);

    const stored = await t.call('GET', `/api/v1/verdicts/${fail.json.id}`);
    expect(stored.json).toEqual(fail.json);
    const junit = await t.call('GET', `/api/v1/verdicts/${fail.json.id}?format=junit`);
    expect(junit.headers.get('content-type')).toMatch(/xml/);
    expect(junit.text).toMatch(/<testsuites name="gate release" tests="4" failures="3"/);
    const md = await t.call('GET', `/api/v1/verdicts/${pass.json.id}?format=markdown`);
    expect(md.text).toMatch(/^## .* Gate `release`: pass/);

    const badFormat = await t.call('GET', `/api/v1/verdicts/${pass.json.id}?format=pdf`);
    expect([badFormat.status, badFormat.json.error.message]).toEqual([
      400,
      expect.stringMatching(/^format: /),
    ]);
    expect((await t.call('GET', '/api/v1/verdicts/not-a-uuid')).status).toBe(400);
    const missing = await t.call('GET', '/api/v1/verdicts/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    const noModel = await t.call('POST', `${gates}/release/verdicts`, { model: 'x', version: 1 });
    expect([noModel.status, noModel.json.error.message]).toEqual([
      404,
      'model: model "x" not found',
    ]);
    const noSuchVersion = await t.call('POST', `${gates}/release/verdicts`, {
      model: 'bot',
      version: 9,
    });
    expect(noSuchVersion.json.error.message).toBe('version: version 9 of model "bot" not found');
    const noVersion = await t.call('POST', `${gates}/release/verdicts`, {
      model: 'bot',
      version: 0,
    });
    expect([noVersion.status, noVersion.json.error.message]).toEqual([
      400,
      expect.stringMatching(/^version: /),
    ]);
  });

  it('say no_data when the base model has no evaluations to compare with', async () => {
    const other = (await t.call('POST', '/api/v1/projects', { name: 'fresh' })).json.id as number;
    const rows = evidenceRows(database, other);
    // Trained from the built-in model, but no built-in checkpoint row exists in this project.
    const checkpoint = await rows.checkpoint({ runId: await rows.run(), step: 1 });
    const [qa] = await rows.suite('qa', 'target');
    const [general] = await rows.suite('general', 'retention');
    await rows.evaluation(checkpoint, qa!, [1, 1]);
    await rows.evaluation(checkpoint, general!, [1, 1]);
    await t.call('POST', '/api/v1/projects/fresh/gates', {
      name: 'release',
      policy: releasePolicy,
    });
    await t.call('POST', '/api/v1/projects/fresh/models', { name: 'bot' });
    await t.call('POST', '/api/v1/projects/fresh/models/bot/versions', {
      checkpointId: checkpoint,
    });
    const v = await t.call('POST', '/api/v1/projects/fresh/gates/release/verdicts', {
      model: 'bot',
      version: 1,
    });
    expect(v.json.outcome).toBe('no_data');
    expect(v.json.checks.map((c: { outcome: string }) => c.outcome)).toEqual([
      'pass',
      'no_data',
      'no_data',
      'pass',
    ]);
  });
});
