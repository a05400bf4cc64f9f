import type { Db } from '../db/client.ts';
import { AppError } from '../http/errors.ts';
import type { Principal } from '../services/principal.ts';
import { createProject, findProject } from '../services/projects.ts';
import { MlflowError } from './errors.ts';

/** MLflow's default experiment's name, and the heldout project that stands for it. */
export const DEFAULT_PROJECT = 'Default';

/**
 * The project "Default": what MLflow's default experiment ("0", used by `mlflow.start_run()` with
 * no experiment set) and registered models without a project land in. A global admin token
 * creates it on first use; anyone else is told how to name a project instead (`hint`).
 */
export async function defaultProject(db: Db, principal: Principal | undefined, hint: string) {
  return findProject(db, DEFAULT_PROJECT).catch(async (err: unknown) => {
    if (!(err instanceof AppError && err.status === 404)) throw err;
    if (principal?.projectId !== null || principal.role !== 'admin')
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `${hint} (there is no project '${DEFAULT_PROJECT}' to default to)`,
      );
    // Two first uses at once: the loser of the race finds the winner's.
    return createProject(db, { name: DEFAULT_PROJECT }).catch(() =>
      findProject(db, DEFAULT_PROJECT),
    );
  });
}
