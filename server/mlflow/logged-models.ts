import { Hono } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { authorizeProject } from '../routes/access.ts';
import { MlflowError } from './errors.ts';
import { ok, params } from './wire.ts';

const searchBody = z.object({
  experiment_ids: z.array(z.string()).optional(),
  max_results: z.number().int().min(1).optional(),
  filter: z.string().optional(),
  page_token: z.string().optional(),
  order_by: z
    .array(
      z.object({
        field_name: z.string(),
        ascending: z.boolean().optional(),
        dataset_name: z.string().optional(),
        dataset_digest: z.string().optional(),
      }),
    )
    .optional(),
  datasets: z
    .array(z.object({ dataset_name: z.string(), dataset_digest: z.string().optional() }))
    .optional(),
});

/**
 * `POST /logged-models/search`, which MLflow 3 clients call while listing a run's artifacts.
 * heldout has no MLflow logged models (its models are registry entries and run checkpoints), so
 * a well-formed search of experiments the caller may read always finds none. The body is still
 * validated, and each experiment must exist and be readable, as MLflow's server would insist.
 *
 * @example
 * // POST /api/2.0/mlflow/logged-models/search {"experiment_ids": ["7"]} -> {"models": []}
 */
export function mlflowLoggedModelRoutes(deps: AppDeps) {
  return new Hono<AppEnv>().post('/logged-models/search', async (c) => {
    const body = await params(c, searchBody);
    for (const id of body.experiment_ids ?? []) {
      if (!/^\d{1,15}$/.test(id))
        throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Could not find experiment with ID ${id}`);
      await authorizeProject(deps, c, id, 'read');
    }
    return ok(c, { models: [] });
  });
}
