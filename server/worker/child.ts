/**
 * One training (or evaluation) attempt, in its own process: the worker forks this with CUDA_VISIBLE_DEVICES set to
 * its GPUs and sends the claimed job over IPC. Its own process because a cancelled or stuck
 * training must be stoppable with a signal, native GPU memory is only truly freed at exit, and a
 * crash (out of memory, a native abort) must not take the worker down.
 */
import fs from 'node:fs';
import { initBackend, parseBackendName } from '../../plugins/model/backend/index.ts';
import { CancelledError, isRetryable } from '../../plugins/sdk/index.ts';
import { HeldoutClient } from '../client/index.ts';
import { createPluginHost } from '../plugins/host.ts';
import type { ClaimedJob, ClaimedTraining } from '../schemas/jobs.ts';
import { httpTrainContext, withRetry } from './context.ts';
import { runEvaluation } from './evaluate.ts';

export type ToChild =
  | {
      type: 'start';
      job: ClaimedJob;
      server: string;
      token: string;
      workDir: string;
      gpus: number[];
      workerId: string;
    }
  | { type: 'cancel' }
  /** The worker's token was rotated: every later request uses this one. */
  | { type: 'token'; token: string };

export type FromChild =
  | { type: 'done'; steps: number; finalCheckpointId?: string }
  | { type: 'failed'; error: string; retryable: boolean }
  | { type: 'cancelled' }
  | { type: 'log'; line: string };

const controller = new AbortController();
let token = '';
const tell = (msg: FromChild) =>
  new Promise<void>((resolve) => process.send!(msg, () => resolve()));

type Start = Extract<ToChild, { type: 'start' }>;

async function attempt(msg: Start): Promise<FromChild> {
  token = msg.token;
  const client = new HeldoutClient({ baseUrl: msg.server, token: () => token });
  const backend = await initBackend(
    process.env.HELDOUT_BACKEND ? { prefer: parseBackendName(process.env.HELDOUT_BACKEND) } : {},
  );
  const { job } = msg;
  if (job.kind === 'evaluate') {
    await runEvaluation(client, job, {
      workDir: msg.workDir,
      workerId: msg.workerId,
      signal: controller.signal,
    });
    return { type: 'done', steps: 0 };
  }
  return train({ ...msg, job }, client, backend);
}

async function train(
  msg: Start & { job: ClaimedTraining },
  client: HeldoutClient,
  backend: Awaited<ReturnType<typeof initBackend>>,
): Promise<FromChild> {
  const { job } = msg;
  await withRetry('recording the device', () =>
    client.runs.update(job.run.id, { backend: backend.backend, device: backend.device }),
  );
  const host = createPluginHost(
    (process.env.HELDOUT_PLUGINS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
  const plugin = await host.get(job.run.plugin);
  if (job.run.pluginVersion && job.run.pluginVersion !== plugin.manifest.version) {
    return {
      type: 'failed',
      retryable: false,
      error: `plugin: the run needs ${job.run.plugin}@${job.run.pluginVersion}; this worker has ${plugin.manifest.version}`,
    };
  }
  // Checked at submission already; a failure here means the worker's plugin differs, which no
  // retry on this worker mends.
  const parsed = plugin.configSchema.safeParse(job.run.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return {
      type: 'failed',
      retryable: false,
      error: `config.${issue.path.join('.')}: ${issue.message}`,
    };
  }
  const config = parsed.data;
  const { ctx, close } = await httpTrainContext({
    client,
    job,
    workDir: msg.workDir,
    signal: controller.signal,
    device: { backend: backend.backend, device: backend.device, gpus: msg.gpus },
    onLog: (line) => void tell({ type: 'log', line }),
  });
  try {
    ctx.report.log('info', `attempt ${job.job.attempt} of run ${job.run.id} on ${backend.device}`);
    const result = await plugin.train(config, ctx);
    await ctx.report.flush();
    return { type: 'done', steps: result.steps, finalCheckpointId: result.finalCheckpoint?.id };
  } finally {
    await close();
  }
}

process.on('message', (msg: ToChild) => {
  if (msg.type === 'cancel') return controller.abort();
  if (msg.type === 'token') return void (token = msg.token);
  fs.mkdirSync(msg.workDir, { recursive: true });
  attempt(msg)
    .catch((err: unknown): FromChild => {
      if (err instanceof CancelledError || controller.signal.aborted) return { type: 'cancelled' };
      const e = err as Error;
      return {
        type: 'failed',
        error: `${e.name ?? 'Error'}: ${e.message ?? String(err)}`,
        retryable: isRetryable(err),
      };
    })
    .then(tell)
    .finally(() => process.exit(0));
});
// The worker is gone (killed, even with -9): nobody will report this attempt, so stop at once.
process.on('disconnect', () => process.exit(1));
process.on('SIGTERM', () => controller.abort());
