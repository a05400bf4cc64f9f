import {
  model as m,
  PluginConfigError,
  type DatasetSplit,
  type TrainContext,
  type TrainResult,
} from '../../sdk/index.ts';
import { preferencePairs } from '../shared/preferences.ts';
import { disposeBatch, runTrainingLoop, type LoopSettings } from '../shared/train-loop.ts';
import { createPolicy, targetLogprobs, type PolicySettings } from './policy.ts';

const { tf } = m;

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
  return targetLogprobs(logits, batch.target).mul(batch.mask).sum(-1) as m.tf.Tensor1D;
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

export type DpoConfig = LoopSettings & PolicySettings & { beta: number; maxLength: number };

/**
 * Direct preference optimisation (Rafailov et al.): no reward model; the policy is pushed to give
 * the chosen response more probability than the rejected one, relative to a frozen reference,
 * -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))). The reference's log-probabilities are
 * computed once. Trains the full weights or a LoRA adapter on the frozen base.
 */
export async function trainDpo(config: DpoConfig, ctx: TrainContext): Promise<TrainResult> {
  const policy = await createPolicy(config, ctx);
  const { tokenizer, padId } = policy;
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
      const logp = tf.tidy(() =>
        sequenceLogprobs(m.forward(policy.reference, b.input, policy.referenceApplied).logits, b),
      );
      const values = logp.dataSync();
      pairs.forEach((p, k) => (p.reference = [values[k]!, values[k + pairs.length]!]));
      logp.dispose();
      disposeBatch(b);
    }
  }
  const policyLogprobs = (b: PairBatch) =>
    sequenceLogprobs(m.forward(policy.model, b.input, policy.applied).logits, b);
  const heldOut = validation.length ? validation : train;
  // The acceptance figure: how much more probable the policy finds the chosen responses of
  // held-out pairs than the rejected ones (mean log-probability margin, nats).
  const margin = () => {
    let sum = 0;
    for (let i = 0; i < heldOut.length; i += config.batchSize) {
      const b = batchOf(heldOut.slice(i, i + config.batchSize));
      sum += tf.tidy(() => {
        const lp = policyLogprobs(b);
        return lp.slice(0, b.pairs).sub(lp.slice(b.pairs)).sum().dataSync()[0]!;
      });
      disposeBatch(b);
    }
    return [{ key: 'dpo/heldout_margin', value: sum / heldOut.length, step: 0 }];
  };

  ctx.report.parameters(policy.counts);
  try {
    return await runTrainingLoop<Pair>(
      {
        ctx,
        trainable: policy.trainable,
        train,
        validation,
        padId,
        batchOf,
        loss: (batch) => {
          const b = batch as PairBatch;
          const lp = policyLogprobs(b);
          const chosen = lp.slice(0, b.pairs).sub(b.refChosen);
          const rejected = lp.slice(b.pairs).sub(b.refRejected);
          // -log sigmoid(z) = softplus(-z)
          return tf.softplus(chosen.sub(rejected).mul(-config.beta)).mean() as m.tf.Scalar;
        },
        evaluate: (step) => margin().map((p) => ({ ...p, step })),
        async writeCheckpoint(dir) {
          await policy.write(dir);
          return {
            kind: policy.kind,
            trainableParams: policy.counts.trainable,
            totalParams: policy.counts.total,
          };
        },
        loadCheckpoint: (dir) => policy.load(dir),
      },
      config,
    );
  } finally {
    policy.dispose();
  }
}
