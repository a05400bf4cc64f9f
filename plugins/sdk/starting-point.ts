import * as m from '../model/index.ts';
import type { TrainContext } from './context.ts';
import { PluginConfigError } from './errors.ts';

/** What a trainer starts from: the base model, and the LoRA adapter the run continues, if any. */
export interface StartingPoint {
  config: m.ModelConfig;
  tokenizer: m.Tokenizer;
  /** The base model's weights, unchanged. */
  weights: m.WeightMap;
  /** The adapter of the run's base checkpoint, when it is one: adapter trainers continue it. */
  adapter?: { settings: m.LoraSettings; weights: m.WeightMap };
  /** The base with the adapter folded in (W + scaling·BA): where full-weight trainers begin. */
  merged(): m.WeightMap;
}

/**
 * Loads the run's starting point. A run whose base checkpoint is a LoRA adapter (DPO on top of an
 * SFT adapter) gets the adapter's model as `weights` and the adapter itself, checked to belong to
 * that model, since an adapter on other weights computes nonsense.
 *
 * @example
 * const start = await loadStartingPoint(ctx);
 * const model = m.createModel(start.config, start.merged());
 */
export async function loadStartingPoint(ctx: TrainContext): Promise<StartingPoint> {
  const { config, weights } = await m.loadCheckpointDir(ctx.baseModel.dir);
  const tokenizer = await m.loadTokenizer(ctx.baseModel.dir);
  if (!ctx.baseAdapter) return { config, tokenizer, weights, merged: () => weights };
  let adapter: Awaited<ReturnType<typeof m.loadLoraAdapter>>;
  try {
    adapter = await m.loadLoraAdapter(ctx.baseAdapter.dir);
  } catch (err) {
    throw new PluginConfigError((err as Error).message, 'baseCheckpointId', { cause: err });
  }
  if (adapter.config.heldout_base_sha256 !== ctx.baseModel.sha256) {
    throw new PluginConfigError(
      `the adapter belongs to base ${adapter.config.heldout_base_sha256}, not ${ctx.baseModel.sha256}`,
      'baseCheckpointId',
    );
  }
  const { settings } = adapter;
  return {
    config,
    tokenizer,
    weights,
    adapter: { settings, weights: adapter.weights },
    merged: () => m.mergeLora(weights, adapter.weights, settings),
  };
}
