import { PluginConfigError, z, type SubmitInfo } from '../../sdk/index.ts';

/**
 * The config fields every built-in trainer shares, with the defaults a first run should use.
 * Strict: a misspelt key is refused at submission rather than dropped (the run would train at the
 * default without a word); `.extend()` keeps the strictness for each plugin's own fields.
 */
export const loopSettingsSchema = z.strictObject({
  steps: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(200)
    .describe(
      'Optimizer steps to train for; raise it for larger datasets, lower it for a quick try.',
    ),
  batchSize: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(8)
    .describe('Examples per forward pass; lower it when memory runs out.'),
  gradAccumulation: z
    .number()
    .int()
    .min(1)
    .max(256)
    .default(1)
    .describe(
      'Batches whose gradients add up to one step (effective batch = batchSize × this); raise it for a larger batch than memory allows.',
    ),
  learningRate: z
    .number()
    .positive()
    .max(1)
    .default(1e-3)
    .describe(
      'Peak AdamW learning rate, after warmup; lower it (e.g. 1e-4) for full fine-tuning of larger models.',
    ),
  warmupSteps: z
    .number()
    .int()
    .min(0)
    .default(20)
    .describe('Steps over which the learning rate rises linearly from 0 to its peak; below steps.'),
  minLearningRateRatio: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe('Fraction of the peak learning rate the cosine decay ends at (0 to 1).'),
  weightDecay: z
    .number()
    .min(0)
    .max(1)
    .default(0.01)
    .describe('AdamW decoupled weight decay per step (0 to 1); 0 turns it off.'),
  clipNorm: z
    .number()
    .min(0)
    .default(1)
    .describe('Global gradient-norm clipping threshold; 0 turns clipping off.'),
  maxLength: z
    .number()
    .int()
    .min(8)
    .max(4096)
    .default(128)
    .describe(
      "Tokens per example; longer rows are cut. At most the base model's context (n_positions or max_position_embeddings).",
    ),
  validationEvery: z
    .number()
    .int()
    .min(1)
    .default(25)
    .describe('Steps between validation-loss measurements (when a validation dataset is given).'),
  checkpointEvery: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe('Steps between checkpoints; each is uploaded and evaluated.'),
  seed: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      'Seed for initialisation, shuffling and dropout; change it to repeat a run with other draws.',
    ),
});

export type LoopConfig = z.infer<typeof loopSettingsSchema>;

/**
 * The submission checks every built-in trainer makes: a train dataset of a kind it can use, a
 * warmup shorter than the run, and examples (plus `reserved` positions, e.g. prompt tuning's
 * virtual tokens) that fit the base model's context. Throws PluginConfigError naming the field.
 */
export function checkRun(
  plugin: string,
  kinds: readonly string[],
  config: { steps: number; warmupSteps: number; maxLength: number },
  info: SubmitInfo,
  reserved = 0,
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
  const context = info.contextLength;
  // Beyond the context the model has no position embedding: rows would be cut or training fail.
  if (context !== undefined && config.maxLength + reserved > context) {
    const room = reserved ? ` less the ${reserved} positions numVirtualTokens reserves` : '';
    throw new PluginConfigError(
      `${config.maxLength} is above the base model's context of ${context} positions${room}; at most ${context - reserved}`,
      'maxLength',
    );
  }
}
