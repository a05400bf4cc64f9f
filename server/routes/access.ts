import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { authorize, type Role } from '../services/principal.ts';
import { findProject } from '../services/projects.ts';
import { runProjectId } from '../services/runs.ts';

/** Authorises the caller on a run's project; 404 first when the run does not exist. */
export async function authorizeRun(
  deps: AppDeps,
  c: Context<AppEnv>,
  runId: string,
  role: Role,
): Promise<number> {
  const projectId = await runProjectId(deps.database.db, runId);
  authorize(c.get('principal'), projectId, role, deps.config.HELDOUT_PUBLIC_READ);
  return projectId;
}

/** Resolves a project by id or name and authorises the caller on it. */
export async function authorizeProject(
  deps: AppDeps,
  c: Context<AppEnv>,
  idOrName: string,
  role: Role,
) {
  const project = await findProject(deps.database.db, idOrName);
  authorize(c.get('principal'), project.id, role, deps.config.HELDOUT_PUBLIC_READ);
  return project;
}
