import type { Context } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { notFound } from '../http/errors.ts';
import { authorize, seesProject, type Role } from '../services/principal.ts';
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

/**
 * Resolves a project by id or name and authorises the caller on it. Whether the project exists
 * is told only to callers who could see it: an anonymous caller who may not read gets 401 before
 * the lookup, and a token of another project the same 404 as for a name nobody has taken.
 */
export async function authorizeProject(
  deps: AppDeps,
  c: Context<AppEnv>,
  idOrName: string,
  role: Role,
) {
  const principal = c.get('principal');
  const publicRead = deps.config.HELDOUT_PUBLIC_READ;
  if (!principal) authorize(principal, null, role, publicRead);
  const project = await findProject(deps.database.db, idOrName);
  if (!seesProject(principal, project.id)) throw notFound(`project "${idOrName}"`);
  authorize(principal, project.id, role, publicRead);
  return project;
}
