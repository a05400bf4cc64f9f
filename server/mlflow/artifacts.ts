import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { AppError } from '../http/errors.ts';
import { download, uploadBody } from '../http/uploads.ts';
import { authorizeRun } from '../routes/access.ts';
import { pathProblem } from '../schemas/artifacts.ts';
import {
  deleteArtifacts,
  findArtifact,
  listArtifactDirectory,
  putArtifact,
  type ArtifactEntry,
} from '../services/artifacts.ts';
import type { Role } from '../services/principal.ts';
import { storageLimits } from '../services/storage-quota.ts';
import { blobStoreFor } from '../storage/fs-blob-store.ts';
import { MlflowError } from './errors.ts';
import { ok, params } from './wire.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_PATH = 1024;

/**
 * A run's artifact root as MLflow names it. Clients given this URI talk to the proxied artifact
 * routes below, which map `<experiment_id>/<run_id>/artifacts/<path>` onto the run's artifacts.
 *
 * @example
 * artifactUri('7', runId); // 'mlflow-artifacts:/7/0b1.../artifacts'
 */
export const artifactUri = (experimentId: string | number, runId: string) =>
  `mlflow-artifacts:/${experimentId}/${runId}/artifacts`;

const badPath = (problem: string) =>
  new MlflowError('INVALID_PARAMETER_VALUE', `Invalid value for parameter 'path': ${problem}`);

/** Throws INVALID_PARAMETER_VALUE naming `path` unless `value` is a safe relative path. */
function checkPath(value: string, { prefix }: { prefix: boolean }) {
  if (value.length > MAX_PATH) throw badPath(`must be at most ${MAX_PATH} characters`);
  const problem = pathProblem(value, { prefix });
  if (problem) throw badPath(problem);
}

/** The run behind a run id, authorised for `role`; unknown or malformed ids do not exist. */
async function runOf(deps: AppDeps, c: Context<AppEnv>, runId: string, role: Role) {
  if (!UUID.test(runId))
    throw new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
  return authorizeRun(deps, c, runId.toLowerCase(), role);
}

/**
 * A proxied path, `<experiment_id>/<run_id>/artifacts[/<path>]`, resolved to the run (authorised
 * for `role`) and the path inside it ("" for the root). The experiment must be the run's project.
 */
async function resolve(deps: AppDeps, c: Context<AppEnv>, full: string, role: Role) {
  const shape = 'must be <experiment_id>/<run_id>/artifacts[/<path>]';
  if (!full) throw badPath(shape);
  checkPath(full, { prefix: true });
  const m = /^([^/]+)\/([^/]+)\/artifacts(?:\/(.*))?$/.exec(full.replace(/\/$/, ''));
  if (!m) throw badPath(shape);
  const [, experimentId, runId, relative = ''] = m as unknown as [string, string, string, string?];
  // Checked on its own too, as /api/v1 checks a path: inside the whole, a drive letter ("C:/x")
  // is not at the start and passed.
  if (relative) checkPath(relative, { prefix: true });
  const projectId = await runOf(deps, c, runId, role);
  if (String(projectId) !== experimentId) {
    throw new MlflowError(
      'RESOURCE_DOES_NOT_EXIST',
      `Run with id=${runId} not found in experiment ${experimentId}`,
    );
  }
  return { runId: runId.toLowerCase(), experimentId, relative };
}

/**
 * The proxied path of a request to `/artifacts/<path>`, percent-decoded once as MLflow clients
 * encode it. Read from the raw URL so that no router decoding (which skips `%2F` and `%25`)
 * hides what was sent.
 */
function proxiedPath(c: Context<AppEnv>): string {
  const raw = new URL(c.req.url).pathname;
  const at = raw.indexOf('/mlflow-artifacts/artifacts/');
  const encoded = raw.slice(at + '/mlflow-artifacts/artifacts/'.length);
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw badPath('is not valid percent-encoded UTF-8');
  }
}

/**
 * A registered checkpoint's files are immutable: the service's 409 is MLflow's RESOURCE_CONFLICT
 * (also 409), where the default mapping of a conflict would say INVALID_STATE with a 400.
 */
async function conflictAsMlflow<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AppError && err.status === 409)
      throw new MlflowError('RESOURCE_CONFLICT', err.message);
    throw err;
  }
}

const fileInfo = (dir: string, e: ArtifactEntry, { relative }: { relative: boolean }) => ({
  path: relative || !dir ? e.name : `${dir}/${e.name}`,
  is_dir: e.isDir,
  // MLflow leaves a directory's size out.
  ...(e.isDir ? {} : { file_size: e.sizeBytes }),
});

/**
 * MLflow's artifact proxy (`--serve-artifacts`) over heldout's run artifacts: PUT streams the
 * body into the blob store under the same size cap as `/api/v1`, GET streams it back as a
 * download, DELETE removes a file or a directory, and `GET /artifacts?path=` lists one directory
 * with the names relative to it, as MLflow's server does.
 *
 * @example
 * // PUT /api/2.0/mlflow-artifacts/artifacts/7/<run_id>/artifacts/plots/loss.png
 */
export function mlflowArtifactRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const store = blobStoreFor(deps.config.dataDir);
  const file = async (c: Context<AppEnv>, role: Role) => {
    const target = await resolve(deps, c, proxiedPath(c), role);
    if (!target.relative) throw badPath('must name a file under the run\'s "artifacts" root');
    return target;
  };
  return new Hono<AppEnv>()
    .get('/artifacts', async (c) => {
      const { path } = await params(c, z.object({ path: z.string().optional() }));
      const { runId, relative } = await resolve(deps, c, path ?? '', 'read');
      const entries = await listArtifactDirectory(db, runId, relative);
      return ok(c, { files: entries.map((e) => fileInfo(relative, e, { relative: true })) });
    })
    .put('/artifacts/*', async (c) => {
      const { runId, relative } = await file(c, 'write');
      const body = uploadBody(c, deps.config.HELDOUT_MAX_ARTIFACT_BYTES, 'an artifact');
      const contentType = c.req.header('content-type')?.slice(0, 200);
      const limits = storageLimits(deps.config);
      const put = putArtifact(db, store, { runId, path: relative, body, contentType, limits });
      await conflictAsMlflow(put);
      return ok(c);
    })
    .get('/artifacts/*', async (c) => {
      const { runId, relative } = await file(c, 'read');
      const row = await findArtifact(db, runId, relative);
      return download(c, () => store.open(row.storageKey), {
        filename: row.path.split('/').at(-1)!,
        sha256: row.sha256,
        sizeBytes: row.sizeBytes,
      });
    })
    .delete('/artifacts/*', async (c) => {
      const { runId, relative } = await file(c, 'write');
      await conflictAsMlflow(deleteArtifacts(db, runId, relative));
      return ok(c);
    });
}

/**
 * The tracking server's own listing, `GET /api/2.0/mlflow/artifacts/list?run_id=&path=`: one
 * directory of the run, paths relative to the run's root, and the root's URI. heldout lists a
 * directory in one query, so there is never a next page.
 *
 * @example
 * // GET /api/2.0/mlflow/artifacts/list?run_id=<run_id>&path=plots
 */
export function mlflowArtifactListRoutes(deps: AppDeps) {
  const { db } = deps.database;
  const query = z.object({
    run_id: z.string().optional(),
    // The field's old name, which some clients still send (alone or beside run_id).
    run_uuid: z.string().optional(),
    path: z.string().optional(),
    page_token: z.string().optional(),
  });
  return new Hono<AppEnv>().get('/artifacts/list', async (c) => {
    const q = await params(c, query);
    const runId = q.run_id ?? q.run_uuid;
    if (!runId) {
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        "Missing value for required parameter 'run_id'",
      );
    }
    const dir = (q.path ?? '').replace(/\/$/, '');
    if (dir) checkPath(dir, { prefix: false });
    const projectId = await runOf(deps, c, runId, 'read');
    const entries = await listArtifactDirectory(db, runId.toLowerCase(), dir);
    return ok(c, {
      root_uri: artifactUri(projectId, runId.toLowerCase()),
      files: entries.map((e) => fileInfo(dir, e, { relative: false })),
    });
  });
}
