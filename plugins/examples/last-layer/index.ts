/**
 * An example third-party trainer, written against the SDK alone (in a package of its own it would
 * import 'heldout/sdk'): it fine-tunes only the last transformer block and the final LayerNorm,
 * a cheap middle ground between adapters and full fine-tuning. Load it with
 * HELDOUT_PLUGINS=./plugins/examples/last-layer/index.ts.
 */
import { definePlugin, model as m, PluginConfigError, z } from '../../sdk/index.ts';

export default definePlugin({
  manifest: {
    name: 'last-layer',
    version: '0.1.0',
    sdk: '^1',
    description: 'trains the top block only',
  },
  configSchema: z.object({
    steps: z.number().int().min(1).max(100_000).default(50),
    batchSize: z.number().int().min(1).max(256).default(8),
    learningRate: z.number().positive().max(1).default(1e-3),
    maxLength: z.number().int().min(8).max(2048).default(128),
  }),
  capabilities: ['sft-data'],
  validate(_config, info) {
    const train = info.datasets.find((d) => d.role === 'train');
    if (train?.kind !== 'sft')
      throw new PluginConfigError('an sft train dataset is required', 'datasets.train');
  },
  async train(config, ctx) {
    const base = await m.loadCheckpointDir(ctx.baseModel.dir);
    const tokenizer = await m.loadTokenizer(ctx.baseModel.dir);
    const top = `h.${base.config.n_layer - 1}.`;
    const trainable = (name: string) => name.startsWith(top) || name.startsWith('ln_f.');
    const model = m.createModel(base.config, base.weights, trainable);
    const params = new Map([...model.params].filter(([name]) => trainable(name)));
    const count = (names: string[]) => names.reduce((n, k) => n + model.params.get(k)!.size, 0);
    ctx.report.parameters({
      total: m.parameterCount(base.config),
      trainable: count([...params.keys()]),
    });

    const examples = m.encodeSft(
      ctx.datasets.train.rows as { prompt: string; response: string }[],
      tokenizer,
      config.maxLength,
    );
    const next = m.batchStream(examples, config.batchSize, ctx.seed);
    const optimizer = new m.AdamW(params, { weightDecay: 0 });
    for (let step = 1; step <= config.steps; step++) {
      if (ctx.signal.aborted) throw new PluginConfigError('cancelled');
      const batch = m.toBatch(next(), tokenizer.eosId);
      const { loss } = optimizer.step(
        () => m.lmLoss(m.forward(model, batch.input).logits, batch.target, batch.mask),
        config.learningRate,
      );
      m.tf.dispose([batch.input, batch.target, batch.mask]);
      ctx.report.metrics([{ key: 'train/loss', value: loss, step }]);
    }
    const dir = `${ctx.scratchDir}/final`;
    await m.saveCheckpointDir(dir, base.config, m.exportWeights(model));
    await m.saveTokenizer(dir, tokenizer);
    const saved = await ctx.checkpoints.save(dir, {
      step: config.steps,
      kind: 'full',
      trainableParams: count([...params.keys()]),
      totalParams: m.parameterCount(base.config),
    });
    optimizer.dispose();
    m.disposeModel(model);
    await ctx.report.flush();
    return { steps: config.steps, finalCheckpoint: saved };
  },
});
