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

const models = '/api/v1/projects/support/models';

describe('registry', () => {
  it('numbers versions 1, 2, ... of checkpoints of the project only', async () => {
    const rows = evidenceRows(database, projectId);
    const run = await rows.run();
    const [a, b] = [await rows.checkpoint({ runId: run, step: 1 }), await rows.checkpoint()];
    const created = await t.call('POST', models, { name: 'tagger', description: 'tags tickets' });
    expect(created.status).toBe(201);
    const dup = await t.call('POST', models, { name: 'tagger' });
    expect([dup.status, dup.json.error.message]).toEqual([
      409,
      'name: model "tagger" already exists',
    ]);

    const v1 = await t.call('POST', `${models}/tagger/versions`, { checkpointId: a });
    expect(v1.json).toMatchObject({ version: 1, checkpointId: a, runId: run });
    const v2 = await t.call('POST', `${models}/tagger/versions`, { checkpointId: b });
    expect([v2.status, v2.json.version, v2.json.runId]).toEqual([201, 2, null]);

    const other = (await t.call('POST', '/api/v1/projects', { name: 'other' })).json.id as number;
    const foreign = await evidenceRows(database, other).checkpoint();
    const refused = await t.call('POST', `${models}/tagger/versions`, { checkpointId: foreign });
    expect([refused.status, refused.json.error.message]).toEqual([
      400,
      `checkpointId: no checkpoint ${foreign} in this project`,
    ]);
    const notUuid = await t.call('POST', `${models}/tagger/versions`, { checkpointId: 'x' });
    expect(notUuid.json.error.message).toMatch(/^checkpointId: /);
    expect((await t.call('POST', `${models}/nope/versions`, { checkpointId: a })).status).toBe(404);
    expect((await t.call('POST', models, { name: '1bad' })).json.error.message).toMatch(/^name: /);

    const list = await t.call('GET', models);
    expect(list.json.models.map((m: { name: string }) => m.name)).toEqual(['tagger']);
  });

  it('moves unprotected aliases by hand and shows them on the model', async () => {
    const staging = `${models}/tagger/aliases/staging`;
    expect((await t.call('GET', staging)).status).toBe(404);
    const set = await t.call('PUT', staging, { version: 1 });
    expect(set.json).toMatchObject({ alias: 'staging', version: 1, protected: false });
    expect((await t.call('PUT', staging, { version: 2 })).json.version).toBe(2);
    expect((await t.call('GET', staging)).json.version).toBe(2);
    expect((await t.call('PUT', staging, { version: 7 })).status).toBe(404);
    const protect = await t.call('PUT', staging, { version: 2, protected: true });
    expect([protect.status, protect.json.error.message]).toEqual([
      409,
      expect.stringMatching(/^protected: /),
    ]);
    const bad = await t.call('PUT', staging, { version: 'two' });
    expect([bad.status, bad.json.error.message]).toEqual([
      400,
      expect.stringMatching(/^version: /),
    ]);

    const detail = await t.call('GET', `${models}/tagger`);
    expect(detail.json.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect(detail.json.aliases).toEqual([
      expect.objectContaining({ alias: 'staging', version: 2 }),
    ]);
    const trail = await t.call('GET', `${models}/tagger/promotions`);
    expect(
      trail.json.promotions.map((p: { fromVersion: number; toVersion: number }) => [
        p.fromVersion,
        p.toVersion,
      ]),
    ).toEqual([
      [1, 2],
      [null, 1],
    ]);
  });
});

describe('promotions', () => {
  it('move a protected alias only on a passing verdict for exactly that version', async () => {
    const { good, forgot } = await forgettingScenario(database, projectId);
    await t.call('POST', '/api/v1/projects/support/gates', {
      name: 'release',
      policy: releasePolicy,
    });
    await t.call('POST', models, { name: 'bot' });
    for (const checkpointId of [good, forgot, good])
      await t.call('POST', `${models}/bot/versions`, { checkpointId });
    const writer = await t.call('POST', '/api/v1/projects/support/tokens', {
      name: 'release pipeline',
      role: 'write',
    });
    const reader = await t.call('POST', '/api/v1/projects/support/tokens', {
      name: 'dashboard',
      role: 'read',
    });
    const promote = (body: object, token: string = writer.json.token) =>
      t.call('POST', '/api/v1/promotions', { project: 'support', model: 'bot', ...body }, token);

    // production is protected from the start; with no gate bound yet, a move needs a verdict.
    const unjudged = await promote({ version: 1, alias: 'production', protected: true });
    expect([unjudged.status, unjudged.json.error.message]).toEqual([
      409,
      expect.stringMatching(/^alias: "production" is protected and no gate is bound to it yet/),
    ]);
    const first = await promote({
      version: 1,
      alias: 'production',
      protected: true,
      gate: 'release',
      reason: 'first release',
    });
    expect(first.status, JSON.stringify(first.json)).toBe(201);
    expect(first.json.alias).toMatchObject({ alias: 'production', version: 1, protected: true });
    expect(first.json.verdict).toMatchObject({ outcome: 'pass', version: 1 });

    expect((await t.call('PUT', `${models}/bot/aliases/production`, { version: 2 })).status).toBe(
      409,
    );
    // With no gate named, the gate the first promotion bound judges the version.
    const bare = await promote({ version: 2, alias: 'production' });
    expect([bare.status, bare.json.error.message]).toEqual([
      409,
      expect.stringMatching(/^gate: gate "release" says fail for version 2/),
    ]);
    // Version 2 forgot general skills: the verdict computed now fails, and comes back with the 409.
    const failing = await promote({ version: 2, alias: 'production', gate: 'release' });
    expect(failing.status).toBe(409);
    expect(failing.json.error.message).toMatch(/^gate: gate "release" says fail for version 2/);
    expect(failing.json.error.details.verdict).toMatchObject({ outcome: 'fail', version: 2 });
    const stored = await t.call('GET', `/api/v1/verdicts/${failing.json.error.details.verdict.id}`);
    expect(stored.json.outcome).toBe('fail');
    const byFailingId = await promote({
      version: 2,
      alias: 'production',
      verdictId: failing.json.error.details.verdict.id,
    });
    expect(byFailingId.status).toBe(409);

    // A passing verdict for version 1 does not unlock version 2.
    const borrowed = await promote({
      version: 2,
      alias: 'production',
      verdictId: first.json.verdict.id,
    });
    expect([borrowed.status, borrowed.json.error.message]).toEqual([
      409,
      `verdictId: verdict ${first.json.verdict.id} judged version 1 of "bot", not version 2 of "bot"`,
    ]);
    expect(borrowed.json.error.details.verdict.id).toBe(first.json.verdict.id);
    expect((await t.call('GET', `${models}/bot/aliases/production`)).json.version).toBe(1);

    // Version 3 (the good checkpoint again), judged against the champion, then promoted by id.
    const judged = await t.call('POST', '/api/v1/projects/support/gates/release/verdicts', {
      model: 'bot',
      version: 3,
      alias: 'production',
    });
    expect(judged.json.outcome).toBe('pass');
    expect(
      (
        await promote(
          { version: 3, alias: 'production', verdictId: judged.json.id },
          reader.json.token,
        )
      ).status,
    ).toBe(403);
    const moved = await promote({
      version: 3,
      alias: 'production',
      verdictId: judged.json.id,
      reason: 'retrained',
    });
    expect(moved.status).toBe(201);
    expect(moved.json.promotion).toMatchObject({ fromVersion: 1, toVersion: 3 });
    expect((await t.call('GET', `${models}/bot/aliases/production`)).json).toMatchObject({
      version: 3,
      protected: true,
    });

    const unknown = await promote({
      version: 3,
      alias: 'production',
      verdictId: '00000000-0000-4000-8000-000000000000',
    });
    expect([unknown.status, unknown.json.error.message]).toEqual([
      400,
      expect.stringMatching(/^verdictId: no verdict/),
    ]);
    const noGate = await promote({ version: 3, alias: 'staging', gate: 'nope' });
    expect([noGate.status, noGate.json.error.message]).toEqual([
      404,
      'gate: gate "nope" not found',
    ]);
    const both = await promote({
      version: 3,
      alias: 'x',
      gate: 'release',
      verdictId: judged.json.id,
    });
    expect(both.json.error.message).toBe('gate: give gate or verdictId, not both');

    const trail = await t.call('GET', `${models}/bot/promotions`, undefined, reader.json.token);
    expect(trail.json.promotions).toEqual([
      expect.objectContaining({
        alias: 'production',
        fromVersion: 1,
        toVersion: 3,
        verdictId: judged.json.id,
        verdictOutcome: 'pass',
        actorTokenId: writer.json.id,
        reason: 'retrained',
      }),
      expect.objectContaining({
        fromVersion: null,
        toVersion: 1,
        verdictId: first.json.verdict.id,
        verdictOutcome: 'pass',
        actorTokenId: writer.json.id,
        reason: 'first release',
      }),
    ]);

    // Every verdict is on record, the refused one included, with the evidence that refused it.
    const history = await t.call('GET', `${models}/bot/verdicts`, undefined, reader.json.token);
    expect(
      history.json.verdicts.map((v: { version: number; outcome: string }) => [
        v.version,
        v.outcome,
      ]),
    ).toEqual([
      [3, 'pass'],
      [2, 'fail'],
      [2, 'fail'], // the bare promotion's, judged by the bound gate
      [1, 'pass'],
    ]);
    expect(history.json.verdicts[1].id).toBe(failing.json.error.details.verdict.id);
    expect(
      history.json.verdicts[1].checks.some((c: { outcome: string }) => c.outcome === 'fail'),
    ).toBe(true);
    expect((await t.call('GET', `${models}/nope/verdicts`)).status).toBe(404);
  });
});
