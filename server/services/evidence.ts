import { isDeepStrictEqual } from 'node:util';
import { and, asc, desc, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { detectForgetting } from '../../evaluators/detectors/index.ts';
import type { GateFinding, GateInput, SuiteEvidence } from '../../evaluators/gates/index.ts';
import type { Db } from '../db/client.ts';
import {
  checkpoints,
  evaluationCases,
  evaluations,
  findings,
  suiteVersions,
  suites,
} from '../db/schema/index.ts';
import { rootBase } from './evaluations.ts';
import { servingFigures } from './serving-figures.ts';

interface Chosen {
  evaluationId: string;
  suiteVersionId: number;
  suite: string;
  purpose: SuiteEvidence['purpose'];
  metricVersions: unknown;
}

/**
 * The candidate's evidence: per ACTIVE suite of the project, its latest finished evaluation on the
 * newest suite version it was evaluated on.
 */
async function candidateEvaluations(db: Db, projectId: number, checkpointId: string) {
  return db
    .selectDistinctOn([suites.id], {
      evaluationId: evaluations.id,
      suiteVersionId: evaluations.suiteVersionId,
      suite: suites.name,
      purpose: suites.purpose,
      metricVersions: evaluations.metricVersions,
    })
    .from(evaluations)
    .innerJoin(suiteVersions, eq(suiteVersions.id, evaluations.suiteVersionId))
    .innerJoin(suites, eq(suites.id, suiteVersions.suiteId))
    .where(
      and(
        eq(evaluations.checkpointId, checkpointId),
        eq(evaluations.status, 'finished'),
        eq(suites.projectId, projectId),
        eq(suites.active, true),
      ),
    )
    .orderBy(
      asc(suites.id),
      desc(suiteVersions.version),
      sql`${evaluations.finishedAt} desc nulls last`,
      desc(evaluations.createdAt),
    );
}

/**
 * A baseline's evaluations on exactly the candidate's suite versions. Results scored by another
 * metric implementation are never compared, so such an evaluation is skipped (the suite then has
 * no baseline, which the gate reports as no_data).
 */
async function baselineEvaluations(
  db: Db,
  checkpointId: string,
  candidate: Chosen[],
): Promise<Chosen[]> {
  if (candidate.length === 0) return [];
  const rows = await db
    .select({
      evaluationId: evaluations.id,
      suiteVersionId: evaluations.suiteVersionId,
      metricVersions: evaluations.metricVersions,
    })
    .from(evaluations)
    .where(
      and(
        eq(evaluations.checkpointId, checkpointId),
        eq(evaluations.status, 'finished'),
        inArray(
          evaluations.suiteVersionId,
          candidate.map((c) => c.suiteVersionId),
        ),
      ),
    )
    .orderBy(sql`${evaluations.finishedAt} desc nulls last`, desc(evaluations.createdAt));
  return candidate.flatMap((c) => {
    const found = rows.find(
      (r) =>
        r.suiteVersionId === c.suiteVersionId &&
        isDeepStrictEqual(r.metricVersions, c.metricVersions),
    );
    return found ? [{ ...c, evaluationId: found.evaluationId }] : [];
  });
}

/** Per-case scores of the chosen evaluations as the gate engine reads them. */
async function suiteEvidence(db: Db, chosen: Chosen[]): Promise<SuiteEvidence[]> {
  if (chosen.length === 0) return [];
  const cases = await db
    .select({
      evaluationId: evaluationCases.evaluationId,
      id: evaluationCases.caseId,
      scores: evaluationCases.scores,
      passed: evaluationCases.passed,
    })
    .from(evaluationCases)
    .where(
      inArray(
        evaluationCases.evaluationId,
        chosen.map((c) => c.evaluationId),
      ),
    )
    .orderBy(asc(evaluationCases.caseId));
  return chosen.map((c) => ({
    suite: c.suite,
    purpose: c.purpose,
    cases: cases
      .filter((r) => r.evaluationId === c.evaluationId)
      .map((r) => ({ id: r.id, scores: numericScores(r.scores), passed: r.passed })),
  }));
}

// Scores are numbers by contract; anything else in the jsonb is left out rather than trusted.
function numericScores(value: unknown): Record<string, number> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (e): e is [string, number] => typeof e[1] === 'number',
    ),
  );
}

/**
 * The base model a candidate is compared with: the root of its lineage (`rootBase`), the shipped
 * base for runs trained from it. A base model has no base of its own.
 */
async function baseModelCheckpoint(db: Db, checkpointId: string): Promise<string | undefined> {
  const [candidate] = await db.select().from(checkpoints).where(eq(checkpoints.id, checkpointId));
  if (!candidate) return undefined;
  const root = await rootBase(db, candidate);
  return root.id === candidate.id ? undefined : root.id;
}

/**
 * Findings about the candidate: those recorded on its checkpoint, and run-level ones (no
 * checkpoint) of the run that produced it. A finding on another checkpoint of the same run is
 * about that checkpoint, not this one.
 */
async function candidateFindings(
  db: Db,
  projectId: number,
  checkpointId: string,
): Promise<GateFinding[]> {
  const [checkpoint] = await db
    .select({ runId: checkpoints.runId })
    .from(checkpoints)
    .where(eq(checkpoints.id, checkpointId));
  const runId = checkpoint?.runId;
  return db
    .select({ detector: findings.detector, severity: findings.severity, summary: findings.summary })
    .from(findings)
    .where(
      and(
        eq(findings.projectId, projectId),
        or(
          eq(findings.checkpointId, checkpointId),
          runId ? and(eq(findings.runId, runId), isNull(findings.checkpointId)) : undefined,
        ),
      ),
    )
    .orderBy(asc(findings.id));
}

/**
 * Forgetting against the champion, per retention suite: found when a verdict is asked for, since
 * the champion is whoever holds the alias being promoted to at that moment. A significant drop
 * (the whole paired interval below zero) is a blocking finding of this verdict.
 */
async function championForgetting(
  db: Db,
  chosen: Chosen[],
  input: GateInput,
): Promise<GateFinding[]> {
  const champion = input.baselines.champion;
  if (!champion?.length) return [];
  const versions = await db
    .select({ id: suiteVersions.id, metrics: suiteVersions.metrics })
    .from(suiteVersions)
    .where(
      inArray(
        suiteVersions.id,
        chosen.map((c) => c.suiteVersionId),
      ),
    );
  const found: GateFinding[] = [];
  for (const c of chosen) {
    if (c.purpose !== 'retention') continue;
    const metric = (versions.find((v) => v.id === c.suiteVersionId)?.metrics as string[])[0]!;
    const scores = (list: SuiteEvidence[] | undefined) =>
      (list?.find((e) => e.suite === c.suite)?.cases ?? []).map((k) => ({
        id: k.id,
        score: k.scores[metric] ?? Number.NaN,
        passed: k.passed,
      }));
    const held = scores(champion);
    if (!held.length) continue;
    const result = detectForgetting({
      suite: c.suite,
      base: input.baselines.base ? scores(input.baselines.base) : held,
      candidate: scores(input.candidate),
      champion: held,
    });
    for (const f of result.findings)
      if (f.evidence.against === 'champion')
        found.push({ detector: f.detector, severity: f.severity, summary: f.summary });
  }
  return found;
}

/** Which checkpoints and evaluations a verdict was computed from. */
export interface EvidenceSources {
  candidate: { checkpointId: string; evaluations: string[] };
  base: { checkpointId: string | null; evaluations: string[] };
  champion: { checkpointId: string | null; evaluations: string[] };
}

/**
 * Everything a gate needs to judge a candidate checkpoint, gathered from stored evaluations: the
 * candidate's evidence on the project's active suites, the base model's and the champion's on the
 * same suite versions, and the findings about the candidate. With `serving`, also the serving
 * latency of the candidate's model version over each window its `serving_latency` checks ask for
 * (a verdict judges a model version, so traffic served by other versions of the same checkpoint
 * does not count).
 *
 * @example
 * const { input } = await gatherEvidence(db, { projectId, checkpointId, championCheckpointId });
 * const verdict = evaluateGate(policy, input);
 */
export async function gatherEvidence(
  db: Db,
  opts: {
    projectId: number;
    checkpointId: string;
    championCheckpointId?: string;
    serving?: { modelVersionId: number; windows: number[] };
  },
): Promise<{ input: GateInput; sources: EvidenceSources }> {
  const chosen = await candidateEvaluations(db, opts.projectId, opts.checkpointId);
  const baseId = await baseModelCheckpoint(db, opts.checkpointId);
  const base = baseId ? await baselineEvaluations(db, baseId, chosen) : [];
  const champion = opts.championCheckpointId
    ? await baselineEvaluations(db, opts.championCheckpointId, chosen)
    : [];
  const input: GateInput = {
    candidate: await suiteEvidence(db, chosen),
    baselines: {
      ...(baseId && { base: await suiteEvidence(db, base) }),
      ...(opts.championCheckpointId && { champion: await suiteEvidence(db, champion) }),
    },
    findings: await candidateFindings(db, opts.projectId, opts.checkpointId),
  };
  if (opts.serving?.windows.length)
    input.serving = await servingFigures(db, opts.serving.modelVersionId, opts.serving.windows);
  input.findings.push(...(await championForgetting(db, chosen, input)));
  const ids = (list: Chosen[]) => list.map((c) => c.evaluationId);
  return {
    input,
    sources: {
      candidate: { checkpointId: opts.checkpointId, evaluations: ids(chosen) },
      base: { checkpointId: baseId ?? null, evaluations: ids(base) },
      champion: { checkpointId: opts.championCheckpointId ?? null, evaluations: ids(champion) },
    },
  };
}
