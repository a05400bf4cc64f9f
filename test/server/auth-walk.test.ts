import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobs } from '../../server/db/schema/index.ts';
import { testApp } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { evalCaseRows } from '../helpers/eval-cases.ts';
import { docPath, jsonBodySchema, sample, type OpenApiDoc } from '../helpers/openapi-sample.ts';

let database: TestDatabase;
let t: Awaited<ReturnType<typeof testApp>>;

// Project A holds one of everything; the walk asks for it with no token, a bad one, and tokens
// of project B. Names carry a random suffix so that finding one in an answer means a leak.
const tag = Math.random().toString(36).slice(2, 8);
const A = `walk-a-${tag}`;
const B = `walk-b-${tag}`;
const ids: Record<string, string> = {};
const tokens: Record<'readB' | 'writeB', string> = { readB: '', writeB: '' };
let doc: OpenApiDoc;

beforeAll(async () => {
  database = await createTestDatabase();
  t = await testApp(database);
  const a = await evalCaseRows(t, database, A, [{ id: 'q1', input: 'hi', expected: 'hi' }]);
  const [suiteVersionId] = await a.suite(`suite-${tag}`);
  const runId = await a.run(`run-${tag}`);
  const checkpointId = await a.checkpoint(runId, 1);
  const evaluationId = await a.evaluation(checkpointId, suiteVersionId!, { q1: ['hi', 1] });
  const other = await a.evaluation(checkpointId, suiteVersionId!, { q1: ['ho', 0] });
  const [job] = await database.db
    .insert(jobs)
    .values({ projectId: a.projectId, kind: 'train', runId, payload: {} })
    .returning();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await t.call(method, `/api/v1/projects/${A}${path}`, body);
    if (res.status >= 300) throw new Error(`seeding ${method} ${path}: ${res.text}`);
    return res.json;
  };
  await call('POST', '/models', { name: `model-${tag}` });
  await call('POST', `/models/model-${tag}/versions`, { checkpointId });
  await call('PUT', `/models/model-${tag}/aliases/staging`, { version: 1 });
  await call('POST', '/gates', { name: `gate-${tag}`, policy: { kind: 'no_blocking_findings' } });
  const verdict = await call('POST', `/gates/gate-${tag}/verdicts`, {
    model: `model-${tag}`,
    version: 1,
  });
  const token = await call('POST', '/tokens', { name: 'a reader', role: 'read' });
  await t.call('POST', '/api/v1/projects', { name: B });
  for (const role of ['read', 'write'] as const) {
    const res = await t.call('POST', `/api/v1/projects/${B}/tokens`, { name: role, role });
    tokens[`${role}B`] = res.json.token;
  }
  doc = (await t.call('GET', '/api/v1/openapi.json')).json;
  Object.assign(ids, {
    projectId: String(a.projectId),
    runId,
    checkpointId,
    evaluationId,
    otherEvaluationId: other,
    jobId: job!.id,
    verdictId: verdict.id,
    tokenId: String(token.id),
  });
});
afterAll(() => database.drop());

/**
 * Routes anyone may call, even without a token, by design. Everything else must refuse an
 * anonymous caller and a bad token.
 */
const PUBLIC = new Set([
  'GET /api/v1/health', // load balancers probe it
  'GET /api/v1/openapi.json', // the API's description, no data
  // The UI's page and its bundle: code only; its data comes from /api/v1 with the user's token.
  'GET /*',
  'GET /assets/app.js',
  'GET /assets/app.css',
  'GET /assets/:chunk{chunk-[A-Z0-9]+\\.js}',
]);

/**
 * Routes any valid token may call whatever its project, because they answer with only what that
 * token may see (lists and searches), or with nothing project-specific. Their answers to a token
 * of project B are still checked not to mention anything of project A.
 */
const ANY_TOKEN = new Set([
  'GET /api/v1/projects', // the projects the token covers
  'GET /api/v1/plugins', // the installed trainer plugins
  'GET /api/v1/quickstart', // the server's quickstart progress; its projects keep their own rights
  'GET /v1/models', // OpenAI's model list: the versions of the token's projects
  // MLflow listings, filtered to the token's projects.
  ...['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'].flatMap((p) => [
    `GET ${p}/experiments/search`,
    `POST ${p}/experiments/search`,
    `GET ${p}/experiments/list`,
    `GET ${p}/registered-models/search`,
    `POST ${p}/registered-models/search`,
    `GET ${p}/model-versions/search`,
    `POST ${p}/model-versions/search`,
    `POST ${p}/logged-models/search`,
  ]),
]);

/** A plausible value for each path parameter, taken from project A. */
function fill(path: string): string {
  const byName: Record<string, string> = {
    project: A,
    runId: ids.runId!,
    tokenId: ids.tokenId!,
    checkpointId: ids.checkpointId!,
    evaluationId: ids.evaluationId!,
    a: ids.evaluationId!,
    b: ids.otherEvaluationId!,
    jobId: ids.jobId!,
    verdictId: ids.verdictId!,
    suite: `suite-${tag}`,
    version: '1',
    alias: 'staging',
    caseId: 'q1',
    chunk: 'chunk-ABC123.js',
    model: `${A}/model-${tag}@staging`, // OpenAI's model names: [<project>/]<model>@<alias>
  };
  const named = path.replace(/\/:(\w+)(\{[^}]*\})?/g, (_, name: string, __, offset: number) => {
    if (name !== 'name') return `/${byName[name] ?? 'x'}`;
    const kind = path.slice(0, offset).split('/').at(-1);
    return `/${kind === 'datasets' ? 'cases' : kind === 'gates' ? `gate-${tag}` : `model-${tag}`}`;
  });
  // MLflow artifact paths are <experiment>/<run>/artifacts/<file>.
  return named.replace(/\*$/, `${ids.projectId}/${ids.runId}/artifacts/model.txt`);
}

// What MLflow routes read from the query (GET) or the body: project A's, under every name used.
function mlflowParams() {
  return {
    experiment_id: ids.projectId!,
    experiment_ids: [ids.projectId!],
    experiment_name: A,
    run_id: ids.runId!,
    run_uuid: ids.runId!,
    run_ids: [ids.runId!],
    // project/name names project A's model outright; a bare name would mean the caller's own.
    name: `${A}/model-${tag}`,
    new_name: `renamed-${tag}`,
    version: '1',
    alias: 'staging',
    stage: 'Staging',
    key: 'k',
    value: 'v',
    metric_key: 'loss',
    path: 'model.txt',
    source: `runs:/${ids.runId}/model`,
    max_results: '10',
    // Where registered-models/create puts a new model.
    tags: [{ key: 'heldout.project', value: A }],
  };
}

// Values for /api/v1 bodies and queries, by field name: project A's rows, and a fresh name, so a
// request the route should refuse would succeed if it did not.
const hints = (): Record<string, unknown> => ({
  project: A,
  runId: ids.runId,
  checkpointId: ids.checkpointId,
  evaluationId: ids.evaluationId,
  verdictId: ids.verdictId,
  model: `model-${tag}`,
  gate: `gate-${tag}`,
  version: 1,
  alias: 'staging',
  name: `new-${tag}`,
  workerId: 'walk:1:0',
  key: 'loss',
  path: 'model.txt',
  chosen: 'a',
  rejected: 'b',
  policy: { kind: 'no_blocking_findings' },
});

// Bodies that are not JSON, by content type: one dataset row, one artifact's bytes.
const RAW_BODIES: Record<string, string> = {
  'application/x-ndjson': '{"prompt":"a","response":"b"}\n',
  'application/octet-stream': 'bytes',
};

/** A valid-looking request for an /api/v1 route, from its operation in the OpenAPI doc. */
function v1Request(method: string, path: string) {
  const op = doc.paths[docPath(path)]?.[method.toLowerCase()];
  const query = new URLSearchParams();
  for (const p of op?.parameters ?? [])
    if (p.in === 'query' && p.required)
      query.set(p.name, String(hints()[p.name] ?? sample(doc, p.schema ?? {})));
  const json = jsonBodySchema(op);
  const [type, raw] = json
    ? ['application/json', JSON.stringify(sample(doc, json, hints()))]
    : (Object.entries(RAW_BODIES).find(([ct]) => op?.requestBody?.content[ct]) ?? []);
  return { query: query.size ? `?${query}` : '', type, body: raw };
}

let requestCount = 0;

/**
 * One request from its own client address, so the walk's hundreds of bad tokens never reach
 * the failed-authentication limit and each gets its real answer.
 */
async function send(method: string, path: string, route: string, authorization?: string) {
  const n = ++requestCount;
  const address = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const headers: Record<string, string> = {};
  if (authorization) headers.authorization = authorization;
  let url = path;
  let body: string | undefined;
  if (path.includes('/2.0/mlflow')) {
    // MLflow reads GET parameters from the query and all others (DELETE too) from a JSON body.
    const { tags, ...scalars } = mlflowParams();
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(scalars))
      for (const x of Array.isArray(v) ? v : [v]) query.append(k, x);
    if (method === 'GET') url = `${path}?${query}`;
    else {
      headers['content-type'] = 'application/json';
      body = JSON.stringify({ ...scalars, tags });
    }
  } else if (route.startsWith('/v1/') && method !== 'GET') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify({
      model: `${A}/model-${tag}@staging`,
      prompt: 'hi',
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 1,
    });
  } else if (route.startsWith('/api/v1/')) {
    const r = v1Request(method, route);
    url = path + r.query;
    if (r.type) headers['content-type'] = r.type;
    body = r.body;
  }
  const res = await t.app.request(
    url,
    { method, headers, body },
    { incoming: { socket: { remoteAddress: address } } },
  );
  return { status: res.status, text: await res.text() };
}

/** Every registered route, from the app itself: a new route cannot stay out of the walk. */
function routeTable(): { method: string; path: string; key: string }[] {
  const seen = new Map<string, { method: string; path: string; key: string }>();
  for (const r of t.app.routes) {
    // Middleware and catch-alls are registered as ALL; a write is the most telling way to call one.
    const method = r.method === 'ALL' ? 'POST' : r.method;
    const key = `${method} ${r.path}`;
    seen.set(key, { method, path: r.path, key });
  }
  return [...seen.values()];
}

const leaks = () => [A, ids.runId!, ids.checkpointId!, ids.evaluationId!, `model-${tag}`];

describe('every route refuses callers without the right token', () => {
  it('walks the whole route table', async () => {
    const routes = routeTable();
    expect(routes.length).toBeGreaterThan(150);
    const offences: string[] = [];
    let adminOk = 0;
    let getRoutes = 0;
    for (const { method, path, key } of routes) {
      const url = fill(path);
      const callers: [string, string | undefined][] = [
        ['no token', undefined],
        ['malformed token', 'Bearer'],
        ['unknown token', 'Bearer hld_not-a-real-token'],
        ['unknown Basic password', `Basic ${Buffer.from('me:hld_nope').toString('base64')}`],
        ["project B's read token", `Bearer ${tokens.readB}`],
        ["project B's write token", `Bearer ${tokens.writeB}`],
      ];
      for (const [who, authorization] of callers) {
        const res = await send(method, url, path, authorization);
        const ok = res.status >= 200 && res.status < 300;
        if (res.status === 429 || res.status >= 500)
          offences.push(`${key} (${who}) answered ${res.status}: ${res.text.slice(0, 120)}`);
        if (!ok || PUBLIC.has(key)) continue;
        const valid = who.startsWith('project B');
        if (!valid || !ANY_TOKEN.has(key)) {
          offences.push(`${key} (${who}) answered ${res.status}`);
          continue;
        }
        const leaked = leaks().find((id) => res.text.includes(id));
        if (leaked) offences.push(`${key} (${who}) answered with project A's ${leaked}`);
      }
      // The walk is only as good as its parameters: the admin must reach most read routes.
      if (method === 'GET') {
        getRoutes++;
        const res = await send(method, url, path, `Bearer ${t.adminToken}`);
        if (res.status >= 200 && res.status < 300) adminOk++;
      }
    }
    expect(offences, `routes that let the wrong caller in:\n${offences.join('\n')}`).toEqual([]);
    expect(adminOk / getRoutes).toBeGreaterThan(0.7);
  }, 60_000);
});

/**
 * heldout has no CORS: a browser page on another origin can neither read an answer nor send a
 * preflighted request (a JSON body, an Authorization header). Any Access-Control-Allow-* header
 * on any route would open that door, so none may appear.
 */
describe('cross-origin requests', () => {
  it('get no Access-Control-Allow-* header from any route, preflight or not', async () => {
    const origin = 'https://evil.example';
    const offences: string[] = [];
    for (const { method, path, key } of routeTable()) {
      const url = fill(path);
      const preflight = await t.app.request(url, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      const answers: [string, Response][] = [['preflight', preflight]];
      // Reads only: a cross-origin write never gets past its preflight.
      if (method === 'GET')
        answers.push([
          'request',
          await t.app.request(url, {
            headers: { origin, authorization: `Bearer ${t.adminToken}` },
          }),
        ]);
      for (const [kind, res] of answers) {
        const allow = [...res.headers.keys()].filter((h) => h.startsWith('access-control-'));
        if (allow.length) offences.push(`${key} (${kind}): ${allow.join(', ')}`);
      }
    }
    expect(offences, `routes answering cross-origin callers:\n${offences.join('\n')}`).toEqual([]);
  }, 60_000);
});
