import { definePlugin, loadStartingPoint, model as m } from '../../sdk/index.ts';
import { examplesOf } from '../shared/data.ts';
import { checkRun, loopSettingsSchema } from '../shared/settings.ts';
import { runTrainingLoop } from '../shared/train-loop.ts';

/**
 * Full fine-tuning: every parameter of the base trains. The simplest method, and the one most
 * likely to overwrite what the base knew, which is why heldout gates what it produces. From a LoRA
 * checkpoint it trains the adapter's model with the adapter folded in.
 */
export default definePlugin({
  manifest: {
    name: 'full',
    version: '1.0.0',
    sdk: '^1',
    description: 'every parameter trains (AdamW)',
  },
  configSchema: loopSettingsSchema,
  capabilities: ['sft-data', 'text-data', 'full-weights', 'adapter-start', 'resume'],
  validate(config, info) {
    checkRun('full', ['sft', 'text'], config, info);
  },
  async train(config, ctx) {
    const start = await loadStartingPoint(ctx);
    const { config: modelConfig, tokenizer } = start;
    const model = m.createModel(modelConfig, start.merged());
    const total = m.parameterCount(modelConfig);
    ctx.report.parameters({ total, trainable: total });
    try {
      return await runTrainingLoop(
        {
          ctx,
          trainable: model.params,
          loss: (b) => m.lmLoss(m.forward(model, b.input).logits, b.target, b.mask),
          train: examplesOf(ctx.datasets.train, tokenizer, config.maxLength, 'train'),
          validation: examplesOf(
            ctx.datasets.validation,
            tokenizer,
            config.maxLength,
            'validation',
          ),
          padId: tokenizer.padId ?? tokenizer.eosId,
          async writeCheckpoint(dir) {
            await m.saveCheckpointDir(dir, modelConfig, m.exportWeights(model));
            await m.saveTokenizer(dir, tokenizer);
            return { kind: 'full', trainableParams: total, totalParams: total };
          },
          async loadCheckpoint(dir) {
            const saved = await m.loadCheckpointDir(dir);
            for (const [name, v] of model.params)
              v.assign(m.tf.tensor(saved.weights.get(name)!.data, v.shape));
          },
        },
        config,
      );
    } finally {
      m.disposeModel(model);
    }
  },
});
