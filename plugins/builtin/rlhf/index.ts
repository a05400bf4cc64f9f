import { definePlugin, model as m, PluginConfigError, z } from '../../sdk/index.ts';
import { checkRun, loopSettingsSchema } from '../shared/settings.ts';
import { trainDpo } from './dpo.ts';
import { trainPpo } from './ppo.ts';
import { trainReward } from './reward.ts';

const configSchema = loopSettingsSchema.extend({
  method: z
    .enum(['dpo', 'ppo', 'reward'])
    .describe(
      'Required. reward: a Bradley-Terry reward model from preference pairs; ppo: policy optimisation against one on a KL leash; dpo: preference optimisation without one.',
    ),
  beta: z
    .number()
    .positive()
    .max(10)
    .default(0.1)
    .describe(
      "DPO's temperature: how far the policy may move from the reference for a given margin; lower lets it move further.",
    ),
  adapter: z
    .enum(['none', 'lora'])
    .default('none')
    .describe(
      'none: full weights train; lora: policy = base + adapter, reference = the base alone (no second copy in memory). From a LoRA checkpoint, lora trains it further and none folds it in.',
    ),
  r: z
    .number()
    .int()
    .min(1)
    .max(256)
    .default(8)
    .describe('LoRA rank when adapter is lora; raise it when the task needs more capacity.'),
  alpha: z
    .number()
    .positive()
    .default(16)
    .describe('LoRA scale numerator when adapter is lora: the update is multiplied by alpha / r.'),
  targetModules: m.loraSettingsSchema.shape.targetModules,
  rewardCheckpointId: z
    .uuid()
    .optional()
    .describe(
      "PPO only, required there: the reward model, a checkpoint of a method 'reward' run in the same project.",
    ),
  maxNewTokens: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(32)
    .describe(
      'PPO: tokens a rollout may generate; must be below maxLength, which holds prompt and reply.',
    ),
  klTarget: z
    .number()
    .positive()
    .default(6)
    .describe(
      'PPO: the KL to the reference (nats per response) the adaptive controller steers towards.',
    ),
  klCoef: z
    .number()
    .min(0)
    .default(0.2)
    .describe(
      "PPO: the KL penalty's starting coefficient; raise it to keep the policy nearer the reference.",
    ),
  klHorizon: z
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe('PPO: responses over which the KL coefficient may change by 20%; 0 keeps it fixed.'),
  ppoEpochs: z
    .number()
    .int()
    .min(1)
    .max(32)
    .default(4)
    .describe('PPO: optimisation passes over each batch of rollouts.'),
  clipRange: z
    .number()
    .positive()
    .max(1)
    .default(0.2)
    .describe("PPO: how far the policy's probability ratio may move per update (0 to 1)."),
  valueClipRange: z
    .number()
    .positive()
    .default(0.2)
    .describe("PPO: how far the value head's estimate may move per update, in reward units."),
  valueLearningRate: z
    .number()
    .positive()
    .max(1)
    .default(1e-2)
    .describe("PPO: the value head's own learning rate (a probe on the policy's hidden states)."),
  gamma: z
    .number()
    .min(0)
    .max(1)
    .default(1)
    .describe(
      'PPO: discount per generated token (0 to 1); 1 values the final reward undiscounted.',
    ),
  lambda: z
    .number()
    .min(0)
    .max(1)
    .default(0.95)
    .describe('PPO: GAE lambda (0 to 1); lower trades variance for bias in the advantages.'),
  whitenAdvantages: z
    .boolean()
    .default(false)
    .describe(
      'PPO: scale advantages to unit variance per batch; off by default, as small batches with alike rewards then drift from the reference.',
    ),
  heldoutPrompts: z
    .number()
    .int()
    .min(1)
    .max(1024)
    .default(32)
    .describe('PPO: distinct held-out prompts scored at each validation step.'),
});

/**
 * Preference learning: reward models from rankings, PPO against a reward model, and DPO; the
 * policy methods train full weights or a LoRA adapter on the frozen base.
 */
export default definePlugin({
  manifest: {
    name: 'rlhf',
    version: '0.2.0',
    sdk: '^1',
    description:
      'preference learning: reward models, PPO and DPO on full weights or a LoRA adapter',
  },
  configSchema,
  capabilities: [
    'preference-data',
    'sft-data',
    'full-weights',
    'adapter',
    'adapter-start',
    'resume',
  ],
  checkpointFields: { reward: 'rewardCheckpointId' },
  validate(config, info) {
    // PPO needs prompts only, so SFT data serves too; the other methods learn from pairs.
    checkRun(
      `rlhf (${config.method})`,
      config.method === 'ppo' ? ['preference', 'sft'] : ['preference'],
      config,
      info,
    );
    if (config.method === 'ppo' && config.maxNewTokens >= config.maxLength) {
      throw new PluginConfigError(
        `must be below maxLength (${config.maxLength}), which holds the prompt and the reply`,
        'maxNewTokens',
      );
    }
    if (config.method === 'ppo' && !config.rewardCheckpointId) {
      throw new PluginConfigError(
        'ppo needs a reward model: the id of a checkpoint of a `method: "reward"` run',
        'rewardCheckpointId',
      );
    }
  },
  async train(config, ctx) {
    if (config.method === 'reward') return trainReward(config, ctx);
    if (config.method === 'ppo') return trainPpo(config, ctx);
    return trainDpo(config, ctx);
  },
});
