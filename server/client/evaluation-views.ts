import type { z } from '@hono/zod-openapi';
import type {
  casesPage,
  casesQuery,
  diffQuery,
  evaluationDiff,
  findingsPage,
  findingsQuery,
  pageQuery,
  projectEvaluationsPage,
  projectEvaluationsQuery,
  runJobsPage,
} from '../schemas/evaluation-views.ts';
import type {
  caseRating,
  rateCaseBody,
  ratingPreferencesBody,
  ratingPreferencesResult,
} from '../schemas/human-ratings.ts';
import type { Query, Transport } from './transport.ts';

const project = (p: string) => `/projects/${encodeURIComponent(p)}`;
const q = (query: object | undefined) => query as Query | undefined;

/** What a UI reads about evaluations: cases, diffs, a project's evaluations, findings, jobs. */
export function evaluationViewsClient(t: Transport) {
  return {
    cases: (evaluationId: string, query?: z.input<typeof casesQuery>) =>
      t.json<z.infer<typeof casesPage>>(
        'GET',
        `/evaluations/${evaluationId}/cases`,
        undefined,
        q(query),
      ),
    diff: (a: string, b: string, query?: z.input<typeof diffQuery>) =>
      t.json<z.infer<typeof evaluationDiff>>(
        'GET',
        `/evaluations/${a}/diff/${b}`,
        undefined,
        q(query),
      ),
    ofProject: (name: string, query?: z.input<typeof projectEvaluationsQuery>) =>
      t.json<z.infer<typeof projectEvaluationsPage>>(
        'GET',
        `${project(name)}/evaluations`,
        undefined,
        q(query),
      ),
    runFindings: (runId: string, query?: z.input<typeof findingsQuery>) =>
      t.json<z.infer<typeof findingsPage>>('GET', `/runs/${runId}/findings`, undefined, q(query)),
    projectFindings: (name: string, query?: z.input<typeof findingsQuery>) =>
      t.json<z.infer<typeof findingsPage>>('GET', `${project(name)}/findings`, undefined, q(query)),
    runJobs: (runId: string, query?: z.input<typeof pageQuery>) =>
      t.json<z.infer<typeof runJobsPage>>('GET', `/runs/${runId}/jobs`, undefined, q(query)),
  };
}

const ratingPath = (evaluationId: string, caseId: string) =>
  `/evaluations/${evaluationId}/cases/${encodeURIComponent(caseId)}/rating`;

/** Human 1-5 ratings of evaluation outputs, and preference pairs made from them. */
export function humanRatingsClient(t: Transport) {
  return {
    rate: (evaluationId: string, caseId: string, body: z.input<typeof rateCaseBody>) =>
      t.json<z.infer<typeof caseRating>>('PUT', ratingPath(evaluationId, caseId), body),
    remove: (evaluationId: string, caseId: string, annotator?: string) =>
      t.json<z.infer<typeof caseRating>>('DELETE', ratingPath(evaluationId, caseId), undefined, {
        annotator,
      }),
    preferences: (name: string, body: z.input<typeof ratingPreferencesBody>) =>
      t.json<z.infer<typeof ratingPreferencesResult>>(
        'POST',
        `${project(name)}/human-ratings/preferences`,
        body,
      ),
  };
}
