import type { Context } from 'hono';
import { z } from 'zod';
import type { projects, runs } from '../db/schema/index.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { AppError } from '../http/errors.ts';
import { key as heldoutKey } from '../schemas/runs.ts';
import type { RunStatus } from '../schemas/runs.ts';
import { authorize, seesProject, type Role } from '../services/principal.ts';
import { findProjectAny, findProjectsAny } from '../services/projects.ts';
import { findRun, presentRuns } from '../services/runs.ts';
import { defaultProject } from './default-project.ts';
import { MlflowError } from './errors.ts';

/**
 * What experiments and runs look like on MLflow's wire, and how the adapter finds them: an
 * experiment is a heldout project (its id as a string), a run is a heldout run (its UUID as both
 * run_id and run_uuid). Nothing is stored twice.
 */

type ProjectRow = typeof projects.$inferSelect;
type RunRow = typeof runs.$inferSelect;

export const toMlflowStatus: Record<RunStatus, string> = {
  running: 'RUNNING',
  queued: 'SCHEDULED',
  finished: 'FINISHED',
  failed: 'FAILED',
  cancelled: 'KILLED',
};
export const fromMlflowStatus: Record<string, RunStatus> = Object.fromEntries(
  Object.entries(toMlflowStatus).map(([h, m]) => [m, h as RunStatus]),
);

/** The run tag that holds log-inputs' datasets; shown as the run's `inputs`, not as a tag. */
export const INPUTS_TAG = 'mlflow.heldout.inputs';
/** MLflow keeps the run name in this tag too; heldout keeps it as the run's name only. */
export const RUN_NAME_TAG = 'mlflow.runName';
export const USER_TAG = 'mlflow.user';

const ms = (d: Date | null) => (d ? d.getTime() : undefined);

// ---- request fields ------------------------------------------------------------------------

/** int64 fields: JSON numbers, or digit strings (query strings, protobuf-JSON encoders). */
export const int64 = z.union([
  z.number().int('must be an integer'),
  z
    .string()
    .regex(/^-?\d{1,16}$/, 'must be an integer')
    .transform(Number),
]);
// 0001-01-01 and JavaScript's last date (year 275760): Postgres holds every time between, and
// a time beyond either is a 500 on its way in (an invalid Date, or Postgres refusing it).
const EPOCH_MS_MIN = -62_135_596_800_000;
const EPOCH_MS_MAX = 8.64e15;
export const inEpochRange = (ms: number) => ms >= EPOCH_MS_MIN && ms <= EPOCH_MS_MAX;
/** A run's start or end as MLflow sends it: epoch milliseconds, within what can be stored. */
export const epochMillis = int64.refine(inEpochRange, 'must be a time in milliseconds since 1970');
/** Ids travel as strings; a JSON number is taken too. */
export const idString = z.union([z.string(), z.number().transform(String)]);
export const key = heldoutKey;
/** Metric values: numbers, or "NaN", "Infinity", "-Infinity" (JSON has no literal for them). */
export const metricValue = z.union([
  z.number(),
  z
    .string()
    .refine(
      (s) => /^(NaN|[-+]?Infinity)$/.test(s) || (s.trim() !== '' && !Number.isNaN(Number(s))),
      'must be a number, "NaN", "Infinity" or "-Infinity"',
    )
    .transform(Number),
]);
export const keyValue = z.object({ key, value: z.string() });
export const runIdFields = { run_id: idString.optional(), run_uuid: idString.optional() };

/** run_id, or the run_uuid older clients send. */
export function runIdOf(body: { run_id?: string; run_uuid?: string }): string {
  const id = body.run_id ?? body.run_uuid;
  if (!id)
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      "Missing value for required parameter 'run_id'",
    );
  return id;
}

// ---- lookups and authorisation -------------------------------------------------------------

const noExperiment = (id: string) =>
  new MlflowError('RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${id} exists`);

/**
 * An experiment (deleted or not) the caller may act on with `role`. As for /api/v1's projects, a
 * token of another project is told it does not exist, and an anonymous caller who may not read
 * hears 401 before anything is looked up.
 */
export async function experimentFor(
  deps: AppDeps,
  c: Context<AppEnv>,
  id: string,
  role: Role,
): Promise<ProjectRow> {
  const principal = c.get('principal');
  if (!principal) authorize(principal, null, role, deps.config.HELDOUT_PUBLIC_READ);
  if (!/^\d{1,15}$/.test(id)) throw noExperiment(id);
  // "0" is MLflow's default experiment: heldout's project "Default" (project ids start at 1).
  const project =
    id === '0'
      ? await defaultProject(
          deps.database.db,
          c.get('principal'),
          'experiment_id: set an experiment (mlflow.set_experiment) or create the project',
        )
      : await findProjectAny(deps.database.db, { id: Number(id) });
  if (!project || !seesProject(principal, project.id)) throw noExperiment(id);
  authorize(principal, project.id, role, deps.config.HELDOUT_PUBLIC_READ);
  return project;
}

/** An active experiment, for writes that MLflow refuses on a deleted one. */
export function assertActive(project: ProjectRow) {
  if (project.deletedAt)
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `The experiment ${project.id} must be in the 'active' state. Current state is deleted.`,
    );
}

const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A run (deleted or not) the caller may act on with `role`. Writes need an active run in an active
 * experiment, as MLflow's server insists.
 */
export async function runFor(
  deps: AppDeps,
  c: Context<AppEnv>,
  runId: string,
  role: Role,
  allowDeleted = false,
): Promise<RunRow> {
  const missing = new MlflowError('RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
  if (!uuidShape.test(runId)) throw missing;
  let run: RunRow;
  try {
    run = await findRun(deps.database.db, runId.toLowerCase());
  } catch (err) {
    if (err instanceof AppError && err.status === 404) throw missing;
    throw err;
  }
  authorize(c.get('principal'), run.projectId, role, deps.config.HELDOUT_PUBLIC_READ);
  if (role !== 'read' && !allowDeleted) {
    const project = await findProjectAny(deps.database.db, { id: run.projectId });
    if (run.deletedAt || project?.deletedAt)
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `The run ${run.id} must be in the 'active' state. Current state is deleted.`,
      );
  }
  return run;
}

// ---- presentation --------------------------------------------------------------------------

/** An experiment as MLflow shows it. */
export function presentExperiment(p: ProjectRow) {
  const created = p.createdAt.getTime();
  return {
    experiment_id: String(p.id),
    name: p.name,
    artifact_location: `mlflow-artifacts:/${p.id}`,
    lifecycle_stage: p.deletedAt ? 'deleted' : 'active',
    creation_time: created,
    // Projects keep no update time; the deletion is the one later change they record.
    last_update_time: p.deletedAt ? p.deletedAt.getTime() : created,
    tags: Object.entries(p.tags).map(([k, value]) => ({ key: k, value })),
  };
}

type DatasetInput = {
  tags?: { key: string; value: string }[];
  dataset: Record<string, unknown>;
};

/** Runs as MLflow shows them, with params, tags, latest metrics and inputs. */
export async function presentMlflowRuns(db: AppDeps['database']['db'], rows: RunRow[]) {
  const [presented, owners] = await Promise.all([
    presentRuns(db, rows),
    findProjectsAny(db, [...new Set(rows.map((r) => r.projectId))]),
  ]);
  const deletedProjects = new Set(owners.filter((p) => p.deletedAt).map((p) => p.id));
  return presented.map((r, i) => {
    const row = rows[i]!;
    const { [INPUTS_TAG]: inputs, ...tags } = r.tags;
    const info = {
      run_id: r.id,
      run_uuid: r.id,
      run_name: r.name,
      experiment_id: String(r.projectId),
      user_id: tags[USER_TAG] ?? '',
      status: toMlflowStatus[r.status],
      start_time: ms(row.startedAt) ?? row.createdAt.getTime(),
      end_time: ms(row.endedAt),
      artifact_uri: `mlflow-artifacts:/${r.projectId}/${r.id}/artifacts`,
      lifecycle_stage: row.deletedAt || deletedProjects.has(row.projectId) ? 'deleted' : 'active',
    };
    return {
      info,
      data: {
        metrics: Object.entries(r.metrics).map(([k, m]) => ({
          key: k,
          value: m.value,
          timestamp: m.wallTime,
          step: m.step,
        })),
        params: Object.entries(r.params).map(([k, value]) => ({ key: k, value })),
        tags: Object.entries({ ...tags, [RUN_NAME_TAG]: r.name }).map(([k, value]) => ({
          key: k,
          value,
        })),
      },
      inputs: { dataset_inputs: inputs ? (JSON.parse(inputs) as DatasetInput[]) : [] },
    };
  });
}

export type MlflowRun = Awaited<ReturnType<typeof presentMlflowRuns>>[number];
