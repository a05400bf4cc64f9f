import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { TAG_VALUE_MAX } from '../schemas/runs.ts';
import { authorize, seesProject } from '../services/principal.ts';
import {
  createProject,
  findProjectAny,
  searchProjects,
  updateProject,
  type ProjectSearch,
} from '../services/projects.ts';
import { MlflowError } from './errors.ts';
import { experimentFor, idString, key, presentExperiment } from './tracking.ts';
import { ok, params } from './wire.ts';

// MLflow names experiments freely ("/Users/me/churn", "my exp"); heldout's own API asks more of
// project names, but the column takes any 1..200 characters. An all-digit name would read as an
// id in heldout's paths, so it is refused.
const experimentName = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .refine((s) => !/^\d+$/.test(s), 'must not be all digits (it would read as an id)');
const experimentIdBody = z.object({ experiment_id: idString });
const viewType = z.enum(['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL']).default('ACTIVE_ONLY');
const views = { ACTIVE_ONLY: 'active', DELETED_ONLY: 'deleted', ALL: 'all' } as const;

const searchBody = z.object({
  max_results: z.coerce.number().int().min(1).max(50_000).default(1000),
  page_token: z.string().max(200).optional(),
  filter: z.string().max(10_000).optional(),
  order_by: z.union([z.string(), z.array(z.string())]).optional(),
  view_type: viewType,
});

/** `name = 'x'`, `name LIKE '%x%'`, `tags.k = 'v'`, joined by AND. */
function experimentFilter(filter: string | undefined) {
  const names: ProjectSearch['names'] = [];
  const tags: ProjectSearch['tags'] = [];
  if (!filter?.trim()) return { names, tags };
  for (const clause of filter.trim().split(/\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)/i)) {
    const m =
      /^(?:(?:attributes?|attr)\.)?(name|(?:tags?)\.(?:`[^`]+`|"[^"]+"|[^\s=!<>]+))\s*(!=|=|(?:i?like)(?=[\s'"]))\s*(?:'([^']*)'|"([^"]*)")$/i.exec(
        clause.trim(),
      );
    if (!m)
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `Invalid clause '${clause.trim()}' in filter: expected name or tags.<key> with =, !=, LIKE or ILIKE and a quoted value`,
      );
    const op = m[2]!.toLowerCase() as ProjectSearch['names'][number]['op'];
    const value = m[3] ?? m[4]!;
    if (m[1]!.toLowerCase() === 'name') names.push({ op, value });
    else {
      const k = m[1]!.slice(m[1]!.indexOf('.') + 1);
      tags.push({ key: /^[`"]/.test(k) ? k.slice(1, -1) : k, op, value });
    }
  }
  return { names, tags };
}

function experimentOrder(orderBy: string | string[] | undefined): ProjectSearch['orderBy'] {
  const list = typeof orderBy === 'string' ? [orderBy] : (orderBy ?? []);
  return list.map((clause) => {
    const m =
      /^\s*(?:attributes?\.)?(name|creation_time|experiment_id|last_update_time)(?:\s+(asc|desc))?\s*$/i.exec(
        clause,
      );
    if (!m)
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `Invalid order_by clause '${clause}': order by name, experiment_id or creation_time, ASC or DESC`,
      );
    const field = { name: 'name', experiment_id: 'id' }[m[1]!.toLowerCase()] ?? 'createdAt';
    return {
      field: field as ProjectSearch['orderBy'][number]['field'],
      direction: (m[2]?.toLowerCase() ?? 'asc') as 'asc' | 'desc',
    };
  });
}

/** Paging by offset: experiments are few, and an offset token is honest about what it is. */
const decodeOffset = (token: string | undefined) => {
  if (!token) return 0;
  const n = Number(
    Buffer.from(token, 'base64url')
      .toString('utf8')
      .replace(/^offset:/, ''),
  );
  if (!Number.isInteger(n) || n < 0)
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      'Invalid page_token: not one this server issued',
    );
  return n;
};

/** Experiments: heldout projects under MLflow's names. */
export function mlflowExperimentRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const publicRead = deps.config.HELDOUT_PUBLIC_READ;

  const search = async (c: Context<AppEnv>) => {
    const q = await params(c, searchBody);
    const offset = decodeOffset(q.page_token);
    const principal = c.get('principal');
    authorize(principal, principal?.projectId ?? null, 'read', publicRead);
    const rows = await searchProjects(db, principal, {
      view: views[q.view_type],
      ...experimentFilter(q.filter),
      orderBy: experimentOrder(q.order_by),
      limit: q.max_results + 1,
      offset,
    });
    const more = rows.length > q.max_results;
    return ok(c, {
      experiments: rows.slice(0, q.max_results).map(presentExperiment),
      ...(more && {
        next_page_token: Buffer.from(`offset:${offset + q.max_results}`).toString('base64url'),
      }),
    });
  };

  const setLifecycle = (deleted: boolean) => async (c: Context<AppEnv>) => {
    const { experiment_id } = await params(c, experimentIdBody);
    const project = await experimentFor(deps, c, experiment_id, 'admin');
    await updateProject(db, project.id, { deleted });
    return ok(c);
  };

  return (
    new Hono<AppEnv>()
      .post('/experiments/create', async (c) => {
        const body = await params(
          c,
          z.object({
            name: experimentName,
            // Artifacts live where heldout keeps them; a location asked for is not honoured.
            artifact_location: z.string().optional(),
            tags: z
              .array(z.object({ key, value: z.string().max(TAG_VALUE_MAX) }))
              .max(100)
              .optional(),
          }),
        );
        authorize(c.get('principal'), null, 'admin');
        const taken = await findProjectAny(db, { name: body.name });
        if (taken)
          throw new MlflowError(
            'RESOURCE_ALREADY_EXISTS',
            `Experiment '${body.name}' already exists.`,
          );
        let project = await createProject(db, { name: body.name });
        if (body.tags?.length)
          project = await updateProject(db, project.id, {
            setTags: Object.fromEntries(body.tags.map((t) => [t.key, t.value])),
          });
        return ok(c, { experiment_id: String(project.id) });
      })
      .get('/experiments/get', async (c) => {
        const { experiment_id } = await params(c, experimentIdBody);
        return ok(c, {
          experiment: presentExperiment(await experimentFor(deps, c, experiment_id, 'read')),
        });
      })
      .get('/experiments/get-by-name', async (c) => {
        const { experiment_name } = await params(c, z.object({ experiment_name: z.string() }));
        const principal = c.get('principal');
        if (!principal) authorize(principal, null, 'read', publicRead);
        const project = await findProjectAny(db, { name: experiment_name });
        // Clients create the experiment when told it does not exist, so this must be a clean 404;
        // a token of another project hears the same, so that no name is told taken.
        if (!project || !seesProject(principal, project.id))
          throw new MlflowError(
            'RESOURCE_DOES_NOT_EXIST',
            `Could not find experiment with name '${experiment_name}'`,
          );
        authorize(principal, project.id, 'read', publicRead);
        return ok(c, { experiment: presentExperiment(project) });
      })
      .post('/experiments/search', search)
      .get('/experiments/search', search)
      // Gone from MLflow 2's server, but the npm `mlflow` client still calls it.
      .get('/experiments/list', search)
      .post('/experiments/update', async (c) => {
        const body = await params(
          c,
          z.object({ experiment_id: idString, new_name: experimentName }),
        );
        const project = await experimentFor(deps, c, body.experiment_id, 'admin');
        if (project.name !== body.new_name) {
          if (await findProjectAny(db, { name: body.new_name }))
            throw new MlflowError(
              'RESOURCE_ALREADY_EXISTS',
              `Experiment '${body.new_name}' already exists.`,
            );
          await updateProject(db, project.id, { name: body.new_name });
        }
        return ok(c);
      })
      .post('/experiments/delete', setLifecycle(true))
      .post('/experiments/restore', setLifecycle(false))
      .post('/experiments/set-experiment-tag', async (c) => setTag(c))
      // The npm client (2.0.7) builds this path without its slash.
      .post('/experimentsset-experiment-tag', async (c) => setTag(c))
      .post('/experiments/delete-experiment-tag', async (c) => {
        const body = await params(c, z.object({ experiment_id: idString, key }));
        const project = await experimentFor(deps, c, body.experiment_id, 'write');
        if (!(body.key in project.tags))
          throw new MlflowError(
            'RESOURCE_DOES_NOT_EXIST',
            `No tag with name '${body.key}' in experiment ${project.id}`,
          );
        await updateProject(db, project.id, { deleteTag: body.key });
        return ok(c);
      })
  );

  async function setTag(c: Context<AppEnv>) {
    const body = await params(
      c,
      z.object({ experiment_id: idString, key, value: z.string().max(TAG_VALUE_MAX) }),
    );
    const project = await experimentFor(deps, c, body.experiment_id, 'write');
    await updateProject(db, project.id, { setTags: { [body.key]: body.value } });
    return ok(c);
  }
}
