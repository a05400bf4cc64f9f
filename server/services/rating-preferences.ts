/**
 * Preference pairs from human ratings: where one case of a suite version was rated on two
 * evaluations (two checkpoints' outputs) and the ratings differ, the better-rated output is
 * `chosen` and the other `rejected`, with the case's input as the prompt. Recorded through the
 * ordinary preference service, so they are cut into preference datasets like any ranking.
 */
import { and, avg, desc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import {
  datasetVersions,
  evaluationCases,
  evaluations,
  humanRatings,
  preferences,
  suiteVersions,
} from '../db/schema/index.ts';
import { notFound } from '../http/errors.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { evalRows } from './eval-rows.ts';
import { recordPreference } from './preferences.ts';
import { findSuite } from './suites.ts';

interface Rated {
  caseId: string;
  mean: number;
  output: string;
}

/** Every (better, worse) pair of differently rated, different outputs of each case. */
export function ratedPairs(rated: Rated[]): { caseId: string; chosen: string; rejected: string }[] {
  const byCase = new Map<string, Rated[]>();
  for (const r of rated) byCase.set(r.caseId, [...(byCase.get(r.caseId) ?? []), r]);
  const pairs = [];
  for (const [caseId, outputs] of byCase) {
    outputs.sort((x, y) => y.mean - x.mean);
    for (let i = 0; i < outputs.length; i++)
      for (let j = i + 1; j < outputs.length; j++)
        if (outputs[i]!.mean > outputs[j]!.mean && outputs[i]!.output !== outputs[j]!.output)
          pairs.push({ caseId, chosen: outputs[i]!.output, rejected: outputs[j]!.output });
  }
  return pairs;
}

/**
 * Records the preference pairs of a suite version's rated cases (the newest version unless one is
 * named) that are not recorded yet, so calling it again records only what new ratings added.
 */
export async function preferencesFromRatings(
  db: Db,
  store: BlobStore,
  input: { projectId: number; suite: string; suiteVersion?: number; tokenId: number | null },
) {
  const suite = await findSuite(db, input.projectId, input.suite);
  const [version] = await db
    .select({
      id: suiteVersions.id,
      version: suiteVersions.version,
      key: datasetVersions.storageKey,
    })
    .from(suiteVersions)
    .innerJoin(datasetVersions, eq(datasetVersions.id, suiteVersions.datasetVersionId))
    .where(
      and(
        eq(suiteVersions.suiteId, suite.id),
        input.suiteVersion === undefined
          ? undefined
          : eq(suiteVersions.version, input.suiteVersion),
      ),
    )
    .orderBy(desc(suiteVersions.version))
    .limit(1);
  if (!version)
    throw notFound(
      input.suiteVersion === undefined
        ? `suite: a version of suite "${suite.name}"`
        : `suiteVersion: version ${input.suiteVersion} of suite "${suite.name}"`,
    );
  // Per evaluation and case: the mean over annotators, with the output they rated.
  const rated = await db
    .select({
      caseId: humanRatings.caseId,
      mean: sql<number>`${avg(humanRatings.rating)}::float8`,
      output: evaluationCases.output,
    })
    .from(humanRatings)
    .innerJoin(evaluations, eq(evaluations.id, humanRatings.evaluationId))
    .innerJoin(
      evaluationCases,
      and(
        eq(evaluationCases.evaluationId, humanRatings.evaluationId),
        eq(evaluationCases.caseId, humanRatings.caseId),
      ),
    )
    .where(
      and(eq(evaluations.projectId, input.projectId), eq(evaluations.suiteVersionId, version.id)),
    )
    .groupBy(humanRatings.evaluationId, humanRatings.caseId, evaluationCases.output);
  const pairs = ratedPairs(rated);
  const rows = await evalRows(
    store,
    version.key,
    pairs.map((p) => p.caseId),
  );
  const annotator = `human-ratings:${suite.name}@v${version.version}`;
  const existing = await db
    .select({ prompt: preferences.prompt, responses: preferences.responses })
    .from(preferences)
    .where(and(eq(preferences.projectId, input.projectId), eq(preferences.annotator, annotator)));
  const seen = new Set(existing.map((p) => JSON.stringify([p.prompt, ...p.responses])));
  let recorded = 0;
  let alreadyRecorded = 0;
  let withoutInput = 0;
  for (const p of pairs) {
    const prompt = rows.get(p.caseId)?.input;
    if (prompt === undefined) {
      withoutInput++;
      continue;
    }
    const key = JSON.stringify([prompt, p.chosen, p.rejected]);
    if (seen.has(key)) {
      alreadyRecorded++;
      continue;
    }
    seen.add(key);
    await recordPreference(db, {
      projectId: input.projectId,
      prompt,
      responses: [p.chosen, p.rejected],
      annotator,
      tokenId: input.tokenId,
    });
    recorded++;
  }
  return {
    suite: suite.name,
    suiteVersion: version.version,
    annotator,
    pairs: pairs.length,
    recorded,
    alreadyRecorded,
    withoutInput,
  };
}
