import { asc, desc, eq, inArray, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { checkpoints, modelVersions, models } from '../db/schema/index.ts';
import type { ModelRow, ModelVersionRow } from '../services/registry.ts';
import { parseRunId, parseSource } from './registry-sources.ts';
import { aliasesOf, PROJECT_TAG } from './registry-store.ts';

/** MLflow's stages; Staging and Production are heldout aliases of the same name in lower case. */
export const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;
export type Stage = (typeof STAGES)[number];
export const stageAlias: Record<Stage, string | null> = {
  None: null,
  Staging: 'staging',
  Production: 'production',
  Archived: null,
};

/** A version with what its wire form needs: its model and its checkpoint's place. */
export interface VersionJoin {
  version: ModelVersionRow;
  model: ModelRow;
  checkpoint: { runId: string | null; storageKey: string };
}

const tagList = (tags: Record<string, string>) =>
  Object.entries(tags).map(([key, value]) => ({ key, value }));

/** MLflow's artifact URI of a run's path, as the artifact routes serve it. */
export const runArtifactUri = (projectId: number, runId: string, path: string) =>
  `mlflow-artifacts:/${projectId}/${runId}/artifacts${path ? `/${path}` : ''}`;

/** Where the version's files are: the source it was registered with, else its checkpoint's. */
export function sourceOf(j: VersionJoin): string {
  if (j.version.source) return j.version.source;
  if (j.checkpoint.runId) return `runs:/${j.checkpoint.runId}/${j.checkpoint.storageKey}`;
  return `heldout:/checkpoints/${j.version.checkpointId}`;
}

/**
 * The artifact URI a client downloads the version from: always this server's own. The source a
 * client registered is echoed as it was sent, but it may name any host (`http://10.0.0.5/<run
 * id>/artifacts/m`), so only the run and path it was checked to name are handed out.
 */
export function downloadUri(j: VersionJoin): string {
  const named = parseSource(sourceOf(j), j.version.runId ?? j.checkpoint.runId ?? undefined);
  const runId = named && parseRunId(named.runId);
  if (runId) return runArtifactUri(j.model.projectId, runId, named.path);
  return sourceOf(j);
}

/**
 * A version's stage: its label, set by MLflow calls; a version never labelled that a heldout
 * promotion pointed `staging` or `production` at is in that stage too (one registry, two APIs).
 */
export function stageOf(v: ModelVersionRow, aliases: string[]): Stage {
  const label = STAGES.find((s) => s === v.stage) ?? 'None';
  if (label !== 'None') return label;
  if (aliases.includes('production')) return 'Production';
  if (aliases.includes('staging')) return 'Staging';
  return 'None';
}

export function wireVersion(j: VersionJoin, aliases: string[]) {
  const v = j.version;
  return {
    name: j.model.name,
    version: String(v.version),
    creation_timestamp: v.createdAt.getTime(),
    last_updated_timestamp: v.updatedAt.getTime(),
    current_stage: stageOf(v, aliases),
    description: v.description ?? '',
    source: sourceOf(j),
    ...(v.runId ? { run_id: v.runId } : {}),
    status: 'READY',
    tags: tagList(v.tags),
    aliases,
  };
}

/** Versions joined with their model and checkpoint, in `order`. */
export async function loadVersions(
  db: Db,
  where: SQL | undefined,
  page: { order?: SQL[]; limit?: number; offset?: number } = {},
): Promise<VersionJoin[]> {
  const rows = await db
    .select({
      version: modelVersions,
      model: models,
      runId: checkpoints.runId,
      storageKey: checkpoints.storageKey,
    })
    .from(modelVersions)
    .innerJoin(models, eq(models.id, modelVersions.modelId))
    .innerJoin(checkpoints, eq(checkpoints.id, modelVersions.checkpointId))
    .where(where)
    .orderBy(...(page.order ?? [asc(models.name), desc(modelVersions.version)]))
    .limit(page.limit ?? 100_000)
    .offset(page.offset ?? 0);
  return rows.map((r) => ({
    version: r.version,
    model: r.model,
    checkpoint: { runId: r.runId, storageKey: r.storageKey },
  }));
}

/** The wire form of versions, with the aliases that point at each. */
export async function presentVersions(db: Db, joined: VersionJoin[]) {
  const aliases = await aliasesOf(db, [...new Set(joined.map((j) => j.model.id))]);
  return joined.map((j) =>
    wireVersion(
      j,
      aliases.filter((a) => a.versionId === j.version.id).map((a) => a.alias),
    ),
  );
}

/**
 * The latest version of each model in each of `stages`: for Staging and Production, the version
 * the stage's alias points to when that version is in the stage (what `models:/m/Production`
 * should serve is what the alias serves); otherwise the highest version number in the stage.
 */
export async function latestVersions(
  db: Db,
  modelIds: number[],
  stages: readonly Stage[] = STAGES,
): Promise<VersionJoin[]> {
  if (modelIds.length === 0) return [];
  const all = await loadVersions(db, inArray(modelVersions.modelId, modelIds));
  const aliases = await aliasesOf(db, modelIds);
  const stageOfJoin = (j: VersionJoin) =>
    stageOf(
      j.version,
      aliases.filter((a) => a.versionId === j.version.id).map((a) => a.alias),
    );
  const latest: VersionJoin[] = [];
  for (const modelId of modelIds)
    for (const stage of stages) {
      const inStage = all.filter((j) => j.model.id === modelId && stageOfJoin(j) === stage);
      const target = aliases.find((a) => a.modelId === modelId && a.alias === stageAlias[stage]);
      const pick =
        inStage.find((j) => j.version.id === target?.versionId) ??
        inStage.reduce<VersionJoin | undefined>(
          (best, j) => (!best || j.version.version > best.version.version ? j : best),
          undefined,
        );
      if (pick) latest.push(pick);
    }
  return latest;
}

/** MLflow's registered_model, for each model (its latest versions and aliases included). */
export async function presentModels(db: Db, rows: ModelRow[], projectNames: Map<number, string>) {
  const ids = rows.map((m) => m.id);
  const latestJoined = await latestVersions(db, ids);
  const latest = await presentVersions(db, latestJoined);
  const aliases = await aliasesOf(db, ids);
  return rows.map((m) => ({
    name: m.name,
    creation_timestamp: m.createdAt.getTime(),
    last_updated_timestamp: m.updatedAt.getTime(),
    description: m.description ?? '',
    latest_versions: latest.filter((_, i) => latestJoined[i]!.model.id === m.id),
    tags: tagList({
      ...m.tags,
      [PROJECT_TAG]: projectNames.get(m.projectId) ?? String(m.projectId),
    }),
    aliases: aliases
      .filter((a) => a.modelId === m.id)
      .map((a) => ({ alias: a.alias, version: String(a.version) })),
  }));
}
