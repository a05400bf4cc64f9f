import { definePlugin, loadStartingPoint, model as m, PluginConfigError } from '../../sdk/index.ts';
import { examplesOf } from '../shared/data.ts';
import { checkRun, loopSettingsSchema } from '../shared/settings.ts';
import { runTrainingLoop, snapshot } from '../shared/train-loop.ts';

const { tf } = m;

const configSchema = loopSettingsSchema.extend(m.loraSettingsSchema.shape);

/**
 * LoRA: the base stays frozen (byte-identical after training) and each targeted projection W
 * gains a low-rank update (alpha / r) A^T B^T, with dropout on the low-rank path while training.
 * Checkpoints hold the adapter alone, in PEFT's layout, with the sha256 of the base it belongs to.
 * From a LoRA checkpoint it trains that adapter further, on the same base.
 */
export default definePlugin({
  manifest: {
    name: 'lora',
    version: '1.0.0',
    sdk: '^1',
    description: 'low-rank adapters on a frozen base (PEFT layout)',
  },
  configSchema,
  capabilities: ['sft-data', 'text-data', 'adapter', 'adapter-start', 'resume'],
  validate(config, info) {
    checkRun('lora', ['sft', 'text'], config, info);
  },
  async train(config, ctx) {
    const start = await loadStartingPoint(ctx);
    const { config: modelConfig, tokenizer } = start;
    const model = m.createModel(modelConfig, start.weights, () => false);
    // Continuing an adapter keeps its shape: its rank, scale and targets, not the config's.
    const settings = start.adapter
      ? { ...start.adapter.settings, dropout: config.dropout }
      : config;
    const adapter = new Map<string, m.tf.Variable>();
    const initial = start.adapter?.weights ?? m.initLora(modelConfig, settings, config.seed);
    for (const [key, w] of initial) adapter.set(key, tf.variable(tf.tensor(w.data, w.shape), true));
    const trainable = [...adapter.values()].reduce((n, v) => n + v.size, 0);
    const total = m.parameterCount(modelConfig) + trainable;
    ctx.report.parameters({ total, trainable });
    const evaluation = m.loraForwardOptions(adapter, settings);
    try {
      return await runTrainingLoop(
        {
          ctx,
          trainable: adapter,
          loss: (b, pass) => {
            const applied = pass.training
              ? m.loraForwardOptions(adapter, settings, {
                  rate: config.dropout,
                  seed: config.seed * 1_000_003 + pass.draw,
                })
              : evaluation;
            return m.lmLoss(m.forward(model, b.input, applied).logits, b.target, b.mask);
          },
          train: examplesOf(ctx.datasets.train, tokenizer, config.maxLength, 'train'),
          validation: examplesOf(
            ctx.datasets.validation,
            tokenizer,
            config.maxLength,
            'validation',
          ),
          padId: tokenizer.padId ?? tokenizer.eosId,
          async writeCheckpoint(dir) {
            await m.saveLoraAdapter(dir, snapshot(adapter), settings, {
              name: ctx.baseModel.checkpointId ?? 'tiny-base',
              sha256: ctx.baseModel.sha256,
            });
            await m.saveTokenizer(dir, tokenizer);
            return { kind: 'adapter', trainableParams: trainable, totalParams: total };
          },
          async loadCheckpoint(dir) {
            const saved = await m.loadLoraAdapter(dir);
            if (saved.config.heldout_base_sha256 !== ctx.baseModel.sha256) {
              throw new PluginConfigError(
                `the checkpoint's adapter belongs to base ${saved.config.heldout_base_sha256}, not ${ctx.baseModel.sha256}`,
              );
            }
            for (const [key, v] of adapter)
              v.assign(tf.tensor(saved.weights.get(key)!.data, v.shape));
          },
        },
        config,
      );
    } finally {
      for (const v of adapter.values()) v.dispose();
      m.disposeModel(model);
    }
  },
});
