import { and, asc, eq, gt } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { preferences } from '../db/schema/index.ts';
import type { Preference } from '../schemas/preferences.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { uploadDatasetVersion } from './datasets.ts';
import type { StorageLimits } from './storage-quota.ts';

type PreferenceRow = typeof preferences.$inferSelect;
type ProjectRow = Parameters<typeof uploadDatasetVersion>[2]['project'];

export const presentPreference = (p: PreferenceRow): Preference => ({
  id: p.id,
  projectId: p.projectId,
  prompt: p.prompt,
  responses: p.responses,
  annotator: p.annotator,
  createdAt: p.createdAt.toISOString(),
});

export async function recordPreference(
  db: Db,
  input: {
    projectId: number;
    prompt: string;
    responses: string[];
    annotator?: string;
    tokenId: number | null;
  },
): Promise<PreferenceRow> {
  const [row] = await db
    .insert(preferences)
    .values({
      projectId: input.projectId,
      prompt: input.prompt,
      responses: input.responses,
      annotator: input.annotator ?? null,
      createdByTokenId: input.tokenId,
    })
    .returning();
  return row!;
}

/** A page of a project's rankings, oldest first; the page token is the last id seen. */
export async function listPreferences(
  db: Db,
  projectId: number,
  query: { limit: number; after?: number },
): Promise<{ rows: PreferenceRow[]; next: number | null }> {
  const rows = await db
    .select()
    .from(preferences)
    .where(
      and(
        eq(preferences.projectId, projectId),
        query.after === undefined ? undefined : gt(preferences.id, query.after),
      ),
    )
    .orderBy(asc(preferences.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return { rows: page, next: rows.length > query.limit ? page.at(-1)!.id : null };
}

/**
 * Every ranking of the project so far, as a new version of a preference dataset: one JSONL row
 * per ranking (`{prompt, responses, annotator, preference_id}`), through the ordinary upload path,
 * so it is validated, cleaned, content-addressed and versioned like any upload. Cutting again
 * with no new rankings returns the same version.
 */
export async function cutPreferenceDataset(
  db: Db,
  store: BlobStore,
  input: {
    project: ProjectRow;
    name: string;
    maxRows: number;
    tokenId: number | null;
    limits: StorageLimits;
  },
) {
  async function* jsonl(): AsyncIterable<Uint8Array> {
    const encoder = new TextEncoder();
    let after: number | undefined;
    for (;;) {
      const { rows, next } = await listPreferences(db, input.project.id, { limit: 1000, after });
      const text = rows
        .map((r) =>
          JSON.stringify({
            prompt: r.prompt,
            responses: r.responses,
            annotator: r.annotator,
            preference_id: r.id,
          }),
        )
        .join('\n');
      if (text) yield encoder.encode(`${text}\n`);
      if (next === null) return;
      after = next;
    }
  }
  return uploadDatasetVersion(db, store, {
    project: input.project,
    name: input.name,
    kind: 'preference',
    body: jsonl(),
    maxRows: input.maxRows,
    tokenId: input.tokenId,
    limits: input.limits,
  });
}
