import {
  loadStartingPoint,
  model as m,
  PluginConfigError,
  type DatasetSplit,
  type TrainContext,
  type TrainResult,
} from '../../sdk/index.ts';
import { preferencePairs } from '../shared/preferences.ts';
import { disposeBatch, runTrainingLoop, type LoopSettings } from '../shared/train-loop.ts';

const { tf } = m;

/** Hugging Face's name for a sequence-classification head (GPT2ForSequenceClassification). */
export const SCORE_KEY = 'score.weight';

interface Pair {
  chosen: number[];
  rejected: number[];
}

type PairBatch = m.TensorBatch & { pairs: number; last: m.tf.Tensor1D };

function encode(
  split: DatasetSplit | undefined,
  tokenizer: m.Tokenizer,
  maxLength: number,
): Pair[] {
  if (!split) return [];
  if (split.kind !== 'preference') {
    throw new PluginConfigError(
      `a reward model needs preference data, not ${split.kind}`,
      'datasets.train',
    );
  }
  const ids = (prompt: string, response: string) =>
    [...tokenizer.encode(prompt), ...tokenizer.encode(response), tokenizer.eosId].slice(-maxLength);
  return preferencePairs(split.rows).map((r) => ({
    chosen: ids(r.prompt, r.chosen),
    rejected: ids(r.prompt, r.rejected),
  }));
}

/** Sequences right-padded into [batch, time], with the flat index of each one's last token. */
function lastTokenBatch(seqs: number[][], padId: number) {
  const time = Math.max(...seqs.map((s) => s.length));
  const data = new Int32Array(seqs.length * time).fill(padId);
  seqs.forEach((s, b) => data.set(s, b * time));
  return {
    input: tf.tensor2d(data, [seqs.length, time], 'int32'),
    last: tf.tensor1d(
      seqs.map((s, b) => b * time + s.length - 1),
      'int32',
    ),
  };
}

/** The scalar head applied to the last real token's hidden state of each sequence: [batch]. */
function lastTokenScores(
  model: m.Gpt2Model,
  head: m.tf.Tensor,
  input: m.tf.Tensor2D,
  last: m.tf.Tensor1D,
): m.tf.Tensor1D {
  const { hidden } = m.forward(model, input);
  const [batch, time, dim] = hidden.shape;
  const final = tf.gather(hidden.reshape([batch * time, dim]), last);
  return tf.matMul(final, head, false, true).reshape([-1]) as m.tf.Tensor1D;
}

/** A trained reward model, frozen: scores prompt + response as the reward trainer saw them. */
export interface RewardModel {
  score(prompt: number[], response: number[]): number;
  /** Scores many (prompt, response) pairs in batches. */
  scoreAll(items: { prompt: number[]; response: number[] }[], batchSize?: number): number[];
  dispose(): void;
}

/**
 * Loads a reward checkpoint (a GPT-2 with `score.weight`, as `method: 'reward'` writes it). The
 * response is followed by end-of-text, as in training; a response that already ends with it (or
 * with a stop token the caller strips) is not given a second one.
 */
export async function loadRewardModel(dir: string): Promise<RewardModel> {
  const { config, weights } = await m.loadCheckpointDir(dir);
  const saved = await m.loadSafetensorsFile(`${dir}/model.safetensors`);
  const w = saved.tensors.get(SCORE_KEY);
  if (!w || w.shape.join(',') !== `1,${config.n_embd}`) {
    throw new PluginConfigError(
      `the checkpoint is not a reward model: it has no ${SCORE_KEY} of shape [1, ${config.n_embd}]`,
      'rewardCheckpointId',
    );
  }
  const tokenizer = await m.loadTokenizer(dir);
  const padId = tokenizer.padId ?? tokenizer.eosId;
  const model = m.createModel(config, weights, () => false);
  const head = tf.tensor(w.data, w.shape);
  const sequence = (prompt: number[], response: number[]) => {
    const body = response.at(-1) === tokenizer.eosId ? response : [...response, tokenizer.eosId];
    return [...prompt, ...body].slice(-config.n_positions);
  };
  const scoreAll: RewardModel['scoreAll'] = (items, batchSize = 16) => {
    const out: number[] = [];
    for (let i = 0; i < items.length; i += batchSize) {
      const seqs = items.slice(i, i + batchSize).map((x) => sequence(x.prompt, x.response));
      const { input, last } = lastTokenBatch(seqs, padId);
      out.push(...tf.tidy(() => lastTokenScores(model, head, input, last).arraySync()));
      tf.dispose([input, last]);
    }
    return out;
  };
  return {
    score: (prompt, response) => scoreAll([{ prompt, response }])[0]!,
    scoreAll,
    dispose() {
      head.dispose();
      m.disposeModel(model);
    },
  };
}

/**
 * A reward model: the transformer reads prompt + response + end-of-text and a scalar head scores
 * its last hidden state. Trained on preference pairs with the Bradley-Terry loss,
 * -log sigmoid(r_chosen - r_rejected); pairwise accuracy on the held-out pairs is logged before and
 * after (`reward/heldout_accuracy`). The checkpoint is a GPT-2 with a `score.weight` [1, n_embd]
 * head, as GPT2ForSequenceClassification stores it.
 */
export async function trainReward(
  config: LoopSettings & { maxLength: number },
  ctx: TrainContext,
): Promise<TrainResult> {
  const start = await loadStartingPoint(ctx);
  const { config: modelConfig, tokenizer } = start;
  const padId = tokenizer.padId ?? tokenizer.eosId;
  const model = m.createModel(modelConfig, start.merged());
  const rand = m.mulberry32(config.seed + 17);
  const head = tf.variable(
    tf.tensor(
      Float32Array.from({ length: modelConfig.n_embd }, () => m.normal(rand) * 0.02),
      [1, modelConfig.n_embd],
    ),
  );
  const trainable = new Map([...model.params, [SCORE_KEY, head]]);
  const train = encode(ctx.datasets.train, tokenizer, config.maxLength);
  const validation = encode(ctx.datasets.validation, tokenizer, config.maxLength);

  const batchOf = (pairs: Pair[]): PairBatch => {
    const seqs = [...pairs.map((p) => p.chosen), ...pairs.map((p) => p.rejected)];
    const { input, last } = lastTokenBatch(seqs, padId);
    return {
      input,
      target: input.clone(),
      mask: tf.zeros(input.shape) as m.tf.Tensor2D,
      tokens: pairs.length,
      pairs: pairs.length,
      last,
    };
  };
  const rewards = (b: PairBatch) => lastTokenScores(model, head, b.input, b.last);
  const accuracy = (split: Pair[]) => {
    let right = 0;
    for (let i = 0; i < split.length; i += config.batchSize) {
      const b = batchOf(split.slice(i, i + config.batchSize));
      right += tf.tidy(() => {
        const r = rewards(b);
        return r.slice(0, b.pairs).greater(r.slice(b.pairs)).sum().dataSync()[0]!;
      });
      disposeBatch(b);
    }
    return right / split.length;
  };
  const heldOut = validation.length ? validation : train;
  const before = accuracy(heldOut);
  const total = m.parameterCount(modelConfig) + modelConfig.n_embd;
  ctx.report.parameters({ total, trainable: total });
  try {
    const result = await runTrainingLoop<Pair>(
      {
        ctx,
        trainable,
        train,
        validation,
        padId,
        batchOf,
        loss: (batch) => {
          const b = batch as PairBatch;
          const r = rewards(b);
          return tf.softplus(r.slice(b.pairs).sub(r.slice(0, b.pairs))).mean() as m.tf.Scalar;
        },
        async writeCheckpoint(dir) {
          const out = m.exportWeights(model);
          out.set(SCORE_KEY, { shape: head.shape, data: Float32Array.from(head.dataSync()) });
          await m.saveCheckpointDir(
            dir,
            { ...modelConfig, num_labels: 1, pad_token_id: padId },
            out,
          );
          await m.saveTokenizer(dir, tokenizer);
          return { kind: 'full', trainableParams: total, totalParams: total };
        },
        async loadCheckpoint(dir) {
          const saved = await m.loadSafetensorsFile(`${dir}/model.safetensors`);
          for (const [name, v] of trainable) {
            const t = saved.tensors.get(name) ?? saved.tensors.get(`transformer.${name}`);
            if (!t) throw new PluginConfigError(`the checkpoint has no tensor ${name}`);
            v.assign(tf.tensor(t.data, v.shape));
          }
        },
      },
      config,
    );
    ctx.report.metrics([
      { key: 'reward/heldout_accuracy', value: before, step: 0 },
      { key: 'reward/heldout_accuracy', value: accuracy(heldOut), step: result.steps },
    ]);
    await ctx.report.flush();
    return result;
  } finally {
    head.dispose();
    m.disposeModel(model);
  }
}
