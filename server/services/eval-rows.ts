import { BlobNotFoundError, type BlobStore } from '../storage/blob-store.ts';
import { LineSplitter } from '../storage/lines.ts';
import { chunksOf } from '../storage/streams.ts';

export interface EvalRow {
  input: string;
  expected: string | string[];
}

/**
 * The rows of an eval dataset file with the given ids (an evaluation's caseId is its row's `id`,
 * as the suite runner reports it). The file is streamed and only the wanted rows are kept, so a
 * page of cases costs a page of memory; reading stops once every id is found.
 *
 * @example
 * const rows = await evalRows(store, version.storageKey, ['q1', 'q2']);
 * rows.get('q1'); // { input: '2+2?', expected: '4' }
 */
export async function evalRows(
  store: BlobStore,
  storageKey: string,
  ids: Iterable<string>,
): Promise<Map<string, EvalRow>> {
  const wanted = new Set(ids);
  const found = new Map<string, EvalRow>();
  if (!wanted.size) return found;
  const lines = new LineSplitter((_, text) => {
    if (!text?.trim()) return;
    // Stored files were validated on upload; a line that no longer parses is skipped, not fatal.
    let row: { id?: unknown; input?: unknown; expected?: unknown };
    try {
      row = JSON.parse(text) as typeof row;
    } catch {
      return;
    }
    if (typeof row.id === 'string' && wanted.has(row.id))
      found.set(row.id, {
        input: String(row.input ?? ''),
        expected: row.expected as string | string[],
      });
  });
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = await store.open(storageKey);
  } catch (err) {
    // A missing file leaves the cases without their rows (input null) rather than failing the page.
    if (err instanceof BlobNotFoundError) return found;
    throw err;
  }
  for await (const chunk of chunksOf(stream)) {
    lines.push(chunk);
    if (found.size === wanted.size) break;
  }
  if (found.size < wanted.size) lines.end();
  return found;
}
