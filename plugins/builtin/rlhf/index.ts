import {
  definePlugin,
  model as m,
  PluginConfigError,
  z,
  type DatasetSplit,
} from '../../sdk/index.ts';
import { loopSettingsSchema } from '../shared/settings.ts';
import { disposeBatch, runTrainingLoop, snapshot } from '../shared/train-loop.ts';
import { trainReward } from './reward.ts';
import { preferencePairs } from '../shared/preferences.ts';

const { tf } = m;

const configSchema = loopSettingsSchema.extend({
  /** `dpo`: preference optimisation without a reward model; `reward`: a Bradley-Terry reward model. */
  method: z.enum(['dpo', 'reward']),
  /** DPO's temperature: how far the policy may move from the reference for a given margin. */
  beta: z.number().positive().max(10).default(0.1),
  /** `lora`: policy = base + adapter, reference = the base alone (no second copy in memory). */
  adapter: z.enum(['none', 'lora']).default('none'),
  r: z.number().int().min(1).max(256).default(8),
  alpha: z.number().positive().default(16),
  targetModules: m.loraSettingsSchema.shape.targetModules,
});

interface Pair {
  chosen: m.Example;
  rejected: m.Example;
  /** Sum of the reference's log-probabilities of each response, computed once before training. */
  reference: [number, number];
}

type PairBatch = m.TensorBatch & {
  pairs: number;
  refChosen: m.tf.Tensor1D;
  refRejected: m.tf.Tensor1D;
};

/** log p(response | prompt) summed over the response tokens: [batch]. */
function sequenceLogprobs(logits: m.tf.Tensor3D, batch: m.TensorBatch): m.tf.Tensor1D {
  const [b, t, v] = logits.shape;
  const logp = tf.logSoftmax(logits.reshape([b * t, v]));
  const picked = tf
    .mul(logp, tf.oneHot(batch.target.reshape([-1]), v))
    .sum(-1)
    .reshape([b, t]);
  return picked.mul(batch.mask).sum(-1) as m.tf.Tensor1D;
}

function encodePairs(
  split: DatasetSplit | undefined,
  tokenizer: m.Tokenizer,
  maxLength: number,
): Pair[] {
  if (!split) return [];
  if (split.kind !== 'preference') {
    throw new PluginConfigError(`dpo needs preference data, not ${split.kind}`, 'datasets.train');
  }
  const rows = preferencePairs(split.rows);
  const chosen = m.encodeSft(
    rows.map((r) => ({ prompt: r.prompt, response: r.chosen })),
    tokenizer,
    maxLength,
  );
  const rejected = m.encodeSft(
    rows.map((r) => ({ prompt: r.prompt, response: r.rejected })),
    tokenizer,
    maxLength,
  );
  return rows.map((_, i) => ({ chosen: chosen[i]!, rejected: rejected[i]!, reference: [0, 0] }));
}

/**
 * Direct preference optimisation (Rafailov et al.): no reward model; the policy is pushed to give
 * the chosen response more probability than the rejected one, relative to a frozen reference,
 * -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))). The reference's log-probabilities are
 * computed once. Trains the full weights or a LoRA adapter on the frozen base.
 */
export default definePlugin({
  manifest: {
    name: 'rlhf',
    version: '0.1.0',
    sdk: '^1',
    description: 'preference learning: reward models, and DPO on full weights or a LoRA adapter',
  },
  configSchema,
  capabilities: ['preference-data', 'full-weights', 'adapter', 'resume'],
  validate(config, info) {
    const train = info.datasets.find((d) => d.role === 'train');
    if (train?.kind !== 'preference') {
      throw new PluginConfigError('a preference train dataset is required', 'datasets.train');
    }
    if (config.warmupSteps >= config.steps) {
      throw new PluginConfigError(`must be below steps (${config.steps})`, 'warmupSteps');
    }
  },
  async train(config, ctx) {
    if (config.method === 'reward') return trainReward(config, ctx);
    const { config: modelConfig, weights } = await m.loadCheckpointDir(ctx.baseModel.dir);
    const tokenizer = await m.loadTokenizer(ctx.baseModel.dir);
    const padId = tokenizer.padId ?? tokenizer.eosId;
    const lora = config.adapter === 'lora';
    const policy = m.createModel(modelConfig, weights, () => !lora);
    const reference = lora ? policy : m.createModel(modelConfig, weights, () => false);
    const settings = { ...config, dropout: 0 };
    const adapter = new Map<string, m.tf.Variable>();
    if (lora) {
      for (const [key, w] of m.initLora(modelConfig, settings, config.seed))
        adapter.set(key, tf.variable(tf.tensor(w.data, w.shape), true));
    }
    const applied = lora ? m.loraForwardOptions(adapter, settings) : {};
    const train = encodePairs(ctx.datasets.train, tokenizer, config.maxLength);
    const validation = encodePairs(ctx.datasets.validation, tokenizer, config.maxLength);

    const batchOf = (pairs: Pair[]): PairBatch => ({
      ...m.toBatch([...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)], padId),
      // Validation loss is averaged per pair, not per token.
      tokens: pairs.length,
      pairs: pairs.length,
      refChosen: tf.tensor1d(pairs.map((p) => p.reference[0])),
      refRejected: tf.tensor1d(pairs.map((p) => p.reference[1])),
    });
    // The reference never changes, so its log-probabilities are computed once, in batches.
    for (const split of [train, validation]) {
      for (let i = 0; i < split.length; i += config.batchSize) {
        const pairs = split.slice(i, i + config.batchSize);
        const b = batchOf(pairs);
        const logp = tf.tidy(() => sequenceLogprobs(m.forward(reference, b.input).logits, b));
        const values = logp.dataSync();
        pairs.forEach((p, k) => (p.reference = [values[k]!, values[k + pairs.length]!]));
        logp.dispose();
        disposeBatch(b);
      }
    }
    const margins = (split: Pair[]) => {
      if (!split.length) return undefined;
      let sum = 0;
      for (let i = 0; i < split.length; i += config.batchSize) {
        const b = batchOf(split.slice(i, i + config.batchSize));
        sum += tf.tidy(() => {
          const lp = sequenceLogprobs(m.forward(policy, b.input, applied).logits, b);
          return lp.slice(0, b.pairs).sub(lp.slice(b.pairs)).sum().dataSync()[0]!;
        });
        disposeBatch(b);
      }
      return sum / split.length;
    };
    const heldOut = validation.length ? validation : train;
    const before = margins(heldOut)!;

    const trainable = lora
      ? [...adapter.values()].reduce((n, v) => n + v.size, 0)
      : m.parameterCount(modelConfig);
    const total = m.parameterCount(modelConfig) + (lora ? trainable : 0);
    ctx.report.parameters({ total, trainable });
    try {
      const result = await runTrainingLoop<Pair>(
        {
          ctx,
          trainable: lora ? adapter : policy.params,
          train,
          validation,
          padId,
          batchOf,
          loss: (batch) => {
            const b = batch as PairBatch;
            const lp = sequenceLogprobs(m.forward(policy, b.input, applied).logits, b);
            const chosen = lp.slice(0, b.pairs).sub(b.refChosen);
            const rejected = lp.slice(b.pairs).sub(b.refRejected);
            // -log sigmoid(z) = softplus(-z)
            return tf.softplus(chosen.sub(rejected).mul(-config.beta)).mean() as m.tf.Scalar;
          },
          async writeCheckpoint(dir) {
            if (lora) {
              await m.saveLoraAdapter(dir, snapshot(adapter), settings, {
                name: ctx.baseModel.checkpointId ?? 'tiny-base',
                sha256: ctx.baseModel.sha256,
              });
            } else {
              await m.saveCheckpointDir(dir, modelConfig, m.exportWeights(policy));
            }
            await m.saveTokenizer(dir, tokenizer);
            return {
              kind: lora ? 'adapter' : 'full',
              trainableParams: trainable,
              totalParams: total,
            };
          },
          async loadCheckpoint(dir) {
            if (lora) {
              const saved = await m.loadLoraAdapter(dir);
              for (const [key, v] of adapter)
                v.assign(tf.tensor(saved.weights.get(key)!.data, v.shape));
            } else {
              const saved = await m.loadCheckpointDir(dir);
              for (const [name, v] of policy.params)
                v.assign(tf.tensor(saved.weights.get(name)!.data, v.shape));
            }
          },
        },
        config,
      );
      // The acceptance figure: how much more the policy prefers the chosen responses of held-out
      // pairs than before training (mean log-probability margin, nats).
      ctx.report.metrics([
        { key: 'dpo/heldout_margin', value: before, step: 0 },
        { key: 'dpo/heldout_margin', value: margins(heldOut)!, step: result.steps },
      ]);
      await ctx.report.flush();
      return result;
    } finally {
      for (const v of adapter.values()) v.dispose();
      if (reference !== policy) m.disposeModel(reference);
      m.disposeModel(policy);
    }
  },
});
