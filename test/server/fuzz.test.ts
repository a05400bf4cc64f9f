import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../server/db/schema/index.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evalCaseRows } from '../helpers/eval-cases.ts';
import {
  jsonBodySchema,
  sample,
  type OpenApiDoc,
  type Operation,
} from '../helpers/openapi-sample.ts';

/**
 * Property-based fuzzing of the HTTP API: generated requests over every documented route and the
 * MLflow calls clients make most, with hostile path parameters, queries, headers and bodies. The
 * property: never a 5xx, and every 4xx is JSON naming its error. Each property runs for a bounded
 * time; a failure prints fast-check's seed and path, which replay it exactly.
 */

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;
let doc: OpenApiDoc;
let adminTokenId: string;
// The worker that holds the job below, so a fuzzed heartbeat or result gets past "not yours".
const WORKER = 'fuzz:1:0';
/** Real rows of project "fuzz", by the path parameter that names them. */
const real: Record<string, string> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const fuzz = await evalCaseRows(t, database, 'fuzz', [{ id: 'q1', input: 'hi', expected: 'hi' }]);
  const runId = (await t.call('POST', '/api/v1/projects/fuzz/runs', {})).json.id;
  await t.call('POST', `/api/v1/runs/${runId}/metrics`, {
    metrics: [{ key: 'loss', value: 1, step: 1 }],
  });
  const [suiteVersionId] = await fuzz.suite('suite');
  const checkpointId = await fuzz.checkpoint(runId, 1);
  const evaluationId = await fuzz.evaluation(checkpointId, suiteVersionId!, { q1: ['hi', 1] });
  const queued = await fuzz.evaluation(checkpointId, suiteVersionId!, {}, { status: 'queued' });
  const [job] = await database.db
    .insert(jobs)
    .values({
      projectId: fuzz.projectId,
      kind: 'evaluate',
      evaluationId: queued,
      payload: {},
      status: 'running',
      workerId: WORKER,
    })
    .returning();
  await t.call('POST', '/api/v1/projects/fuzz/models', { name: 'model' });
  await t.call('POST', '/api/v1/projects/fuzz/models/model/versions', { checkpointId });
  const token = (await t.call('POST', '/api/v1/projects/fuzz/tokens', { name: 'r', role: 'read' }))
    .json;
  Object.assign(real, {
    experiment: String(fuzz.projectId),
    project: 'fuzz',
    runId,
    checkpointId,
    evaluationId,
    a: evaluationId,
    b: queued,
    jobId: job!.id,
    caseId: 'q1',
    suite: 'suite',
    name: 'cases',
    version: '1',
    alias: 'production',
    tokenId: String(token.id),
  });
  doc = (await t.call('GET', '/api/v1/openapi.json')).json;
  adminTokenId = String(
    (await database.sql`select id from api_tokens where name = 'test admin'`)[0]!.id,
  );
});
afterAll(() => database.drop());

// ---- values -------------------------------------------------------------------------------

const hugeNumbers = fc.constantFrom(
  1e308,
  -1e308,
  -0,
  2 ** 53,
  2 ** 64,
  -(2 ** 63),
  Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_VALUE,
  8.64e15 + 1, // one past JavaScript's last date
  -9e15,
  0.1,
  -1,
  4294967296,
);
const hostileText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\ud800', // a lone surrogate
    'a\udfffb',
    '\u202e',
    '../../etc/passwd',
    '..',
    '%2e%2e',
    '%00',
    "'; drop table runs; --",
    'NaN',
    'Infinity',
    '1e400',
    '-0',
    '18446744073709551616',
    '00000000-0000-0000-0000-000000000000',
  ),
  fc.integer({ min: 1, max: 200_000 }).map((n) => 'x'.repeat(n)),
);
/** JSON text kept as is: too deep for this side's JSON.stringify too. */
class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify that splices RawJson texts in. */
function toJson(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

// Deep enough to overflow a recursive walk (JSON.stringify gives up near 5000 levels).
const nested = fc
  .tuple(
    fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1000, max: 100_000 })),
    fc.boolean(),
  )
  .map(
    ([n, arrays]) =>
      new RawJson(arrays ? '['.repeat(n) + ']'.repeat(n) : '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  );
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileText,
  hugeNumbers,
  fc.double(),
  fc.constantFrom(null, true, false, [], {}, [null], { '': null }),
  nested,
  fc.jsonValue({ maxDepth: 3 }),
);

// ---- requests -----------------------------------------------------------------------------

interface Route {
  method: string;
  /** Path under the server's root, with `{param}` placeholders. */
  template: string;
  op?: Operation;
  /** A valid-looking body for the route, to mutate one field of. */
  shape?: () => unknown;
  /** The same with every optional field too: where the field to mutate is picked. */
  full?: () => unknown;
  /** Fields of the body worth their own generator (a search's filter), merged into its shape. */
  fields?: fc.Arbitrary<Record<string, unknown>>;
}

const numberText = fc.oneof(
  hugeNumbers.map(String),
  fc.double().map(String),
  fc.constantFrom('1e400', '-1e400', 'NaN', '99999999999999999999999', '-0', '0x10', '1.5.2'),
);
const quoted = hostileText.map((v) => `'${v.slice(0, 200).replace(/'/g, "''")}'`);
const comparison = fc.constantFrom('=', '!=', '<', '<=', '>', '>=');

const numericClause = fc.tuple(
  fc.constantFrom('metrics.loss', 'attributes.start_time', 'attributes.end_time', 'version_number'),
  comparison,
  numberText,
);
const textClause = fc.tuple(
  fc.constantFrom('params.lr', 'tags.t', 'tags.`mlflow.runName`', 'attributes.run_name', 'name'),
  fc.constantFrom('=', '!=', 'LIKE', 'ILIKE'),
  quoted,
);
const listClause = fc.tuple(
  fc.constantFrom('attributes.status', 'attributes.run_id', 'run_id'),
  fc.constantFrom('IN', 'NOT IN'),
  fc.array(quoted, { maxLength: 3 }).map((vs) => `(${vs.join(', ')})`),
);
const junkClause = fc.tuple(hostileText, fc.string({ maxLength: 5 }), fc.string({ maxLength: 20 }));

/** MLflow's search grammar, mostly well-formed, with hostile operands: `metrics.loss < 1e400`. */
const mlflowFilter = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: numericClause },
      { weight: 1, arbitrary: textClause },
      { weight: 1, arbitrary: listClause },
      { weight: 1, arbitrary: junkClause },
    ),
    { minLength: 1, maxLength: 2 },
  )
  .map((clauses) => clauses.map((c) => c.join(' ')).join(' and '));
const mlflowOrder = fc.array(
  fc
    .tuple(
      fc.constantFrom('metrics.loss', 'params.lr', 'attributes.start_time', 'name', 'x.y', ''),
      fc.constantFrom('', ' ASC', ' DESC', ' desc nulls', ' ' + 'x'.repeat(300)),
    )
    .map((p) => p.join('')),
  { maxLength: 3 },
);
// The filter always, the rest now and then: one bad field hides the others behind its 400.
const searchFields = fc.record(
  {
    filter: mlflowFilter,
    order_by: mlflowOrder,
    max_results: fc.oneof(fc.nat(), hugeNumbers),
    page_token: fc.oneof(hostileText, fc.base64String()),
  },
  { requiredKeys: ['filter'] },
);

// encodeURIComponent throws on a lone surrogate; the raw bytes above cover those.
const wellFormed = (s: string) => s.slice(0, 3000).replace(/[\ud800-\udfff]/gu, '\ufffd');

/** A path parameter: a real one, or anything a client could put there. */
const pathParam = (name: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(real[name] ?? '1') },
    {
      weight: 1,
      // Raw, not encoded: traversal, an encoded slash, NUL, bytes that are not UTF-8.
      arbitrary: fc.constantFrom('..', '%2e%2e', '%2F', '%00', '%ff', '%ED%A0%80', '.', '%'),
    },
    { weight: 4, arbitrary: hostileText.map((s) => encodeURIComponent(wellFormed(s))) },
    { weight: 1, arbitrary: hugeNumbers.map(String) },
    { weight: 1, arbitrary: fc.bigInt().map(String) },
  );

/**
 * `value` with one field (at any depth) replaced by `replacement`, or dropped when that is
 * undefined. Fields are picked among those `full` has (every property the schema allows), so an
 * optional one absent from `value` can be the one set.
 */
function mutate(value: unknown, path: number[], replacement: unknown, full = value): unknown {
  if (full === null || typeof full !== 'object' || path.length === 0) return replacement;
  const keys = Object.keys(full);
  if (keys.length === 0) return replacement;
  const key = keys[path[0]! % keys.length]!;
  const base = value !== null && typeof value === 'object' ? value : full;
  const copy = (Array.isArray(base) ? [...base] : { ...base }) as Record<string, unknown>;
  const inner = (full as Record<string, unknown>)[key];
  if (path.length === 1 && replacement === undefined) delete copy[key];
  else copy[key] = mutate(copy[key] ?? inner, path.slice(1), replacement, inner);
  return copy;
}

/** A body: malformed JSON text, any JSON, or the route's own shape with one field broken. */
function bodyFor(route: Route): fc.Arbitrary<string | undefined> {
  const shape = route.shape;
  const mutated = shape
    ? fc
        .tuple(
          fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
          fc.option(hostileValue, { nil: undefined }),
        )
        .map(([path, v]) => toJson(mutate(shape(), path, v, (route.full ?? shape)())))
    : fc.constant(undefined);
  const fields = route.fields;
  return fc.oneof(
    { weight: 4, arbitrary: mutated },
    ...(fields
      ? [{ weight: 4, arbitrary: fields.map((f) => toJson({ ...(shape?.() as object), ...f })) }]
      : []),
    { weight: 1, arbitrary: fc.constant(shape ? JSON.stringify(shape()) : undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', '{', '{"a":', '[1,', 'nul', '{"a":1}}', '\u0000', '"\ud800"'),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 2, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.anything().map((v) => JSON.stringify(v) ?? 'undefined') },
    { weight: 1, arbitrary: nested.map((v) => v.text) },
  );
}

const authorization = (adminToken: string) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(`Bearer ${adminToken}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        undefined,
        'Bearer',
        'Bearer hld_unknown',
        `Bearer ${'x'.repeat(600)}`,
        'Basic !!!',
        `Basic ${Buffer.from(`u:${adminToken}`).toString('base64')}`,
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', maxLength: 80 }) },
  );

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-ndjson',
  'application/octet-stream',
  undefined,
);

function request(route: Route) {
  const params = [...route.template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  const queryNames = (route.op?.parameters ?? [])
    .filter((p) => p.in === 'query')
    .map((p) => p.name);
  return fc.record({
    params: fc.tuple(...params.map(pathParam)),
    query: fc.dictionary(
      queryNames.length ? fc.oneof(fc.constantFrom(...queryNames), fc.string()) : fc.string(),
      fc.oneof(hostileText, hugeNumbers.map(String)),
      { maxKeys: 4 },
    ),
    body: route.method === 'GET' ? fc.constant(undefined) : bodyFor(route),
    contentType,
    authorization: authorization(t.adminToken),
    // Another client address per request, or none (one shared bucket, as without a socket), so
    // bad tokens get both their 401 and, past the limit, their 429.
    client: fc.option(fc.nat(65_535), { nil: undefined }),
  });
}

type Sent = ReturnType<typeof request> extends fc.Arbitrary<infer T> ? T : never;

async function send(route: Route, r: Sent) {
  let i = 0;
  const path = route.template.replace(/\{(\w+)\}/g, () => r.params[i++]!);
  const query = new URLSearchParams(r.query).toString();
  const headers: Record<string, string> = {};
  if (r.authorization !== undefined) headers.authorization = r.authorization;
  if (r.contentType && r.body !== undefined) headers['content-type'] = r.contentType;
  const res = await t.app.request(
    `${path}${query ? `?${query}` : ''}`,
    { method: route.method, headers, body: r.body },
    r.client === undefined
      ? undefined
      : { incoming: { socket: { remoteAddress: `10.9.${r.client >> 8}.${r.client & 255}` } } },
  );
  const text = await res.text();
  const where = `${route.method} ${path}${query ? `?${query.slice(0, 200)}` : ''} ${(r.body ?? '').slice(0, 160)}`;
  if (res.status >= 500) throw new Error(`${where} -> ${res.status} ${text.slice(0, 300)}`);
  if (res.status >= 400) {
    let json: {
      error?: { code?: unknown; message?: unknown };
      error_code?: unknown;
      message?: unknown;
    };
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(
        `${where} -> ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    // Each API's own shape, once `..` segments are resolved as the server resolves them: MLflow's
    // {error_code, message}, OpenAI's {error: {message, type}} (its code may be null), or ours.
    const resolved = new URL(path, 'http://localhost').pathname;
    const [code, message] = resolved.includes('/2.0/mlflow')
      ? [json.error_code, json.message]
      : resolved.startsWith('/v1/')
        ? [(json.error as { type?: unknown } | undefined)?.type, json.error?.message]
        : [json.error?.code, json.error?.message];
    if (typeof code !== 'string' || typeof message !== 'string' || !message)
      throw new Error(
        `${where} -> ${res.status} without an error code and message: ${text.slice(0, 200)}`,
      );
  }
}

// The server starting the quickstart against itself (over the network) is not what this tests.
const SKIPPED = new Set(['POST /api/v1/quickstart']);

function documentedRoutes(): Route[] {
  const hints = {
    project: real.project,
    runId: real.runId,
    checkpointId: real.checkpointId,
    model: 'model',
    version: 1,
    workerId: WORKER,
    key: 'loss',
    name: 'fuzzed',
  };
  return Object.entries(doc.paths).flatMap(([template, methods]) =>
    Object.entries(methods)
      .map(([method, op]): Route => {
        const schema = jsonBodySchema(op);
        return {
          method: method.toUpperCase(),
          template: `/api/v1${template}`,
          op,
          shape: schema ? () => sample(doc, schema, hints) : undefined,
          full: schema ? () => sample(doc, schema, hints, { optional: true }) : undefined,
        };
      })
      .filter((r) => !SKIPPED.has(`${r.method} ${r.template}`)),
  );
}

/** OpenAI's /v1, over the registry; no model named here has files, so nothing generates. */
function openAiRoutes(): Route[] {
  const sampling = { max_tokens: 4, temperature: 0, top_p: 1, stop: ['\n'], stream: false };
  return [
    { method: 'GET', template: '/v1/models' },
    { method: 'GET', template: '/v1/models/{model}' },
    {
      method: 'POST',
      template: '/v1/completions',
      shape: () => ({ model: 'fuzz/model@production', prompt: 'hi', ...sampling }),
    },
    {
      method: 'POST',
      template: '/v1/chat/completions',
      shape: () => ({
        model: 'model@production',
        messages: [{ role: 'user', content: 'hi' }],
        ...sampling,
      }),
    },
  ];
}

function mlflowRoutes(): Route[] {
  const api = '/api/2.0/mlflow';
  const metric = { key: 'loss', value: 0.5, timestamp: 1, step: 1 };
  const run = () => ({ run_id: real.runId, run_uuid: real.runId });
  const shapes: [string, string, () => unknown][] = [
    [
      'POST',
      `${api}/experiments/create`,
      () => ({ name: 'exp', tags: [{ key: 'k', value: 'v' }] }),
    ],
    ['POST', `${api}/experiments/search`, () => ({ max_results: 10, filter: "name = 'fuzz'" })],
    ['POST', `${api}/runs/create`, () => ({ experiment_id: real.experiment, start_time: 1 })],
    ['POST', `${api}/runs/update`, () => ({ ...run(), status: 'FINISHED', end_time: 2 })],
    ['POST', `${api}/runs/log-metric`, () => ({ ...run(), ...metric })],
    [
      'POST',
      `${api}/runs/log-batch`,
      () => ({
        run_id: real.runId,
        metrics: [metric],
        params: [{ key: 'lr', value: '0.1' }],
        tags: [{ key: 't', value: 'v' }],
      }),
    ],
    [
      'POST',
      `${api}/runs/search`,
      () => ({ experiment_ids: [real.experiment], filter: 'metrics.loss < 1', max_results: 5 }),
    ],
    ['POST', `${api}/registered-models/create`, () => ({ name: 'model', tags: [] })],
    [
      'POST',
      `${api}/model-versions/create`,
      () => ({ name: 'model', source: `runs:/${real.runId}/m` }),
    ],
    ['POST', `${api}/registered-models/search`, () => ({ filter: "name LIKE 'm%'" })],
    ['POST', `${api}/model-versions/search`, () => ({ filter: "name = 'model'" })],
  ];
  const gets = [
    `${api}/runs/get`,
    `${api}/metrics/get-history`,
    `${api}/artifacts/list`,
    `${api}/experiments/get`,
    `${api}/registered-models/get`,
    `/api/2.0/mlflow-artifacts/artifacts/{experiment}/{runId}`,
  ];
  const queryOp: Operation = {
    parameters: [
      'run_id',
      'run_uuid',
      'metric_key',
      'experiment_id',
      'name',
      'path',
      'max_results',
    ].map((name) => ({ in: 'query', name })),
  };
  return [
    ...shapes.map(([method, template, shape]) => ({
      method,
      template,
      shape,
      fields: template.endsWith('/search') ? searchFields : undefined,
    })),
    ...gets.map((template) => ({ method: 'GET', template, op: queryOp })),
    { method: 'PUT', template: '/api/2.0/mlflow-artifacts/artifacts/{experiment}/{runId}/a.txt' },
  ];
}

// FUZZ_SCALE=10 fuzzes ten times longer (the test's own timeout grows with it).
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

function fuzz(routes: () => Route[], ms: number) {
  return async () => {
    // Routes are drawn by name, so a counterexample reads as one.
    const byName = new Map(routes().map((route) => [`${route.method} ${route.template}`, route]));
    await fc.assert(
      fc.asyncProperty(
        // Searches parse a grammar of their own: they get a larger share.
        fc
          .oneof(
            ...[...byName].map(([name, route]) => ({
              weight: route.fields ? 3 : 1,
              arbitrary: fc.constant(name),
            })),
          )
          .chain((name) => request(byName.get(name)!).map((r) => [name, r] as const)),
        async ([name, r]) => {
          // The admin's own token is the one thing a fuzzed DELETE must not revoke mid-run.
          fc.pre(!(name === 'DELETE /api/v1/tokens/{tokenId}' && r.params[0] === adminTokenId));
          await send(byName.get(name)!, r);
        },
      ),
      {
        numRuns: 1_000_000,
        plugins: [fc.interruptAfterTimeLimit(ms * SCALE)],
        // What a failure prints, to replay it: FUZZ_SEED=<seed> FUZZ_PATH=<path>.
        ...(process.env.FUZZ_SEED && {
          seed: Number(process.env.FUZZ_SEED),
          path: process.env.FUZZ_PATH,
        }),
      },
    );
  };
}

/** Paths to every field of `value`, two levels down (into the first item of an array). */
function fieldPaths(value: unknown, depth = 2): number[][] {
  if (value === null || typeof value !== 'object' || depth === 0) return [];
  return Object.entries(value).flatMap(([, v], i) => [
    [i],
    ...fieldPaths(Array.isArray(v) ? v[0] : v, depth - 1).map((p) => [
      i,
      ...(Array.isArray(v) ? [0] : []),
      ...p,
    ]),
  ]);
}

/**
 * Not random: every field of every JSON body, in turn, holds an object nested 20 000 deep. A
 * free-form field (a run's config, a finding's evidence) would otherwise reach a recursive walk.
 */
async function everyFieldDeep(routes: Route[]) {
  const failures: string[] = [];
  const deep = new RawJson('{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000));
  for (const route of routes) {
    if (!route.shape) continue;
    const params = [...route.template.matchAll(/\{(\w+)\}/g)].map((m) => real[m[1]!] ?? '1');
    const full = (route.full ?? route.shape)();
    for (const path of fieldPaths(full)) {
      await send(route, {
        params,
        query: {},
        body: toJson(mutate(route.shape(), path, deep, full)),
        contentType: 'application/json',
        authorization: `Bearer ${t.adminToken}`,
        client: undefined,
      }).catch((err: Error) => failures.push(err.message));
    }
  }
  if (failures.length) throw new Error(`${failures.length} failed:\n${failures.join('\n')}`);
}

describe('what the fuzzer found', () => {
  it('refuses a run config nested too deep, naming config, instead of overflowing the stack', async () => {
    const deep = '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000);
    const res = await t.call('POST', '/api/v1/projects/fuzz/runs', `{"config":${deep}}`);
    expect([res.status, res.json.error.code]).toEqual([400, 'validation_failed']);
    expect(res.json.error.message).toMatch(/^config: must nest at most 64 levels/);
    const shallow = await t.call('POST', '/api/v1/projects/fuzz/runs', {
      config: { a: { b: [1] } },
    });
    expect(shallow.status).toBe(201);
  });

  it("refuses an MLflow run's start or end beyond JavaScript's dates, naming the field", async () => {
    for (const start_time of [9e15, -9e15]) {
      const res = await t.call('POST', '/api/2.0/mlflow/runs/create', {
        experiment_id: real.experiment,
        start_time,
      });
      expect([res.status, res.json.message]).toEqual([
        400,
        "Invalid value for parameter 'start_time': must be a time in milliseconds since 1970",
      ]);
    }
    const end = await t.call('POST', '/api/2.0/mlflow/runs/update', {
      run_id: real.runId,
      end_time: 8.64e15 + 1,
    });
    expect([end.status, end.json.error_code]).toEqual([400, 'INVALID_PARAMETER_VALUE']);
  });

  it('refuses an MLflow time filter beyond what Postgres can hold, instead of a 500', async () => {
    for (const value of ['1e+308', '18446744073709552000', '-1e20']) {
      const res = await t.call('POST', '/api/2.0/mlflow/runs/search', {
        experiment_ids: [real.experiment],
        filter: `attributes.end_time < ${value}`,
      });
      expect([res.status, res.json.error_code], value).toEqual([400, 'INVALID_PARAMETER_VALUE']);
    }
    const ok = await t.call('POST', '/api/2.0/mlflow/runs/search', {
      experiment_ids: [real.experiment],
      filter: 'attributes.start_time > 0',
    });
    expect(ok.status).toBe(200);
  });
});

describe('fuzzing the HTTP API', () => {
  it('takes a deeply nested value in any field of any body without a 5xx', async () => {
    await everyFieldDeep([...documentedRoutes(), ...mlflowRoutes(), ...openAiRoutes()]);
  }, 60_000);
  it(
    'never answers a documented /api/v1 route with a 5xx, and names every 4xx',
    fuzz(documentedRoutes, 9_000),
    20_000 * SCALE,
  );
  it(
    'never answers an MLflow or OpenAI call with a 5xx, and names every 4xx',
    fuzz(() => [...mlflowRoutes(), ...openAiRoutes()], 7_000),
    20_000 * SCALE,
  );
});
