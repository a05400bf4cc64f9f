import { z } from 'zod';
import type { TrainContext, TrainResult } from './context.ts';
import { PluginConfigError } from './errors.ts';

/** The SDK's own version: a plugin declares which major versions it was written against. */
export const SDK_VERSION = '1.0.0';

/** What a trainer can do; the host matches these against a submitted run before any compute. */
export type Capability =
  | 'sft-data'
  | 'text-data'
  | 'preference-data'
  | 'full-weights'
  | 'adapter'
  /** Starts from a LoRA adapter checkpoint (through `loadStartingPoint`), e.g. DPO after SFT. */
  | 'adapter-start'
  | 'resume'
  | 'gpu';

export interface PluginManifest {
  /** Lower-case, as in run submissions: `full`, `lora`, `acme-distill`. */
  name: string;
  /** The plugin's own semantic version, recorded on every run it trains. */
  version: string;
  /** SDK major versions the plugin works with, e.g. `^1`. */
  sdk: string;
  description?: string;
}

/** What the host knows when a run is submitted, for checks that need more than the schema. */
export interface SubmitInfo {
  datasets: {
    role: 'train' | 'validation';
    kind: 'text' | 'sft' | 'preference' | 'eval';
    rowCount: number;
  }[];
  /**
   * The checkpoint the run starts from (`baseCheckpointId`), when it names one: a full model, or an
   * adapter (`peftType` as PEFT writes it: LORA, IA3...) that the trainer folds in or trains on.
   */
  baseModel?: { totalParams?: number; kind: 'full' | 'adapter'; peftType?: string };
  /**
   * Positions the model the run trains has (`n_positions`, or `max_position_embeddings` in other
   * families): of `baseModel`'s underlying model, or of the shipped base when the run names none.
   * Absent when its config does not say.
   */
  contextLength?: number;
}

export interface TrainerPlugin<C = unknown> {
  manifest: PluginManifest;
  /** Validates and defaults a run's config; its JSON schema is what GET /api/v1/plugins shows. */
  configSchema: z.ZodType<C>;
  capabilities: readonly Capability[];
  /**
   * Config fields that name other checkpoints the trainer reads, by role: `{ reward:
   * 'rewardCheckpointId' }`. The host checks at submission that each names a checkpoint of the
   * project, and the worker downloads it into `ctx.models[role]`.
   */
  checkpointFields?: Readonly<Record<string, string>>;
  /** Extra checks at submission time; throw PluginConfigError naming the field. */
  validate?(config: C, info: SubmitInfo): void;
  train(config: C, ctx: TrainContext): Promise<TrainResult>;
}

const manifestSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'must be lower-case letters, digits and "-"'),
  version: z
    .string()
    .regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, 'must be a semantic version like 1.2.0'),
  sdk: z.string().regex(/^(\^|~)?\d+(\.\d+|\.x)*$/, 'must be a version range like ^1'),
  description: z.string().max(500).optional(),
});

/** Whether a plugin written for `range` runs on this SDK: same major version. */
export function sdkCompatible(range: string, sdk = SDK_VERSION): boolean {
  const major = (v: string) => Number(v.replace(/^[\^~]/, '').split('.')[0]);
  return major(range) === major(sdk);
}

/**
 * Declares a trainer plugin: a plain object, checked here so that a malformed plugin fails when it
 * is loaded, with a message that names the field, not halfway through someone's run.
 *
 * @example
 * export default definePlugin({
 *   manifest: { name: 'full', version: '1.0.0', sdk: '^1' },
 *   configSchema: z.object({ steps: z.number().int().positive() }),
 *   capabilities: ['sft-data', 'full-weights', 'resume'],
 *   async train(config, ctx) { ... return { steps: config.steps }; },
 * });
 */
export function definePlugin<C>(plugin: TrainerPlugin<C>): TrainerPlugin<C> {
  const parsed = manifestSchema.safeParse(plugin.manifest);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PluginConfigError(issue.message, `manifest.${issue.path.join('.')}`);
  }
  if (!sdkCompatible(plugin.manifest.sdk)) {
    throw new PluginConfigError(
      `plugin ${plugin.manifest.name} needs SDK ${plugin.manifest.sdk}; this is SDK ${SDK_VERSION}`,
      'manifest.sdk',
    );
  }
  if (!(plugin.configSchema instanceof z.ZodType)) {
    throw new PluginConfigError('must be a zod schema', 'configSchema');
  }
  if (typeof plugin.train !== 'function')
    throw new PluginConfigError('must be a function', 'train');
  return Object.freeze({ ...plugin });
}
