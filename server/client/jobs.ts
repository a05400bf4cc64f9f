import type { Checkpoint } from '../schemas/checkpoints.ts';
import type { ClaimedJob, JobResult } from '../schemas/jobs.ts';
import type { Transport } from './transport.ts';

/** A run's checkpoints: files go up as artifacts under `checkpoints/step-N/`, then one register call. */
export function checkpointsClient(t: Transport) {
  return {
    register: (
      runId: string,
      body: {
        step: number;
        kind: 'full' | 'adapter';
        trainableParams?: number;
        totalParams?: number;
      },
    ) => t.json<Checkpoint>('POST', `/runs/${runId}/checkpoints`, body),
    list: async (runId: string) =>
      (await t.json<{ checkpoints: Checkpoint[] }>('GET', `/runs/${runId}/checkpoints`))
        .checkpoints,
    get: (id: string) => t.json<Checkpoint>('GET', `/checkpoints/${id}`),
  };
}

/** The worker protocol (a token that covers every project is needed). */
export function jobsClient(t: Transport) {
  return {
    /** The next waiting job, or undefined when there is none. */
    claim: (workerId: string) =>
      t.json<ClaimedJob | undefined>('POST', '/jobs/claim', { workerId }),
    heartbeat: (jobId: string, workerId: string) =>
      t.json<{ stop: boolean; reason?: 'cancelled' | 'reassigned' }>(
        'POST',
        `/jobs/${jobId}/heartbeat`,
        { workerId },
      ),
    complete: (jobId: string, workerId: string, result: JobResult) =>
      t.json('POST', `/jobs/${jobId}/complete`, { workerId, result }),
    fail: (jobId: string, workerId: string, error: string, retryable: boolean) =>
      t.json<{ outcome: 'retry' | 'failed' }>('POST', `/jobs/${jobId}/fail`, {
        workerId,
        error,
        retryable,
      }),
  };
}
