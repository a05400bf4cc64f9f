import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { cudaVisibleDevices } from '../../plugins/model/backend/index.ts';
import { HeldoutClient } from '../client/index.ts';
import { subjectOf, type ClaimedJob } from '../schemas/jobs.ts';
import type { FromChild, ToChild } from './child.ts';

export interface WorkerOptions {
  server: string;
  token: string;
  /** One job per GPU; none means one job at a time on the CPU. */
  gpus: number[];
  logger: Logger;
  /** Where attempts keep their downloads and scratch files (removed after each attempt). */
  workDir?: string;
  pollMs?: number;
  heartbeatMs?: number;
  /** After a stop is asked for, how long a training may take to wind down before it is killed. */
  killAfterMs?: number;
  name?: string;
}

const childEntry = fileURLToPath(new URL('./child.ts', import.meta.url));
// Absolute, so the child finds the TypeScript loader whatever its working directory.
const tsxLoader = pathToFileURL(
  path.join(
    path.dirname(createRequire(import.meta.url).resolve('tsx/package.json')),
    'dist/loader.mjs',
  ),
).href;

const jobWord = (job: ClaimedJob) => (job.kind === 'train' ? 'training' : 'evaluation');

// The abort listener goes when the timer fires too: the worker sleeps between polls for as long
// as it runs, and a listener left behind per poll piles up on the one shutdown signal.
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const wake = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', wake);
      resolve();
    };
    const t = setTimeout(wake, ms);
    signal?.addEventListener('abort', wake, { once: true });
  });

/**
 * `heldout worker`: claims training jobs over HTTP and runs each in a child process pinned to its
 * GPU through CUDA_VISIBLE_DEVICES, heartbeating while it runs. A cancelled run (or a job the
 * server gave to someone else) is stopped within seconds: the child is asked, then killed. Stopping
 * the worker stops its children and hands their jobs back for an immediate retry elsewhere.
 *
 * @example
 * const worker = startWorker({ server: 'http://127.0.0.1:4242', token, gpus: [0, 1], logger });
 * await worker.stop();
 */
export function startWorker(opts: WorkerOptions) {
  let token = opts.token;
  const client = new HeldoutClient({ baseUrl: opts.server, token: () => token });
  // Attempts in flight, so a rotated token reaches their processes too.
  const children = new Set<ChildProcess>();
  const pollMs = opts.pollMs ?? 1000;
  const heartbeatMs = opts.heartbeatMs ?? 1000;
  const killAfterMs = opts.killAfterMs ?? 2500;
  const name = opts.name ?? `${os.hostname()}:${process.pid}`;
  const root = opts.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'heldout-worker-'));
  const stopping = new AbortController();
  const slots = opts.gpus.length ? opts.gpus.map((g) => [g]) : [[]];
  const log = opts.logger;

  async function runAttempt(slot: number[], workerId: string, job: ClaimedJob): Promise<void> {
    const workDir = path.join(root, `${job.job.id}-${job.job.attempt}`);
    // The job id on the command line tells an operator (and `ps`) which job a process trains.
    const child: ChildProcess = fork(childEntry, ['--job', job.job.id], {
      execArgv: ['--import', tsxLoader],
      env: { ...process.env, CUDA_VISIBLE_DEVICES: cudaVisibleDevices(slot) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    children.add(child);
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    let outcome: FromChild | undefined;
    let stopReason: 'cancelled' | 'reassigned' | 'shutdown' | undefined;
    child.on('message', (msg: FromChild) => {
      if (msg.type === 'log') log.info({ ...subjectOf(job), line: msg.line }, 'training');
      else outcome = msg;
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (reason: NonNullable<typeof stopReason>) => {
      if (stopReason) return;
      stopReason = reason;
      log.info({ jobId: job.job.id, ...subjectOf(job), reason }, 'stopping the training');
      if (child.connected) child.send({ type: 'cancel' } satisfies ToChild);
      killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    };
    const onShutdown = () => stop('shutdown');
    stopping.signal.addEventListener('abort', onShutdown);
    const beat = setInterval(() => {
      client.jobs.heartbeat(job.job.id, workerId).then(
        (answer) => answer.stop && stop(answer.reason ?? 'cancelled'),
        (err: unknown) => log.warn({ err, jobId: job.job.id }, 'heartbeat failed'),
      );
    }, heartbeatMs);
    child.send({
      type: 'start',
      job,
      server: opts.server,
      token,
      workDir,
      gpus: slot,
      workerId,
    } satisfies ToChild);
    const { code, signal } = await exited;
    children.delete(child);
    clearInterval(beat);
    clearTimeout(killTimer);
    stopping.signal.removeEventListener('abort', onShutdown);
    fs.rmSync(workDir, { recursive: true, force: true });

    const ctx = { jobId: job.job.id, ...subjectOf(job), attempt: job.job.attempt };
    // Cancelled or reassigned: the server already knows, there is nothing to report.
    if (stopReason === 'cancelled' || stopReason === 'reassigned') return;
    try {
      if (outcome?.type === 'done' && !stopReason) {
        await client.jobs.complete(job.job.id, workerId, {
          steps: outcome.steps,
          finalCheckpointId: outcome.finalCheckpointId,
        });
        log.info({ ...ctx, steps: outcome.steps }, `${jobWord(job)} finished`);
        return;
      }
      const error =
        outcome?.type === 'failed'
          ? outcome.error
          : stopReason === 'shutdown'
            ? 'the worker shut down during the training'
            : `the training process died (${signal ?? `exit code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
      const retryable = outcome?.type === 'failed' ? outcome.retryable : true;
      const { outcome: next } = await client.jobs.fail(job.job.id, workerId, error, retryable);
      log.warn({ ...ctx, error, next }, 'training attempt failed');
    } catch (err) {
      // The heartbeat reaper will retry the job if this report never arrives.
      log.error({ err, ...ctx }, 'could not report the end of a training attempt');
    }
  }

  async function slotLoop(slot: number[], index: number) {
    const workerId = `${name}:${slot.length ? `gpu${slot.join('+')}` : `cpu${index}`}`;
    while (!stopping.signal.aborted) {
      let job: ClaimedJob | undefined;
      try {
        job = await client.jobs.claim(workerId);
      } catch (err) {
        log.warn({ err }, 'could not claim a job; trying again');
      }
      if (!job) {
        await sleep(pollMs, stopping.signal);
        continue;
      }
      log.info({ jobId: job.job.id, ...subjectOf(job), workerId }, `${jobWord(job)} started`);
      await runAttempt(slot, workerId, job);
    }
  }

  const loops = Promise.all(slots.map((slot, i) => slotLoop(slot, i)));
  log.info({ server: opts.server, slots: slots.length, gpus: opts.gpus }, 'worker started');
  return {
    /**
     * Uses `next` for every later request, its own and its running attempts' (the server rotates
     * the in-process worker's token before it expires).
     */
    setToken(next: string): void {
      token = next;
      // An attempt exiting meanwhile needs no token: its closed channel is no error.
      for (const child of children)
        if (child.connected) child.send({ type: 'token', token: next } satisfies ToChild, () => {});
    },
    /** Stops claiming, stops the running trainings and reports them for a retry. */
    async stop(): Promise<void> {
      stopping.abort();
      await loops;
      if (!opts.workDir) fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
