import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type {
  CheckpointInfo,
  DatasetRow,
  DatasetSplit,
  MetricPoint,
  Reporter,
  TrainContext,
} from '../../plugins/sdk/index.ts';
import { TransientError } from '../../plugins/sdk/index.ts';
import { BUILTIN_MODELS } from '../../plugins/model/base/builtin.ts';
import { HeldoutApiError, type HeldoutClient } from '../client/index.ts';
import type { Checkpoint } from '../schemas/checkpoints.ts';
import { verifyCheckpointFiles } from '../services/checkpoint-integrity.ts';
import type { ClaimedTraining } from '../schemas/jobs.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Retries what a lost connection or a restarting server can break: network errors, 5xx and 429.
 * A 4xx is our mistake and is thrown at once.
 */
export async function withRetry<T>(what: string, fn: () => Promise<T>, tries = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const status = err instanceof HeldoutApiError ? err.status : 0;
      const transient = status === 0 || status >= 500 || status === 429;
      if (!transient || attempt >= tries) {
        throw transient
          ? new TransientError(`${what}: ${(err as Error).message}`, { cause: err })
          : err;
      }
      await sleep(Math.min(10_000, 250 * 2 ** attempt));
    }
  }
}

async function downloadTo(res: Response, file: string): Promise<string> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const hash = createHash('sha256');
  const out = fs.createWriteStream(file);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return hash.digest('hex');
}

/** A dataset version's rows, checked against the sha256 the server gave for it. */
export async function fetchDataset(
  client: HeldoutClient,
  d: { role: string; kind: DatasetSplit['kind']; path: string; sha256: string },
): Promise<DatasetSplit> {
  const res = await withRetry(`downloading the ${d.role} dataset`, () => client.raw('GET', d.path));
  const bytes = new Uint8Array(await res.arrayBuffer());
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== d.sha256) {
    throw new TransientError(
      `the ${d.role} dataset arrived with sha256 ${sha256}, not ${d.sha256}`,
    );
  }
  const rows = new TextDecoder()
    .decode(bytes)
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as DatasetRow);
  return { kind: d.kind, sha256, rows };
}

/**
 * Downloads a checkpoint's files (all of them: weights, config, tokenizer, optimiser state) and
 * checks them against the sha256 it was registered with: files changed behind a registered
 * checkpoint fail the job non-retryably (CheckpointCorruptError names both hashes).
 */
async function downloadCheckpoint(
  client: HeldoutClient,
  checkpoint: { checkpointId: string; runId: string; path: string; sha256: string },
  dir: string,
): Promise<void> {
  const { runId, path: prefix } = checkpoint;
  const files = await withRetry('listing checkpoint files', () =>
    client.artifacts.list(runId, { prefix: `${prefix}/` }),
  );
  const measured = new Map<string, string>();
  const fetchTo = async (f: (typeof files)[number], target: string) => {
    const res = await withRetry(`downloading ${f.path}`, () =>
      client.artifacts.download(runId, f.path),
    );
    return downloadTo(res, target);
  };
  for (const f of files) {
    const target = path.join(dir, path.basename(f.path));
    let sha256 = await fetchTo(f, target);
    if (sha256 !== f.sha256) {
      // Once more: a transfer may garble bytes, but the same wrong bytes twice are the store's.
      const again = await fetchTo(f, target);
      if (again !== sha256 && again !== f.sha256)
        throw new TransientError(`${f.path} arrived corrupted`);
      sha256 = again;
    }
    measured.set(f.path, sha256);
  }
  verifyCheckpointFiles({ id: checkpoint.checkpointId, ...checkpoint }, files, measured);
}

type ModelSource = ClaimedTraining['baseModel'];

/** A model on local disk: a shipped one in place, or a run checkpoint downloaded into `dir`. */
export async function modelDir(client: HeldoutClient, source: ModelSource, dir: string) {
  if (source.kind === 'builtin') {
    const builtin = BUILTIN_MODELS[source.name];
    if (!builtin) throw new TransientError(`this worker has no built-in model "${source.name}"`);
    const bytes = fs.readFileSync(path.join(builtin, 'model.safetensors'));
    return { dir: builtin, sha256: createHash('sha256').update(bytes).digest('hex') };
  }
  await downloadCheckpoint(client, source, dir);
  return { dir, sha256: source.sha256, checkpointId: source.checkpointId };
}

const baseModelDir = (client: HeldoutClient, job: ClaimedTraining, workDir: string) =>
  modelDir(client, job.baseModel, path.join(workDir, 'base'));

/** The other checkpoints the job reads (PPO's reward model), each in `models/<role>`. */
async function modelDirs(client: HeldoutClient, job: ClaimedTraining, workDir: string) {
  const models: NonNullable<TrainContext['models']> = {};
  for (const [role, source] of Object.entries(job.models ?? {})) {
    const local = await modelDir(
      client,
      { kind: 'checkpoint', ...source },
      path.join(workDir, 'models', role),
    );
    models[role] = { dir: local.dir, sha256: source.sha256, checkpointId: source.checkpointId };
  }
  return models;
}

/**
 * Metrics are buffered and sent in batches in the background; a failed send is retried with the
 * same points, which the server stores by (run, key, step), so a retry overwrites and never
 * doubles. Logs go to the worker's own log and into a `logs/attempt-N.log` artifact.
 */
function httpReporter(
  client: HeldoutClient,
  runId: string,
  attempt: number,
  onLog: (line: string) => void,
): Reporter & { close(): Promise<void> } {
  let pending: MetricPoint[] = [];
  const logLines: string[] = [];
  let logsSent = 0;
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  const send = () => {
    const points = pending;
    const logs = logLines.length > logsSent ? logLines.slice() : undefined;
    pending = [];
    chain = chain.then(async () => {
      if (failure) return;
      try {
        for (let i = 0; i < points.length; i += 1000) {
          const batch = points.slice(i, i + 1000);
          await withRetry('sending metrics', () => client.metrics.log(runId, batch));
        }
        if (logs) {
          await withRetry('sending logs', () =>
            client.artifacts.upload(runId, `logs/attempt-${attempt}.log`, logs.join('\n') + '\n'),
          );
          logsSent = logs.length;
        }
      } catch (err) {
        failure = err;
      }
    });
    return chain;
  };
  const timer = setInterval(() => {
    if (pending.length || logLines.length > logsSent) void send();
  }, 1000);
  return {
    metrics(points) {
      pending.push(...points);
      if (pending.length >= 1000) void send();
    },
    parameters(counts) {
      chain = chain.then(() =>
        withRetry('sending parameter counts', () =>
          client.runs.logParams(runId, {
            'model/total_parameters': String(counts.total),
            'model/trainable_parameters': String(counts.trainable),
          }),
        ).then(() => undefined),
      );
    },
    log(level, message, fields) {
      const line = `${new Date().toISOString()} ${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`;
      logLines.push(line);
      onLog(line);
    },
    async flush() {
      await send();
      if (failure) throw failure;
    },
    async close() {
      clearInterval(timer);
      await send();
    },
  };
}

export interface HttpContextOptions {
  client: HeldoutClient;
  job: ClaimedTraining;
  /** A private directory for this attempt; removed by the caller afterwards. */
  workDir: string;
  signal: AbortSignal;
  device: TrainContext['device'];
  onLog?: (line: string) => void;
}

/**
 * The TrainContext of a claimed job, backed by the heldout HTTP API: datasets and the base model
 * are downloaded (and checked against their sha256), metrics stream back in batches, and each
 * checkpoint is uploaded file by file and registered. Saving a checkpoint first flushes the
 * metrics, so a retry that resumes from it never leaves a gap in a series.
 */
export async function httpTrainContext(
  opts: HttpContextOptions,
): Promise<{ ctx: TrainContext; close(): Promise<void> }> {
  const { client, job, workDir } = opts;
  const runId = job.run.id;
  const train = job.datasets.find((d) => d.role === 'train');
  const validation = job.datasets.find((d) => d.role === 'validation');
  if (!train) throw new TransientError('the job names no train dataset');
  const report = httpReporter(client, runId, job.job.attempt, opts.onLog ?? (() => {}));
  const scratchDir = path.join(workDir, 'scratch');
  fs.mkdirSync(scratchDir, { recursive: true });
  const seed = job.run.config.seed;

  const ctx: TrainContext = {
    runId,
    seed: typeof seed === 'number' ? seed : 0,
    baseModel: await baseModelDir(client, job, workDir),
    baseAdapter: job.baseAdapter && {
      ...(await modelDir(
        client,
        { kind: 'checkpoint', ...job.baseAdapter },
        path.join(workDir, 'base-adapter'),
      )),
      checkpointId: job.baseAdapter.checkpointId,
    },
    models: await modelDirs(client, job, workDir),
    datasets: {
      train: await fetchDataset(client, train),
      validation: validation ? await fetchDataset(client, validation) : undefined,
    },
    signal: opts.signal,
    device: opts.device,
    scratchDir,
    report,
    checkpoints: {
      async save(dir: string, info: CheckpointInfo) {
        await report.flush();
        const prefix = `checkpoints/step-${info.step}`;
        for (const name of fs.readdirSync(dir).sort()) {
          const file = path.join(dir, name);
          if (!fs.statSync(file).isFile()) continue;
          await withRetry(`uploading ${prefix}/${name}`, () =>
            client.artifacts.upload(
              runId,
              `${prefix}/${name}`,
              Readable.toWeb(fs.createReadStream(file)) as ReadableStream<Uint8Array>,
            ),
          );
        }
        const c = await withRetry('registering the checkpoint', () =>
          client.checkpoints.register(runId, {
            step: info.step,
            kind: info.kind,
            trainableParams: info.trainableParams,
            totalParams: info.totalParams,
          }),
        );
        return { id: c.id, sha256: c.sha256 };
      },
      async latest() {
        const list = await withRetry('listing checkpoints', () => client.checkpoints.list(runId));
        const newest = list.reduce<Checkpoint | undefined>(
          (best, c) => (c.step !== null && (best?.step ?? -1) < c.step ? c : best),
          undefined,
        );
        if (!newest || newest.step === null) return undefined;
        const dir = path.join(workDir, 'resume', `step-${newest.step}`);
        await downloadCheckpoint(
          client,
          { checkpointId: newest.id, runId, path: newest.path, sha256: newest.sha256 },
          dir,
        );
        return { dir, step: newest.step };
      },
    },
  };
  return { ctx, close: () => report.close() };
}
