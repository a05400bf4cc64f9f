import {
  model as m,
  type MetricPoint,
  type TrainContext,
  type TrainResult,
  TransientError,
  CancelledError,
} from '../../sdk/index.ts';

const { tf } = m;

/** The optimisation settings every built-in trainer shares (each plugin's config extends them). */
export interface LoopSettings {
  steps: number;
  batchSize: number;
  gradAccumulation: number;
  learningRate: number;
  warmupSteps: number;
  minLearningRateRatio: number;
  weightDecay: number;
  clipNorm: number;
  validationEvery: number;
  checkpointEvery: number;
  seed: number;
}

/**
 * Which pass a loss is computed for. Randomness inside a step (dropout) must derive from `draw`,
 * which is the same for a step whether the run went straight through or resumed.
 */
export interface Pass {
  training: boolean;
  /** Unique per micro-batch of a run: step (from 0) * gradAccumulation + micro-batch index. */
  draw: number;
}

export interface LoopParts<Item = m.Example> {
  ctx: TrainContext;
  /** Variables the optimiser updates (all of them for `full`; adapters for LoRA and PEFT). */
  trainable: Map<string, m.tf.Variable>;
  /** The loss of a batch (a scalar), built inside the optimiser's gradient tape. */
  loss: (batch: m.TensorBatch, pass: Pass) => m.tf.Scalar;
  /**
   * Tensors for a batch of items (default: padded SFT/text examples). Pairwise methods (DPO, reward
   * models) batch pairs and add their own tensors; every tensor field is disposed after use.
   */
  batchOf?: (items: Item[]) => m.TensorBatch;
  train: Item[];
  validation: Item[];
  padId: number;
  /**
   * Writes the checkpoint for `step` into `dir` (weights and config in the plugin's own layout);
   * the loop adds the optimiser state beside it and registers the directory.
   */
  writeCheckpoint: (
    dir: string,
    step: number,
  ) => Promise<{ kind: 'full' | 'adapter'; trainableParams: number; totalParams: number }>;
  /** Loads the weights of a checkpoint this plugin wrote, to resume after a retry. */
  loadCheckpoint: (dir: string) => Promise<void>;
  /**
   * Which trainable variables weight decay pulls towards zero (default: the matrices). Scales
   * that start at 1 (IA³) and prompt embeddings must not be decayed.
   */
  decays?: (name: string, v: m.tf.Variable) => boolean;
  /**
   * Replaces the default step (one batch, one gradient): PPO collects rollouts and takes several
   * updates per step. It returns the step's loss and extra metrics; the loop keeps the schedule,
   * checkpoints, resumption, system metrics and cancellation.
   */
  step?: (step: number, optimizer: m.AdamW, lr: number) => Promise<StepOutcome> | StepOutcome;
  /** Held-out figures beyond the validation loss: at the start, at validation steps and the end. */
  evaluate?: (step: number) => MetricPoint[];
}

export interface StepOutcome {
  loss: number;
  gradNorm: number;
  /** Tokens processed, for the throughput metric. */
  tokens: number;
  metrics: MetricPoint[];
}

const OPTIMIZER_FILE = 'optimizer.safetensors';
const GPU_SAMPLE_EVERY = 10;

/** Disposes every tensor a batch holds, the extra ones pairwise methods add included. */
export const disposeBatch = (batch: m.TensorBatch) =>
  tf.dispose(Object.values(batch).filter((v): v is m.tf.Tensor => v instanceof tf.Tensor));

/** The current values of variables, copied, as a checkpoint writer saves them. */
export const snapshot = (vars: ReadonlyMap<string, m.tf.Variable>): m.WeightMap =>
  new Map(
    [...vars].map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.dataSync()) }]),
  );

function batcher<Item>(parts: LoopParts<Item>) {
  return parts.batchOf ?? ((items: Item[]) => m.toBatch(items as m.Example[], parts.padId));
}

function validationLoss<Item>(parts: LoopParts<Item>, batchSize: number): number | undefined {
  if (parts.validation.length === 0) return undefined;
  let weighted = 0;
  let tokens = 0;
  for (let i = 0; i < parts.validation.length; i += batchSize) {
    const batch = batcher(parts)(parts.validation.slice(i, i + batchSize));
    const loss = tf.tidy(() => parts.loss(batch, { training: false, draw: 0 }).dataSync()[0]!);
    weighted += loss * batch.tokens;
    tokens += batch.tokens;
    disposeBatch(batch);
  }
  return tokens > 0 ? weighted / tokens : undefined;
}

/** One optimiser step: gradients of `gradAccumulation` micro-batches, averaged, then applied. */
function gradientStep<Item>(
  parts: LoopParts<Item>,
  s: LoopSettings,
  optimizer: m.AdamW,
  next: () => Item[],
  step: number,
  lr: number,
): StepOutcome {
  let lossSum = 0;
  let tokens = 0;
  let summed: Map<string, m.tf.Tensor> | undefined;
  for (let micro = 0; micro < s.gradAccumulation; micro++) {
    const batch = batcher(parts)(next());
    const draw = step * s.gradAccumulation + micro;
    const { loss, grads } = optimizer.gradients(() => parts.loss(batch, { training: true, draw }));
    disposeBatch(batch);
    lossSum += loss;
    tokens += batch.tokens;
    if (!summed) summed = grads;
    else {
      for (const [name, g] of grads) {
        const total = summed.get(name)!.add(g);
        tf.dispose([summed.get(name)!, g]);
        summed.set(name, total);
      }
    }
  }
  if (s.gradAccumulation > 1) {
    for (const [name, g] of summed!) {
      summed!.set(name, g.div(s.gradAccumulation));
      g.dispose();
    }
  }
  const gradNorm = optimizer.apply(summed!, lr);
  return { loss: lossSum / s.gradAccumulation, gradNorm, tokens, metrics: [] };
}

/**
 * The training loop of the built-in trainers: AdamW with warmup and cosine decay, global-norm
 * clipping, gradient accumulation, validation loss every N steps beside the training loss,
 * checkpoints (with optimiser state) every N steps and at the end, system metrics, cancellation,
 * and resumption from the run's latest checkpoint, which replays the same data order.
 */
export async function runTrainingLoop<Item = m.Example>(
  parts: LoopParts<Item>,
  s: LoopSettings,
): Promise<TrainResult> {
  const { ctx } = parts;
  const optimizer = new m.AdamW(parts.trainable, {
    weightDecay: s.weightDecay,
    clipNorm: s.clipNorm,
    ...(parts.decays ? { decays: parts.decays } : {}),
  });
  let step = 0;
  const resume = await ctx.checkpoints.latest();
  if (resume) {
    await parts.loadCheckpoint(resume.dir);
    const saved = await m
      .loadSafetensorsFile(`${resume.dir}/${OPTIMIZER_FILE}`)
      .catch((cause: unknown) => {
        throw new TransientError(
          `cannot read the optimiser state of the checkpoint at step ${resume.step}`,
          { cause },
        );
      });
    optimizer.restore({ t: Number(saved.metadata.t), tensors: saved.tensors });
    step = resume.step;
    ctx.report.log('info', `resuming from the checkpoint at step ${step}`);
  }
  const next = parts.step
    ? () => []
    : m.batchStream(parts.train, s.batchSize, s.seed, step * s.gradAccumulation);
  if (!resume && parts.evaluate) ctx.report.metrics(parts.evaluate(0));
  let last: TrainResult['finalCheckpoint'];

  const save = async () => {
    const dir = `${ctx.scratchDir}/step-${step}`;
    const info = await parts.writeCheckpoint(dir, step);
    const state = optimizer.state();
    await m.saveSafetensorsFile(`${dir}/${OPTIMIZER_FILE}`, state.tensors, { t: String(state.t) });
    last = await ctx.checkpoints.save(dir, { step, ...info });
  };

  while (step < s.steps) {
    // Training is synchronous compute: without a turn of the event loop per step, metrics would
    // not be sent and a cancel would not be heard until the run ended.
    await new Promise((resolve) => setImmediate(resolve));
    if (ctx.signal.aborted) throw new CancelledError();
    const started = performance.now();
    const lr = m.warmupCosine(step, {
      peak: s.learningRate,
      warmup: s.warmupSteps,
      total: s.steps,
      floor: s.minLearningRateRatio,
    });
    const outcome = parts.step
      ? await parts.step(step, optimizer, lr)
      : gradientStep(parts, s, optimizer, next, step, lr);
    step++;
    const seconds = (performance.now() - started) / 1000;
    const points: MetricPoint[] = [
      { key: 'train/loss', value: outcome.loss, step },
      { key: 'train/learning_rate', value: lr, step },
      { key: 'train/grad_norm', value: outcome.gradNorm, step },
      { key: 'system/step_time_ms', value: seconds * 1000, step },
      { key: 'system/tokens_per_second', value: outcome.tokens / seconds, step },
      { key: 'system/memory_mb', value: process.memoryUsage().rss / 2 ** 20, step },
      ...outcome.metrics.map((p) => ({ ...p, step })),
    ];
    if (step % s.validationEvery === 0 || step === s.steps) {
      const v = validationLoss(parts, s.batchSize);
      if (v !== undefined) points.push({ key: 'validation/loss', value: v, step });
      points.push(...(parts.evaluate?.(step) ?? []));
    }
    ctx.report.metrics(points);
    if (ctx.device.gpus.length && step % GPU_SAMPLE_EVERY === 0) {
      // Asked in the background: nvidia-smi takes tens of milliseconds, a step may take fewer.
      const at = step;
      void m.gpuUsage(ctx.device.gpus).then((usage) =>
        ctx.report.metrics(
          usage.flatMap((g) => [
            ...(g.utilizationPercent === null
              ? []
              : [
                  {
                    key: `system/gpu${g.index}_utilization`,
                    value: g.utilizationPercent,
                    step: at,
                  },
                ]),
            ...(g.memoryUsedMiB === null
              ? []
              : [{ key: `system/gpu${g.index}_memory_mb`, value: g.memoryUsedMiB, step: at }]),
          ]),
        ),
      );
    }
    if (step % s.checkpointEvery === 0 || step === s.steps) await save();
  }
  optimizer.dispose();
  await ctx.report.flush();
  return { steps: step, finalCheckpoint: last };
}
