import { loadStartingPoint, model as m, type TrainContext } from '../../sdk/index.ts';
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
 * and the reference is the same base without it, so the base is in memory once. From an SFT
 * adapter (the run's base checkpoint), the policy continues that adapter and the reference is the
 * base with a frozen copy of it: the SFT model, as RLHF expects.
 */
export interface Policy {
  modelConfig: m.ModelConfig;
  tokenizer: m.Tokenizer;
  padId: number;
  model: m.Gpt2Model;
  reference: m.Gpt2Model;
  /** Forward options that make `reference` the reference (the frozen SFT adapter, if any). */
  referenceApplied: m.ForwardOptions;
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
  const start = await loadStartingPoint(ctx);
  const { config: modelConfig, tokenizer } = start;
  const lora = s.adapter === 'lora';
  const weights = lora ? start.weights : start.merged();
  const model = m.createModel(modelConfig, weights, () => !lora);
  const reference = lora ? model : m.createModel(modelConfig, weights, () => false);
  // Continuing an adapter keeps its shape: its rank, scale and targets, not the config's.
  const settings = { ...(start.adapter?.settings ?? s), dropout: 0 };
  const adapter = new Map<string, m.tf.Variable>();
  const frozen = new Map<string, m.tf.Tensor>();
  if (lora) {
    for (const [key, w] of start.adapter?.weights ?? m.initLora(modelConfig, settings, s.seed))
      adapter.set(key, tf.variable(tf.tensor(w.data, w.shape), true));
    for (const [key, w] of start.adapter?.weights ?? [])
      frozen.set(key, tf.tensor(w.data, w.shape));
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
    referenceApplied: frozen.size ? m.loraForwardOptions(frozen, settings) : {},
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
      tf.dispose([...adapter.values(), ...frozen.values()]);
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
