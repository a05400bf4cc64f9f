/**
 * What a worker may post as an evaluation's per-case results: exactly the suite version's cases,
 * each once, each with the hash of the input it was asked. A count alone let a worker post made-up
 * or swapped cases, and every gate reads these rows.
 */
import { caseHash, type EvalCase } from '../../evaluators/suite-runner.ts';
import { AppError } from '../http/errors.ts';
import { BlobNotFoundError, type BlobStore } from '../storage/blob-store.ts';
import { LineSplitter } from '../storage/lines.ts';
import { chunksOf } from '../storage/streams.ts';

/** Case id → case hash of every row of a stored eval file, hashed as the suite runner does. */
export async function suiteCaseHashes(
  store: BlobStore,
  storageKey: string,
): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const lines = new LineSplitter((_, text) => {
    if (!text?.trim()) return;
    // Validated on upload; a line that no longer parses cannot be a case anyone was asked.
    try {
      const row = JSON.parse(text) as EvalCase;
      if (typeof row.id === 'string') hashes.set(row.id, caseHash(row));
    } catch {
      return;
    }
  });
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = await store.open(storageKey);
  } catch (err) {
    if (err instanceof BlobNotFoundError)
      throw new AppError(
        409,
        'conflict',
        "cases: the suite version's eval file is gone, so no results can be checked against it",
      );
    throw err;
  }
  for await (const chunk of chunksOf(stream)) lines.push(chunk);
  lines.end();
  return hashes;
}

const bad = (message: string) => new AppError(400, 'bad_request', message);

/**
 * Throws a 400 naming the first posted case that is not one of the suite version's (unknown id,
 * an id sent twice, a hash that is not the case's), or the first case left out.
 *
 * @example
 * assertPostedCases(await suiteCaseHashes(store, key), 'qa@v1', results.cases);
 */
export function assertPostedCases(
  expected: Map<string, string>,
  suite: string,
  posted: { caseId: string; caseHash: string }[],
): void {
  const seen = new Set<string>();
  posted.forEach((c, i) => {
    const hash = expected.get(c.caseId);
    if (hash === undefined)
      throw bad(`cases[${i}].caseId: "${c.caseId}" is not a case of suite ${suite}`);
    if (seen.has(c.caseId))
      throw bad(`cases[${i}].caseId: case "${c.caseId}" is sent twice; each case once`);
    seen.add(c.caseId);
    if (c.caseHash !== hash)
      throw bad(
        `cases[${i}].caseHash: case "${c.caseId}" has hash ${hash} in suite ${suite}, not ${c.caseHash}: results must be for the case's own input`,
      );
  });
  for (const id of expected.keys())
    if (!seen.has(id)) throw bad(`cases: case "${id}" of suite ${suite} was not sent`);
}
