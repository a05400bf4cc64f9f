import { definePlugin, model as m, PluginConfigError, z } from '../../sdk/index.ts';
import { checkRun, loopSettingsSchema } from '../shared/settings.ts';
import { trainDpo } from './dpo.ts';
import { trainPpo } from './ppo.ts';
import { trainReward } from './reward.ts';

const configSchema = loopSettingsSchema.extend({
  /**
   * `reward`: a Bradley-Terry reward model from preference pairs; `ppo`: policy optimisation
   * against such a reward model on a KL leash; `dpo`: preference optimisation without one.
   */
  method: z.enum(['dpo', 'ppo', 'reward']),
  /** DPO's temperature: how far the policy may move from the reference for a given margin. */
  beta: z.number().positive().max(10).default(0.1),
  /**
   * `lora`: policy = base + adapter, reference = the base alone (no second copy in memory). From a
   * LoRA checkpoint, `lora` trains that adapter further against a frozen copy of it, and `none`
   * trains full weights with it folded in.
   */
  adapter: z.enum(['none', 'lora']).default('none'),
  r: z.number().int().min(1).max(256).default(8),
  alpha: z.number().positive().default(16),
  targetModules: m.loraSettingsSchema.shape.targetModules,
  /** PPO: the reward model, a checkpoint of a `method: 'reward'` run in the same project. */
  rewardCheckpointId: z.uuid().optional(),
  maxNewTokens: z.number().int().min(1).max(1024).default(32),
  klTarget: z.number().positive().default(6),
  klCoef: z.number().min(0).default(0.2),
  /** Responses over which the KL coefficient may change by 20%; 0 keeps it fixed. */
  klHorizon: z.number().int().min(0).default(10_000),
  ppoEpochs: z.number().int().min(1).max(32).default(4),
  clipRange: z.number().positive().max(1).default(0.2),
  valueClipRange: z.number().positive().default(0.2),
  valueLearningRate: z.number().positive().max(1).default(1e-2),
  gamma: z.number().min(0).max(1).default(1),
  lambda: z.number().min(0).max(1).default(0.95),
  whitenAdvantages: z.boolean().default(false),
  heldoutPrompts: z.number().int().min(1).max(1024).default(32),
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
