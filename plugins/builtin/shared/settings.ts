import { PluginConfigError, z, type SubmitInfo } from '../../sdk/index.ts';

/** The config fields every built-in trainer shares, with the defaults a first run should use. */
export const loopSettingsSchema = z.object({
  steps: z.number().int().min(1).max(1_000_000).default(200),
  batchSize: z.number().int().min(1).max(1024).default(8),
  gradAccumulation: z.number().int().min(1).max(256).default(1),
  learningRate: z.number().positive().max(1).default(1e-3),
  warmupSteps: z.number().int().min(0).default(20),
  minLearningRateRatio: z.number().min(0).max(1).default(0.1),
  weightDecay: z.number().min(0).max(1).default(0.01),
  clipNorm: z.number().min(0).default(1),
  maxLength: z.number().int().min(8).max(4096).default(128),
  validationEvery: z.number().int().min(1).default(25),
  checkpointEvery: z.number().int().min(1).default(100),
  seed: z.number().int().min(0).default(0),
});

export type LoopConfig = z.infer<typeof loopSettingsSchema>;

/**
 * The submission checks every built-in trainer makes: a train dataset of a kind it can use, and
 * a warmup shorter than the run. Throws PluginConfigError naming the field.
 */
export function checkRun(
  plugin: string,
  kinds: readonly string[],
  config: { steps: number; warmupSteps: number },
  info: SubmitInfo,
): void {
  const train = info.datasets.find((d) => d.role === 'train');
  if (!train) throw new PluginConfigError('a train dataset is required', 'datasets');
  if (!kinds.includes(train.kind)) {
    throw new PluginConfigError(
      `${plugin} trains on ${kinds.join(' or ')} data, not ${train.kind}`,
      'datasets.train',
    );
  }
  if (config.warmupSteps >= config.steps) {
    throw new PluginConfigError(`must be below steps (${config.steps})`, 'warmupSteps');
  }
}
