import { and, asc, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { artifacts, checkpoints, runs } from '../db/schema/index.ts';
import { lockRunFiles } from '../services/artifacts.ts';
import { manifestDigest } from '../services/checkpoint-integrity.ts';
import { MlflowError } from './errors.ts';

/** Which run and checkpoint an MLflow model version's `source` stands for. */

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** A run id as MLflow clients send it (with or without dashes), as heldout's UUID; else null. */
export function parseRunId(id: string): string | null {
  if (!UUID.test(id)) return null;
  const hex = id.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The run and artifact path a version's `source` names: `runs:/<run_id>/<path>`, or any artifact
 * URI of the form `.../<run_id>/artifacts/<path>` (what MLflow clients send after resolving a
 * runs:/ URI), or, with `run_id` given, the path after the last `/artifacts/`.
 */
export function parseSource(source: string, runId: string | undefined) {
  const runs = /^runs:\/+([^/]+)\/?(.*)$/.exec(source);
  if (runs) return { runId: runs[1]!, path: runs[2]! };
  const inUri = /\/([0-9a-fA-F-]{32,36})\/artifacts(?:\/(.*))?$/.exec(source);
  if (inUri && parseRunId(inUri[1]!)) return { runId: inUri[1]!, path: inUri[2] ?? '' };
  const at = source.lastIndexOf('/artifacts/');
  if (runId !== undefined && at >= 0)
    return { runId, path: source.slice(at + '/artifacts/'.length) };
  if (runId !== undefined && /\/artifacts\/?$/.test(source)) return { runId, path: '' };
  return null;
}

/**
 * The checkpoint a version registered from a run's artifacts stands for. A path that is (or lies
 * under) a checkpoint the run registered names that checkpoint; an empty path names the run's
 * newest one; any other path must hold artifacts of the run, and becomes a checkpoint row of its
 * own (once: registering the same path again finds it). Such a checkpoint's files are the run's
 * artifacts under the path; its sha256 is the hash of their list (path, sha256, size), since an
 * MLflow model is a directory of files, not one weights file. Nothing is invented: no path with
 * no files, no weights that were never uploaded.
 */
export async function checkpointForSource(
  db: Db,
  input: { projectId: number; runId: string; path: string },
): Promise<string> {
  const runId = parseRunId(input.runId);
  const [run] = runId
    ? await db
        .select()
        .from(runs)
        .where(and(eq(runs.id, runId), isNull(runs.deletedAt)))
    : [];
  if (!run || run.projectId !== input.projectId)
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `run_id: no run ${input.runId} in the registered model's heldout project (a source must be a run's artifacts)`,
    );
  const path = input.path.replace(/^\/+|\/+$/g, '');
  const own = await db
    .select()
    .from(checkpoints)
    .where(eq(checkpoints.runId, run.id))
    .orderBy(desc(checkpoints.createdAt), desc(checkpoints.step));
  if (path === '') {
    if (own[0]) return own[0].id;
    throw new MlflowError(
      'INVALID_PARAMETER_VALUE',
      `source: run ${input.runId} has no checkpoint; name the artifact path of the model (runs:/<run_id>/<path>)`,
    );
  }
  const named = own.find((c) => path === c.storageKey || path.startsWith(`${c.storageKey}/`));
  if (named) return named.id;
  return db.transaction(async (tx) => {
    // The run's file lock: no upload lands under the path while its files become a checkpoint.
    await lockRunFiles(tx, run.id);
    const [again] = await tx
      .select({ id: checkpoints.id })
      .from(checkpoints)
      .where(and(eq(checkpoints.runId, run.id), eq(checkpoints.storageKey, path)));
    if (again) return again.id;
    const files = await tx
      .select()
      .from(artifacts)
      .where(and(eq(artifacts.runId, run.id), sql`starts_with(${artifacts.path}, ${path + '/'})`))
      .orderBy(asc(sql`${artifacts.path} collate "C"`));
    if (files.length === 0)
      throw new MlflowError(
        'INVALID_PARAMETER_VALUE',
        `source: run ${input.runId} has no artifacts under '${path}'; log the model's files to the run first`,
      );
    const adapter = files.some((f) => f.path === `${path}/adapter_config.json`);
    const [row] = await tx
      .insert(checkpoints)
      .values({
        projectId: run.projectId,
        runId: run.id,
        name: path,
        kind: adapter ? 'adapter' : 'full',
        step: null,
        sha256: manifestDigest(files),
        sizeBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
        baseCheckpointId: run.baseCheckpointId,
        storageKey: path,
        modelConfig: {},
      })
      .returning({ id: checkpoints.id });
    return row!.id;
  });
}
