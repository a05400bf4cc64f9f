import { randomUUID } from 'node:crypto';
import { drizzle } from 'drizzle-orm/postgres-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkpoints,
  datasets,
  datasetVersions,
  evaluations,
  gates,
  modelAliases,
  models,
  modelVersions,
  runDatasets,
  runs,
  suites,
  suiteVersions,
  verdicts,
} from '../../server/db/schema/index.ts';
import * as schema from '../../server/db/schema/index.ts';
import { leaderboard } from '../../server/services/leaderboard.ts';
import { leaderboardQuery } from '../../server/schemas/leaderboard.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
});
afterAll(() => database.drop());

/** Rows as the evaluation pipeline and registry would leave them, inserted in bulk. */
function seed(projectId: number) {
  const { db } = database;
  return {
    async datasetVersion(name: string, kind: 'eval' | 'sft') {
      const [ds] = await db.insert(datasets).values({ projectId, name, kind }).returning();
      const [v] = await db
        .insert(datasetVersions)
        .values({
          datasetId: ds!.id,
          version: 1,
          sha256: randomUUID(),
          sizeBytes: 1,
          rowCount: 1,
          storageKey: 'test',
          cleaningReport: {},
        })
        .returning();
      return v!.id;
    },
    async suite(name: string, purpose: 'target' | 'retention', versions = 1, active = true) {
      const dv = await this.datasetVersion(`cases-${name}`, 'eval');
      const [s] = await db.insert(suites).values({ projectId, name, purpose, active }).returning();
      const rows = await db
        .insert(suiteVersions)
        .values(
          Array.from({ length: versions }, (_, i) => ({
            suiteId: s!.id,
            version: i + 1,
            datasetVersionId: dv,
            metrics: ['exact_match', 'f1'],
            decoding: {},
            decodingHash: 'd',
            caseCount: 4,
          })),
        )
        .returning();
      return rows.map((r) => r.id);
    },
    async run(plugin: string | null, config: unknown = {}) {
      const [r] = await db
        .insert(runs)
        .values({ projectId, name: 'run', status: 'finished', plugin, config })
        .returning();
      return r!.id;
    },
    async checkpoints(
      rows: { runId?: string; step?: number; base?: string; name?: string; storageKey?: string }[],
    ) {
      const inserted = await db
        .insert(checkpoints)
        .values(
          rows.map((r) => ({
            projectId,
            runId: r.runId ?? null,
            name: r.name ?? null,
            kind: 'full' as const,
            step: r.step ?? null,
            baseCheckpointId: r.base ?? null,
            sha256: randomUUID(),
            sizeBytes: 1,
            trainableParams: 100,
            totalParams: 1000,
            storageKey: r.storageKey ?? `checkpoints/${randomUUID()}`,
            modelConfig: {},
          })),
        )
        .returning({ id: checkpoints.id });
      return inserted.map((r) => r.id);
    },
    /** Finished evaluations whose primary metric (exact_match) is value [low, high]. */
    async evaluations(
      rows: [string, number, number, number?, number?][],
      status: 'finished' | 'failed' = 'finished',
    ) {
      for (let i = 0; i < rows.length; i += 1000)
        await db.insert(evaluations).values(
          rows.slice(i, i + 1000).map(([checkpointId, suiteVersionId, value, low, high]) => ({
            projectId,
            checkpointId,
            suiteVersionId,
            status,
            decodingHash: 'd',
            metricVersions: {},
            aggregates: {
              exact_match: { value, low: low ?? value, high: high ?? value, n: 40 },
              f1: { value: 0.123, low: 0, high: 1, n: 40 },
            },
            finishedAt: new Date(),
          })),
        );
    },
    async versions(model: string, checkpointIds: string[]) {
      const [m] = await db.insert(models).values({ projectId, name: model }).returning();
      const rows = await db
        .insert(modelVersions)
        .values(
          checkpointIds.map((checkpointId, i) => ({
            modelId: m!.id,
            version: i + 1,
            checkpointId,
          })),
        )
        .returning();
      return { modelId: m!.id, ids: rows.map((r) => r.id) };
    },
  };
}

const board = async (query = '') => t.call('GET', `/api/v1/projects/board/leaderboard${query}`);
type Row = { model: string | null; version: number | null; [k: string]: unknown };
const names = (rows: Row[]) => rows.map((r) => `${r.model ?? 'ckpt'}@${r.version ?? '-'}`);

describe('leaderboard', () => {
  let ids: { builtin: string; a: string; b: string; c: string };

  beforeAll(async () => {
    const projectId = (await t.call('POST', '/api/v1/projects', { name: 'board' })).json.id;
    const s = seed(projectId);
    const [qa1, qa2] = await s.suite('qa', 'target', 2);
    const [general] = await s.suite('general', 'retention');
    const [legacy] = await s.suite('legacy', 'target', 1, false);
    const lora = await s.run('lora@0.1.0');
    const peft = await s.run('peft@0.1.0', { method: 'ia3' });
    const sft = await s.datasetVersion('support-sft', 'sft');
    await database.db.insert(runDatasets).values([
      { runId: lora, datasetVersionId: sft, role: 'train' },
      { runId: lora, datasetVersionId: sft, role: 'validation' },
    ]);
    const [builtin] = await s.checkpoints([{ name: 'tiny-base', storageKey: 'builtin:tiny-base' }]);
    // a: trained from the shipped base; b: continues from a (its root base is still tiny-base).
    const [a, c] = await s.checkpoints([
      { runId: lora, step: 100 },
      { runId: lora, step: 50 },
    ]);
    const [b] = await s.checkpoints([{ runId: peft, step: 100, base: a }]);
    ids = { builtin: builtin!, a: a!, b: b!, c: c! };
    await s.evaluations([
      [builtin!, qa2!, 0.2, 0.1, 0.3],
      [builtin!, general!, 0.8, 0.75, 0.85],
      [a!, qa1!, 0.99], // an older suite version: not a column
      [a!, qa2!, 0.6, 0.5, 0.7],
      [a!, general!, 0.7, 0.65, 0.75],
      [a!, legacy!, 0.01], // an inactive suite
      [b!, qa2!, 0.9, 0.85, 0.95],
      [b!, general!, 0.8, 0.75, 0.85],
      [c!, qa2!, 0.5, 0.4, 0.6],
    ]);
    await s.evaluations([[a!, qa2!, 0]], 'failed');
    const bot = await s.versions('bot', [a!, b!]);
    await s.versions('basey', [builtin!]);
    await database.db
      .insert(modelAliases)
      .values({ modelId: bot.modelId, alias: 'production', modelVersionId: bot.ids[0]! });
    const [gate] = await database.db
      .insert(gates)
      .values({ projectId, name: 'release', version: 1, policy: {} })
      .returning();
    await database.db.insert(verdicts).values([
      { gateId: gate!.id, modelVersionId: bot.ids[0]!, outcome: 'fail', checks: [] },
      {
        gateId: gate!.id,
        modelVersionId: bot.ids[0]!,
        outcome: 'pass',
        checks: [],
        createdAt: new Date(Date.now() + 1000),
      },
    ]);
  });

  it('scores each version on the newest version of each active suite, with deltas vs base', async () => {
    const res = await board();
    expect(res.status).toBe(200);
    expect(res.json.suites).toEqual([
      { name: 'general', purpose: 'retention', metric: 'exact_match', version: 1 },
      { name: 'qa', purpose: 'target', metric: 'exact_match', version: 2 },
    ]);
    expect(names(res.json.rows)).toEqual(['bot@2', 'basey@1', 'bot@1']);
    const [b, base, a] = res.json.rows;
    expect(a).toMatchObject({
      checkpointId: ids.a,
      aliases: ['production'],
      method: 'lora',
      base: { checkpointId: ids.builtin, label: 'basey@v1' },
      trainableParams: 100,
      totalParams: 1000,
      datasets: ['support-sft@1'],
      verdict: { outcome: 'pass', gate: 'release', gateVersion: 1 },
      suitesScored: 2,
      rank: 3,
    });
    expect(a.scores.qa).toMatchObject({ value: 0.6, low: 0.5, high: 0.7, n: 40 });
    expect(a.scores.qa.delta).toBeCloseTo(0.4);
    expect(a.scores.qa.normalised).toBeCloseTo(0.4 / 0.7);
    expect(a.scores.general.normalised).toBeCloseTo(0);
    expect(a.retention).toBeCloseTo(-0.1);
    expect(a.average.value).toBeCloseTo(0.4 / 0.7 / 2);
    expect(Object.keys(a.scores).sort()).toEqual(['general', 'qa']);
    expect(b).toMatchObject({ method: 'peft:ia3', base: { checkpointId: ids.builtin }, rank: 1 });
    expect(b.retention).toBeCloseTo(0);
    expect(b.average.value).toBeCloseTo(1);
    expect(b.verdict).toBeNull();
    expect(base).toMatchObject({ method: 'base', rank: 2, retention: 0, datasets: [] });
    // Normalised intervals: b's low (0.714) is above a's high (0.607), nobody is above b's or
    // the base's high, so only a has a rank bound below 1.
    expect(res.json.rows.map((r: Row) => r.rankUpperBound)).toEqual([1, 1, 2]);
  });

  it('sorts by one suite, ranking with the bound from the intervals', async () => {
    const res = await board('?sort=suite:qa');
    expect(names(res.json.rows)).toEqual(['bot@2', 'bot@1', 'basey@1']);
    expect(res.json.rows.map((r: Row) => [r.rank, r.rankUpperBound])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
  });

  it('adds evaluated checkpoints outside the registry on request', async () => {
    const res = await board('?include=checkpoints&sort=suite:qa');
    expect(names(res.json.rows)).toEqual(['bot@2', 'bot@1', 'ckpt@-', 'basey@1']);
    expect(res.json.rows[2]).toMatchObject({
      checkpointId: ids.c,
      method: 'lora',
      aliases: [],
      verdict: null,
      suitesScored: 1,
      base: { checkpointId: ids.builtin },
    });
    // a's high (0.7) is below b's low only; c's interval overlaps a's.
    expect(res.json.rows.map((r: Row) => r.rankUpperBound)).toEqual([1, 2, 2, 4]);
  });

  it('filters by method and name, and pages with a token bound to the view', async () => {
    expect(names((await board('?method=peft')).json.rows)).toEqual(['bot@2']);
    expect(names((await board('?method=peft:ia3')).json.rows)).toEqual(['bot@2']);
    expect(names((await board('?method=base')).json.rows)).toEqual(['basey@1']);
    expect(names((await board('?search=BO')).json.rows)).toEqual(['bot@2', 'bot@1']);
    expect(names((await board('?dataset=support-sft')).json.rows)).toEqual(['bot@1']);
    expect(names((await board('?dataset=support-sft@2')).json.rows)).toEqual([]);
    expect(names((await board('?gate=pass')).json.rows)).toEqual(['bot@1']);
    expect(names((await board('?gate=none')).json.rows)).toEqual(['bot@2', 'basey@1']);
    // A base's group: the base model itself and both fine-tunes that descend from it.
    expect(names((await board('?base=BASEY')).json.rows)).toEqual(['bot@2', 'basey@1', 'bot@1']);
    expect(names((await board('?base=nobody')).json.rows)).toEqual([]);
    // Filtering hides rows; it does not re-rank or re-normalise the rest.
    expect((await board('?method=lora')).json.rows[0].rank).toBe(3);

    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page = await board(`?limit=1${token ? `&pageToken=${token}` : ''}`);
      expect(page.json.total).toBe(3);
      seen.push(...names(page.json.rows));
      token = page.json.nextPageToken;
    } while (token);
    expect(seen).toEqual(['bot@2', 'basey@1', 'bot@1']);
    const first = await board('?limit=1');
    const other = await board(`?limit=1&sort=suite:qa&pageToken=${first.json.nextPageToken}`);
    expect([other.status, other.json.error.message]).toEqual([
      400,
      expect.stringMatching(/^pageToken: /),
    ]);
  });

  it('refuses bad parameters with a 400 naming the field', async () => {
    const cases: [string, RegExp][] = [
      ['?sort=bogus', /^sort: /],
      ['?sort=suite:nope', /^sort: no active suite "nope"/],
      ['?sort=suite:legacy', /^sort: /],
      ['?limit=5000', /^limit: /],
      ['?limit=0', /^limit: /],
      ['?method=!!', /^method: /],
      ['?include=everything', /^include: /],
      [`?search=${'x'.repeat(300)}`, /^search: /],
      ['?pageToken=garbage', /^pageToken: /],
    ];
    for (const [query, message] of cases) {
      const res = await board(query);
      expect(res.status, query).toBe(400);
      expect(res.json.error.message, query).toMatch(message);
    }
    expect((await t.call('GET', '/api/v1/projects/nope/leaderboard')).status).toBe(404);
  });

  it('builds a board of 200 versions x 5 suites in the same number of queries as a small one', async () => {
    const projectId = (await t.call('POST', '/api/v1/projects', { name: 'big' })).json.id;
    const s = seed(projectId);
    const suiteIds: number[] = [];
    for (let j = 0; j < 5; j++)
      suiteIds.push(...(await s.suite(`s${j}`, j === 4 ? 'retention' : 'target')));
    const run = await s.run('full@0.1.0');
    const [builtin] = await s.checkpoints([{ name: 'tiny-base', storageKey: 'builtin:tiny-base' }]);
    const trained = await s.checkpoints(
      Array.from({ length: 200 }, (_, i) => ({ runId: run, step: i + 1 })),
    );
    // Version i scores i/1000 + j/10 on suite j (CI ± 0.0012); the base scores 0 everywhere.
    await s.evaluations([
      ...suiteIds.map((v): [string, number, number] => [builtin!, v, 0]),
      ...trained.flatMap((c, i) =>
        suiteIds.map((v, j): [string, number, number, number, number] => {
          const value = (i + 1) / 1000 + j / 10;
          return [c, v, value, value - 0.0012, value + 0.0012];
        }),
      ),
    ]);
    await s.versions('big', trained);

    let queries = 0;
    const counted = drizzle(database.sql, {
      schema,
      logger: { logQuery: () => void queries++ },
    });
    const q = leaderboardQuery.parse({ include: 'checkpoints', limit: '1000' });
    const big = await leaderboard(counted, projectId, q);
    const bigQueries = queries;
    queries = 0;
    const small = await leaderboard(
      counted,
      (await t.call('GET', '/api/v1/projects/board')).json.id,
      q,
    );
    expect(bigQueries).toBe(queries);
    expect(bigQueries).toBeLessThanOrEqual(9);

    expect(big.total).toBe(201); // 200 versions and the unregistered base
    expect(small.total).toBe(4);
    const top = big.rows[0]!;
    expect([top.model, top.version, top.rank, top.rankUpperBound]).toEqual(['big', 200, 1, 1]);
    expect(top.scores.s3!.value).toBeCloseTo(0.5);
    expect(top.scores.s3!.delta).toBeCloseTo(0.5);
    expect(top.scores.s3!.normalised).toBeCloseTo(1);
    expect(top.retention).toBeCloseTo(0.6);
    const mid = big.rows.find((r) => r.version === 100)!;
    expect(mid.rank).toBe(101);
    // Intervals of ± 0.0012 on steps of 0.001: surely ahead are versions 103..200 only.
    expect(mid.rankUpperBound).toBe(99);
    expect(mid.scores.s0!.normalised).toBeCloseTo(0.1 / 0.2);
    expect(mid.average!.value).toBeCloseTo(
      [0, 1, 2, 3, 4].reduce((sum, j) => sum + (0.1 + j / 10) / (0.2 + j / 10), 0) / 5,
    );
    const base = big.rows.at(-1)!;
    expect([base.model, base.method, base.rank, base.average!.value]).toEqual([
      null,
      'base',
      201,
      0,
    ]);
  });
});
