import { Hono } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../http/env.ts';
import type { SearchRuns } from '../schemas/runs.ts';
import { searchRunIds } from '../services/run-search.ts';
import { findRuns } from '../services/runs.ts';
import { filterToSearch, orderByToSearch } from './search-filter.ts';
import { experimentFor, idString, presentMlflowRuns } from './tracking.ts';
import { ok, params } from './wire.ts';

const views = { ACTIVE_ONLY: 'active', DELETED_ONLY: 'deleted', ALL: 'all' } as const;

/** runs/search: MLflow's filter and order_by, answered by heldout's run search. */
export function mlflowRunSearchRoutes(deps: AppDeps) {
  const { db, sql } = deps.database;
  return new Hono<AppEnv>().post('/runs/search', async (c) => {
    const body = await params(
      c,
      z.object({
        experiment_ids: z.array(idString).max(100).default([]),
        filter: z.string().max(10_000).optional(),
        run_view_type: z.enum(['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL']).default('ACTIVE_ONLY'),
        max_results: z.coerce.number().int().min(1).max(50_000).default(1000),
        order_by: z.array(z.string().max(500)).max(10).optional(),
        page_token: z.string().max(2000).optional(),
      }),
    );
    // Parsed before anything is read, so a bad filter is a 400 whatever the experiments.
    const q: SearchRuns = {
      ...filterToSearch(body.filter),
      orderBy: orderByToSearch(body.order_by),
      limit: body.max_results,
      pageToken: body.page_token,
    };
    const projects = await Promise.all(
      [...new Set(body.experiment_ids)].map((id) => experimentFor(deps, c, id, 'read')),
    );
    if (!projects.length) return ok(c, { runs: [] });
    const { ids, nextPageToken } = await searchRunIds(
      sql,
      projects.map((p) => p.id),
      q,
      { view: views[body.run_view_type], tokenField: 'page_token' },
    );
    return ok(c, {
      runs: await presentMlflowRuns(db, await findRuns(db, ids)),
      ...(nextPageToken && { next_page_token: nextPageToken }),
    });
  });
}
