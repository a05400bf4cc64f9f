import type { z } from '@hono/zod-openapi';
import type {
  createSuiteBody,
  createSuiteVersionBody,
  evaluation,
  EvaluationResults,
  finding,
  suite,
  suiteVersion,
} from '../schemas/suites.ts';
import type { Transport } from './transport.ts';

type Suite = z.infer<typeof suite>;
type Evaluation = z.infer<typeof evaluation>;
const base = (project: string, name?: string) =>
  `/projects/${encodeURIComponent(project)}/suites${name ? `/${encodeURIComponent(name)}` : ''}`;

/** Regression suites: a name and purpose, then frozen versions (eval cases, metrics, decoding). */
export function suitesClient(t: Transport) {
  return {
    create: (project: string, body: z.input<typeof createSuiteBody>) =>
      t.json<Suite>('POST', base(project), body),
    addVersion: (project: string, name: string, body: z.input<typeof createSuiteVersionBody>) =>
      t.json<z.infer<typeof suiteVersion>>('POST', `${base(project, name)}/versions`, body),
    list: async (project: string) =>
      (await t.json<{ suites: Suite[] }>('GET', base(project))).suites,
    setActive: (project: string, name: string, active: boolean) =>
      t.json<Suite>('PATCH', base(project, name), { active }),
  };
}

/** Evaluations of checkpoints on suite versions, and the worker's report of one. */
export function evaluationsClient(t: Transport) {
  return {
    ofCheckpoint: async (checkpointId: string) =>
      (
        await t.json<{ evaluations: Evaluation[] }>(
          'GET',
          `/checkpoints/${checkpointId}/evaluations`,
        )
      ).evaluations,
    get: (id: string) => t.json<Evaluation>('GET', `/evaluations/${id}`),
    findings: async (checkpointId: string) =>
      (
        await t.json<{ findings: z.infer<typeof finding>[] }>(
          'GET',
          `/checkpoints/${checkpointId}/findings`,
        )
      ).findings,
    report: (id: string, results: EvaluationResults) =>
      t.json('POST', `/evaluations/${id}/results`, results),
  };
}
