import { model as m, type TrainContext } from '../../sdk/index.ts';
import { snapshot } from '../shared/train-loop.ts';

const { tf } = m;

export interface PolicySettings {
  adapter: 'none' | 'lora';
  r: number;
  alpha: number;
  targetModules: m.LoraSettings['targetModules'];
  seed: number;
}

/**
 * The policy a preference method trains and the frozen reference it is held to. On full weights
 * they are two copies of the base; with `adapter: 'lora'` the policy is the base plus an adapter
 * and the reference is the same base without it, so the base is in memory once.
 */
export interface Policy {
  modelConfig: m.ModelConfig;
  tokenizer: m.Tokenizer;
  padId: number;
  model: m.Gpt2Model;
  reference: m.Gpt2Model;
  /** Forward options that make `model` the policy (the adapter's hooks; none on full weights). */
  applied: m.ForwardOptions;
  /** What the optimiser updates: the adapter, or every weight of the policy. */
  trainable: Map<string, m.tf.Variable>;
  counts: { total: number; trainable: number };
  kind: 'full' | 'adapter';
  /** Writes the policy as the plugin's checkpoint layout: a GPT-2 directory or a PEFT adapter. */
  write(dir: string): Promise<void>;
  /** Loads the policy's weights from a checkpoint `write` made, to resume. */
  load(dir: string): Promise<void>;
  dispose(): void;
}

export async function createPolicy(s: PolicySettings, ctx: TrainContext): Promise<Policy> {
  const { config: modelConfig, weights } = await m.loadCheckpointDir(ctx.baseModel.dir);
  const tokenizer = await m.loadTokenizer(ctx.baseModel.dir);
  const lora = s.adapter === 'lora';
  const model = m.createModel(modelConfig, weights, () => !lora);
  const reference = lora ? model : m.createModel(modelConfig, weights, () => false);
  const settings = { ...s, dropout: 0 };
  const adapter = new Map<string, m.tf.Variable>();
  if (lora) {
    for (const [key, w] of m.initLora(modelConfig, settings, s.seed))
      adapter.set(key, tf.variable(tf.tensor(w.data, w.shape), true));
  }
  const trainable = lora ? adapter : model.params;
  const adapterSize = [...adapter.values()].reduce((n, v) => n + v.size, 0);
  const base = m.parameterCount(modelConfig);
  return {
    modelConfig,
    tokenizer,
    padId: tokenizer.padId ?? tokenizer.eosId,
    model,
    reference,
    applied: lora ? m.loraForwardOptions(adapter, settings) : {},
    trainable,
    counts: { total: base + adapterSize, trainable: lora ? adapterSize : base },
    kind: lora ? 'adapter' : 'full',
    async write(dir) {
      if (lora) {
        await m.saveLoraAdapter(dir, snapshot(adapter), settings, {
          name: ctx.baseModel.checkpointId ?? 'tiny-base',
          sha256: ctx.baseModel.sha256,
        });
      } else {
        await m.saveCheckpointDir(dir, modelConfig, m.exportWeights(model));
      }
      await m.saveTokenizer(dir, tokenizer);
    },
    async load(dir) {
      const saved = lora
        ? (await m.loadLoraAdapter(dir)).weights
        : (await m.loadCheckpointDir(dir)).weights;
      for (const [key, v] of trainable) v.assign(tf.tensor(saved.get(key)!.data, v.shape));
    },
    dispose() {
      for (const v of adapter.values()) v.dispose();
      if (reference !== model) m.disposeModel(reference);
      m.disposeModel(model);
    },
  };
}

/**
 * log p of each target token under `logits` [batch, time, vocab], as [batch, time] (positions the
 * mask leaves out are included; callers mask them).
 */
export function targetLogprobs(logits: m.tf.Tensor3D, target: m.tf.Tensor2D): m.tf.Tensor2D {
  const [b, t, v] = logits.shape;
  const logp = tf.logSoftmax(logits.reshape([b * t, v]));
  return tf
    .mul(logp, tf.oneHot(target.reshape([-1]), v))
    .sum(-1)
    .reshape([b, t]) as m.tf.Tensor2D;
}
