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

describe('projects', () => {
  it('are created by an admin token valid for every project', async () => {
    const res = await t.call('POST', '/api/v1/projects', {
      name: 'legal-assistant',
      description: 'contracts',
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({
      id: expect.any(Number),
      name: 'legal-assistant',
      description: 'contracts',
    });
    expect((await t.call('GET', '/api/v1/projects/legal-assistant')).json.id).toBe(res.json.id);
    expect((await t.call('GET', `/api/v1/projects/${res.json.id}`)).json.name).toBe(
      'legal-assistant',
    );
  });

  it('answer 409 for a taken name and 400 naming the field for a bad one', async () => {
    await t.call('POST', '/api/v1/projects', { name: 'taken' });
    const again = await t.call('POST', '/api/v1/projects', { name: 'taken' });
    expect(again.status).toBe(409);
    expect(again.json.error).toEqual({
      code: 'conflict',
      message: 'project "taken" already exists',
    });

    const bad = await t.call('POST', '/api/v1/projects', { name: '9lives' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('validation_failed');
    expect(bad.json.error.message).toMatch(/^name: must start with a letter/);

    const wrongType = await t.call('POST', '/api/v1/projects', { name: 42 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json.error.details).toEqual([
      { path: 'name', message: expect.stringContaining('string') },
    ]);

    const malformed = await t.call('POST', '/api/v1/projects', '{"name": "x",');
    expect(malformed.status).toBe(400);
    expect(malformed.json.error.message).toMatch(/malformed JSON/i);
  });

  it('answer 404 for an unknown project', async () => {
    const res = await t.call('GET', '/api/v1/projects/nothing-here');
    expect(res.status).toBe(404);
    expect(res.json.error).toEqual({
      code: 'not_found',
      message: 'project "nothing-here" not found',
    });
  });
});

describe('tokens', () => {
  it('are scoped to a project and a role, shown once, stored hashed, and revocable', async () => {
    const project = (await t.call('POST', '/api/v1/projects', { name: 'banking' })).json;
    const other = (await t.call('POST', '/api/v1/projects', { name: 'medical' })).json;
    const created = await t.call('POST', '/api/v1/projects/banking/tokens', {
      name: 'ci',
      role: 'write',
    });
    expect(created.status).toBe(201);
    const { token, id } = created.json;
    expect(token).toMatch(/^hld_/);
    expect(created.json).toMatchObject({
      projectId: project.id,
      role: 'write',
      prefix: token.slice(0, 10),
    });

    const stored =
      await database.sql`select row_to_json(t)::text as row from api_tokens t where id = ${id}`;
    expect(stored[0]!.row).not.toContain(token.slice(4));

    // It sees its own project and nothing else.
    expect((await t.call('GET', '/api/v1/projects/banking', undefined, token)).status).toBe(200);
    const forbidden = await t.call('GET', '/api/v1/projects/medical', undefined, token);
    // To it the other project does not exist: a 403 would tell which names are taken.
    expect(forbidden.status).toBe(404);
    expect(forbidden.json.error.message).toBe('project "medical" not found');
    expect((await t.call('GET', '/api/v1/projects', undefined, token)).json.projects).toEqual([
      project,
    ]);
    expect(other.id).not.toBe(project.id);

    // A write token cannot create projects or tokens.
    expect((await t.call('POST', '/api/v1/projects', { name: 'mine' }, token)).status).toBe(403);
    const escalate = await t.call(
      'POST',
      '/api/v1/projects/banking/tokens',
      { name: 'x', role: 'admin' },
      token,
    );
    expect(escalate.status).toBe(403);

    const listed = await t.call('GET', '/api/v1/projects/banking/tokens');
    expect(listed.json.tokens.map((x: { id: number }) => x.id)).toEqual([id]);
    expect(JSON.stringify(listed.json)).not.toContain(token);

    const revoked = await t.call('DELETE', `/api/v1/tokens/${id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json.revokedAt).toEqual(expect.any(String));
    const after = await t.call('GET', '/api/v1/projects/banking', undefined, token);
    expect(after.status).toBe(401);
    expect(after.json.error.message).toBe('the token is unknown, revoked or expired');
  });

  it('a project admin cannot hand out a more powerful role than its own, nor reach other projects', async () => {
    await t.call('POST', '/api/v1/projects', { name: 'support' });
    const admin = (
      await t.call('POST', '/api/v1/projects/support/tokens', { name: 'lead', role: 'admin' })
    ).json.token;
    const reader = await t.call(
      'POST',
      '/api/v1/projects/support/tokens',
      { name: 'dash', role: 'read' },
      admin,
    );
    expect(reader.status).toBe(201);
    expect((await t.call('GET', '/api/v1/projects/banking/tokens', undefined, admin)).status).toBe(
      404,
    );
    expect((await t.call('POST', '/api/v1/projects', { name: 'rogue' }, admin)).status).toBe(403);
  });

  it('answer 401 without a token or with a malformed header, and never log the token', async () => {
    expect((await t.call('GET', '/api/v1/projects', undefined, null)).status).toBe(401);
    const res = await t.app.request('/api/v1/projects', {
      headers: { authorization: 'Basic abc' },
    });
    expect(res.status).toBe(401);
    expect(JSON.stringify(t.logLines)).not.toContain(t.adminToken);
  });

  it('expired tokens are refused', async () => {
    await t.call('POST', '/api/v1/projects', { name: 'expiring' });
    const res = await t.call('POST', '/api/v1/projects/expiring/tokens', {
      name: 'old',
      role: 'read',
      expiresAt: '2020-01-01T00:00:00.000Z',
    });
    expect(
      (await t.call('GET', '/api/v1/projects/expiring', undefined, res.json.token)).status,
    ).toBe(401);
  });
});

describe('public reads', () => {
  it('let anonymous clients read with HELDOUT_PUBLIC_READ=1, never write', async () => {
    const open = await testApp(database, { HELDOUT_PUBLIC_READ: '1' });
    expect((await open.call('GET', '/api/v1/projects', undefined, null)).status).toBe(200);
    expect((await open.call('POST', '/api/v1/projects', { name: 'anon' }, null)).status).toBe(401);
  });
});

describe('GET /api/v1/openapi.json', () => {
  it('describes the routes from the same schemas that validate them', async () => {
    const res = await t.call('GET', '/api/v1/openapi.json', undefined, null);
    expect(res.status).toBe(200);
    expect(res.json.openapi).toBe('3.1.0');
    expect(Object.keys(res.json.paths)).toEqual(
      expect.arrayContaining(['/health', '/projects', '/projects/{project}/tokens']),
    );
    expect(res.json.components.schemas.CreateProject.required).toEqual(['name']);
    expect(res.json.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
    });
  });
});
