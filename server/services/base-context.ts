import { readFileSync } from 'node:fs';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { BUILTIN_MODELS } from '../../plugins/model/base/builtin.ts';
import type { Db } from '../db/client.ts';
import { checkpoints } from '../db/schema/index.ts';

let shipped: unknown;

/** The positions a model config declares: GPT-2's `n_positions`, Llama's `max_position_embeddings`. */
export function contextOf(modelConfig: unknown): number | undefined {
  const c = (modelConfig ?? {}) as { n_positions?: unknown; max_position_embeddings?: unknown };
  const n = c.n_positions ?? c.max_position_embeddings;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

/**
 * The context of the model a run starting at `checkpointId` trains: the checkpoint's own config
 * for a full model; for an adapter, that of the first full model down its lineage (adapter configs
 * hold no positions); the shipped base when the run names no checkpoint or the lineage ends.
 */
export async function baseContextLength(
  db: Db,
  projectId: number,
  checkpointId: string | undefined,
): Promise<number | undefined> {
  let id = checkpointId;
  for (let hops = 0; id && hops < 100; hops++) {
    const [row] = await db
      .select({
        kind: checkpoints.kind,
        modelConfig: checkpoints.modelConfig,
        baseCheckpointId: checkpoints.baseCheckpointId,
      })
      .from(checkpoints)
      .where(and(eq(checkpoints.id, id), eq(checkpoints.projectId, projectId)));
    // A checkpoint outside the project is refused elsewhere, naming baseCheckpointId.
    if (!row) return undefined;
    if (row.kind !== 'adapter') return contextOf(row.modelConfig);
    id = row.baseCheckpointId ?? undefined;
  }
  shipped ??= JSON.parse(
    readFileSync(path.join(BUILTIN_MODELS['tiny-base']!, 'config.json'), 'utf8'),
  ) as unknown;
  return contextOf(shipped);
}
