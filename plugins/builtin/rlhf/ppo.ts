import { readFile, writeFile } from 'node:fs/promises';
import {
  model as m,
  PluginConfigError,
  type DatasetSplit,
  type MetricPoint,
  type TrainContext,
  type TrainResult,
} from '../../sdk/index.ts';
import {
  runTrainingLoop,
  snapshot,
  type LoopSettings,
  type StepOutcome,
} from '../shared/train-loop.ts';
import { createPolicy, targetLogprobs, type PolicySettings } from './policy.ts';
import { adaptiveKl, gae, tokenRewards, whiten } from './ppo-math.ts';
import { loadRewardModel } from './reward.ts';
import {
  average,
  detach,
  maskedMean,
  picked,
  placed,
  rolloutBatch,
  sum,
  type Rollout,
  type RolloutBatch,
} from './rollouts.ts';

const { tf } = m;

export interface PpoSettings {
  maxLength: number;
  /** Tokens a rollout may generate. */
  maxNewTokens: number;
  /** The KL (nats per response, to the reference) the adaptive controller steers towards. */
  klTarget: number;
  /** The KL penalty's starting coefficient. */
  klCoef: number;
  /** How fast the coefficient adapts: at most 20% per `klHorizon` responses. 0: fixed. */
  klHorizon: number;
  ppoEpochs: number;
  clipRange: number;
  valueClipRange: number;
  /** The value head's own learning rate: it is a probe on the policy's (detached) hidden states. */
  valueLearningRate: number;
  gamma: number;
  lambda: number;
  /**
   * Scale advantages to unit variance per batch. Off by default: once a small batch's rewards are
   * all alike, whitening blows their noise up to full-size advantages, and on the shipped task the
   * policy then drifted from the reference (KL 6.8 against 4.2 unwhitened, same run otherwise).
   */
  whitenAdvantages: boolean;
  /** Distinct held-out prompts scored at each validation step. */
  heldoutPrompts: number;
}

export type PpoConfig = LoopSettings & PolicySettings & PpoSettings;

const VALUE_HEAD_FILE = 'value_head.safetensors';
const STATE_FILE = 'ppo_state.json';
// TRL's names for the value head of AutoModelForCausalLMWithValueHead.
const V_WEIGHT = 'v_head.summary.weight';
const V_BIAS = 'v_head.summary.bias';
const HELDOUT_SEED = 7_919;

function promptsOf(split: DatasetSplit | undefined): string[] {
  if (!split) return [];
  if (split.kind !== 'preference' && split.kind !== 'sft') {
    throw new PluginConfigError(
      `ppo takes its prompts from preference or sft data, not ${split.kind}`,
      'datasets.train',
    );
  }
  return split.rows.map((r) => String(r.prompt));
}

/**
 * PPO for language models (Ziegler et al. 2019; Stiennon et al. 2020). Each step samples responses
 * to a batch of prompts from the policy, scores them with a trained reward model, penalises every
 * token by the policy's log-ratio to the frozen reference (coefficient steered by the adaptive KL
 * controller), estimates advantages with GAE against a value head on the policy's hidden states,
 * and takes `ppoEpochs` updates of the clipped surrogate plus the clipped value loss. The held-out
 * figures are the reward of greedy responses and the sampled KL to the reference.
 */
export async function trainPpo(config: PpoConfig, ctx: TrainContext): Promise<TrainResult> {
  const rewardDir = ctx.models?.reward?.dir;
  if (!rewardDir) {
    throw new PluginConfigError('ppo needs a trained reward model', 'rewardCheckpointId');
  }
  const reward = await loadRewardModel(rewardDir);
  const policy = await createPolicy(config, ctx);
  const { tokenizer, modelConfig } = policy;
  // A reply ends with end-of-text or at the end of its line (when a newline is one token).
  const [newline, ...rest] = tokenizer.encode('\n');
  const newlineId = rest.length ? undefined : newline;
  const stopIds = newlineId === undefined ? [tokenizer.eosId] : [tokenizer.eosId, newlineId];
  const room = Math.min(config.maxLength, modelConfig.n_positions) - config.maxNewTokens;
  if (room < 1) {
    throw new PluginConfigError(
      `leaves no room for a prompt within maxLength ${config.maxLength}`,
      'maxNewTokens',
    );
  }
  const encode = (prompt: string) => tokenizer.encode(prompt).slice(-room);
  const train = promptsOf(ctx.datasets.train).map(encode);
  const heldOutText = [...new Set(promptsOf(ctx.datasets.validation ?? ctx.datasets.train))];
  const heldOut = heldOutText.slice(0, config.heldoutPrompts).map(encode);

  const rand = m.mulberry32(config.seed + 31);
  const vWeight = tf.variable(
    tf.tensor(
      Float32Array.from({ length: modelConfig.n_embd }, () => m.normal(rand) * 0.02),
      [1, modelConfig.n_embd],
    ),
  );
  const vBias = tf.variable(tf.zeros([1]));
  const head = new Map([
    [V_WEIGHT, vWeight],
    [V_BIAS, vBias],
  ]);
  // Its own optimiser and learning rate: a fresh linear probe must learn in a few dozen updates,
  // far faster than the policy may move.
  const valueOptimizer = new m.AdamW(head, { weightDecay: 0, clipNorm: 0 });
  const controller = (initial: number) =>
    adaptiveKl({ initial, target: config.klTarget, horizon: Math.max(1, config.klHorizon) });
  let kl = controller(config.klCoef);
  let prompts: (() => number[][]) | undefined;

  const sample = (items: number[][], temperature: number, seedOf: (i: number) => number) =>
    items.map((prompt, i) => ({
      prompt,
      response: m.generate(
        policy.model,
        prompt,
        { maxNewTokens: config.maxNewTokens, temperature, seed: seedOf(i), stopIds },
        policy.applied,
      ).ids,
    }));
  // The reward model reads a response as it was trained on: ended by end-of-text, not a newline.
  const scores = (rollouts: Rollout[]) =>
    reward.scoreAll(
      rollouts.map((r) => ({
        prompt: r.prompt,
        response: r.response.at(-1) === newlineId ? r.response.slice(0, -1) : r.response,
      })),
    );
  /** Per-token log-probabilities under the policy and the reference, values and entropies. */
  const inspect = (batch: RolloutBatch) =>
    tf.tidy(() => {
      const { logits, hidden } = m.forward(policy.model, batch.input, policy.applied);
      const logp = targetLogprobs(logits, batch.target);
      const ref = targetLogprobs(
        m.forward(policy.reference, batch.input, policy.referenceApplied).logits,
        batch.target,
      );
      const all = tf.logSoftmax(logits);
      const entropy = all.exp().mul(all).sum(-1).neg();
      return {
        logp: picked(batch, logp.dataSync() as Float32Array),
        ref: picked(batch, ref.dataSync() as Float32Array),
        values: picked(batch, valueOf(hidden).dataSync() as Float32Array),
        entropy: picked(batch, entropy.dataSync() as Float32Array),
      };
    });
  // The value head reads the policy's hidden states without sending gradients back: value errors
  // pushed into the shared trunk made the policy noisier (entropy and KL rose) on the shipped task.
  const valueOf = (hidden: m.tf.Tensor3D) => {
    const [b, t, d] = hidden.shape;
    const features = detach(hidden);
    return tf
      .matMul(features.reshape([b * t, d]), vWeight, false, true)
      .add(vBias)
      .reshape([b, t]);
  };
  const disposeRollouts = (b: RolloutBatch) => tf.dispose([b.input, b.target, b.mask]);

  const step = (at: number, optimizer: m.AdamW, lr: number): StepOutcome => {
    prompts ??= m.batchStream(train, config.batchSize, config.seed, at);
    const rollouts = sample(prompts(), 1, (i) => config.seed * 1_000_003 + at * 4_099 + i);
    const batch = rolloutBatch(rollouts, policy.padId);
    const old = inspect(batch);
    const score = scores(rollouts);
    const beta = kl.beta;
    const perRollout = rollouts.map((_, b) => {
      const rewards = tokenRewards(old.logp[b]!, old.ref[b]!, beta, score[b]!);
      return gae(rewards, old.values[b]!, config.gamma, config.lambda);
    });
    const raw = perRollout.flatMap((r) => r.advantages);
    const flat = config.whitenAdvantages ? whiten(raw) : raw;
    let offset = 0;
    const advantages = perRollout.map((r) => flat.slice(offset, (offset += r.advantages.length)));
    const tensors = {
      advantages: placed(batch, advantages),
      returns: placed(
        batch,
        perRollout.map((r) => r.returns),
      ),
      oldLogp: placed(batch, old.logp),
      oldValues: placed(batch, old.values),
    };
    const totals = { loss: 0, policy: 0, value: 0, clipped: 0, approxKl: 0, gradNorm: 0 };
    const policyVars = [...policy.trainable.values()];
    for (let epoch = 0; epoch < config.ppoEpochs; epoch++) {
      let stats: m.tf.Tensor | undefined;
      // Policy and value losses touch disjoint variables (the head reads detached states), so one
      // tape serves both optimisers.
      const { value, grads } = tf.variableGrads(() => {
        const { logits, hidden } = m.forward(policy.model, batch.input, policy.applied);
        const logRatio = targetLogprobs(logits, batch.target).sub(tensors.oldLogp);
        const ratio = logRatio.exp();
        const clippedRatio = ratio.clipByValue(1 - config.clipRange, 1 + config.clipRange);
        const surrogate = tf.maximum(
          tensors.advantages.mul(ratio).neg(),
          tensors.advantages.mul(clippedRatio).neg(),
        );
        const policyLoss = maskedMean(surrogate, batch.mask);
        const v = valueOf(hidden);
        const vClipped = tensors.oldValues.add(
          v.sub(tensors.oldValues).clipByValue(-config.valueClipRange, config.valueClipRange),
        );
        const valueLoss = maskedMean(
          tf.maximum(v.sub(tensors.returns).square(), vClipped.sub(tensors.returns).square()),
          batch.mask,
        ).mul(0.5);
        stats = tf.keep(
          tf.stack([
            policyLoss,
            valueLoss,
            maskedMean(ratio.sub(1).abs().greater(config.clipRange).toFloat(), batch.mask),
            // Schulman's low-variance estimator of KL(old || new) per token.
            maskedMean(ratio.sub(1).sub(logRatio), batch.mask),
          ]),
        );
        return policyLoss.add(valueLoss) as m.tf.Scalar;
      }, [...policyVars, vWeight, vBias]);
      value.dispose();
      const pick = (vars: ReadonlyMap<string, m.tf.Variable>) =>
        new Map([...vars].map(([name, v]) => [name, grads[v.name]!]));
      totals.gradNorm += optimizer.apply(pick(policy.trainable), lr) / config.ppoEpochs;
      valueOptimizer.apply(pick(head), config.valueLearningRate);
      const [p, v, c, k] = stats!.dataSync();
      stats!.dispose();
      totals.loss += (p! + v!) / config.ppoEpochs;
      totals.policy += p! / config.ppoEpochs;
      totals.value += v! / config.ppoEpochs;
      totals.clipped += c! / config.ppoEpochs;
      totals.approxKl += k! / config.ppoEpochs;
    }
    tf.dispose(Object.values(tensors));
    disposeRollouts(batch);
    // The KL of each sampled response to the reference (sum over its tokens), averaged.
    const measured = average(old.logp.map((lp, b) => sum(lp) - sum(old.ref[b]!)));
    if (config.klHorizon > 0) kl.update(measured, rollouts.length);
    const tokens = sum(rollouts.map((r) => r.response.length));
    const metrics: MetricPoint[] = [
      { key: 'ppo/reward', value: average(score), step: at },
      { key: 'ppo/kl', value: measured, step: at },
      { key: 'ppo/kl_coef', value: beta, step: at },
      { key: 'ppo/entropy', value: average(old.entropy.flat()), step: at },
      { key: 'ppo/clip_fraction', value: totals.clipped, step: at },
      { key: 'ppo/approx_kl', value: totals.approxKl, step: at },
      { key: 'ppo/policy_loss', value: totals.policy, step: at },
      { key: 'ppo/value_loss', value: totals.value, step: at },
      { key: 'ppo/response_length', value: tokens / rollouts.length, step: at },
    ];
    return { loss: totals.loss, gradNorm: totals.gradNorm, tokens, metrics };
  };

  // Held out: the reward of greedy responses (what the acceptance compares before and after), and
  // the KL to the reference of sampled ones (the leash).
  const evaluate = (at: number): MetricPoint[] => {
    if (!heldOut.length) return [];
    const greedy = sample(heldOut, 0, () => 0);
    const sampled = sample(heldOut, 1, (i) => HELDOUT_SEED + i);
    const batch = rolloutBatch(sampled, policy.padId);
    const probe = inspect(batch);
    disposeRollouts(batch);
    return [
      { key: 'ppo/heldout_reward', value: average(scores(greedy)), step: at },
      {
        key: 'ppo/heldout_kl',
        value: average(probe.logp.map((lp, b) => sum(lp) - sum(probe.ref[b]!))),
        step: at,
      },
    ];
  };

  const headSize = modelConfig.n_embd + 1;
  ctx.report.parameters({
    total: policy.counts.total + headSize,
    trainable: policy.counts.trainable + headSize,
  });
  try {
    return await runTrainingLoop(
      {
        ctx,
        trainable: policy.trainable,
        train: [],
        validation: [],
        padId: policy.padId,
        loss: () => {
          throw new Error('ppo computes its losses in its own step');
        },
        step,
        evaluate,
        async writeCheckpoint(dir) {
          await policy.write(dir);
          const state = valueOptimizer.state();
          await m.saveSafetensorsFile(
            `${dir}/${VALUE_HEAD_FILE}`,
            new Map([...snapshot(head), ...state.tensors]),
            { t: String(state.t) },
          );
          await writeFile(`${dir}/${STATE_FILE}`, JSON.stringify({ klCoef: kl.beta }));
          return {
            kind: policy.kind,
            trainableParams: policy.counts.trainable,
            totalParams: policy.counts.total,
          };
        },
        async loadCheckpoint(dir) {
          await policy.load(dir);
          const saved = await m.loadSafetensorsFile(`${dir}/${VALUE_HEAD_FILE}`);
          for (const [name, v] of head) v.assign(tf.tensor(saved.tensors.get(name)!.data, v.shape));
          valueOptimizer.restore({ t: Number(saved.metadata.t), tensors: saved.tensors });
          const state = JSON.parse(await readFile(`${dir}/${STATE_FILE}`, 'utf8')) as {
            klCoef: number;
          };
          kl = controller(state.klCoef);
        },
      },
      config,
    );
  } finally {
    valueOptimizer.dispose();
    tf.dispose([vWeight, vBias]);
    reward.dispose();
    policy.dispose();
  }
}
