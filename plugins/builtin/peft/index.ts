import { definePlugin, model as m, PluginConfigError, z } from '../../sdk/index.ts';
import { examplesOf } from '../shared/data.ts';
import { checkRun, loopSettingsSchema } from '../shared/settings.ts';
import { runTrainingLoop, snapshot, type LoopParts } from '../shared/train-loop.ts';

const { tf } = m;

const configSchema = loopSettingsSchema.extend({
  method: z
    .enum(['ia3', 'prompt-tuning', 'bitfit'])
    .describe(
      'Required. ia3: learned scales on keys, values and MLP; prompt-tuning: learned virtual tokens; bitfit: the biases train.',
    ),
  numVirtualTokens: z
    .number()
    .int()
    .min(1)
    .max(512)
    .default(8)
    .describe(
      'Prompt tuning only: virtual tokens prepended to every input; they take positions from the context, with maxLength.',
    ),
});
type Config = z.infer<typeof configSchema>;

type Parts = Pick<LoopParts, 'trainable' | 'loss' | 'decays'> & {
  /** The adapter's tensors as they are saved (PEFT names and shapes). */
  exportAdapter: () => m.WeightMap;
  importAdapter: (weights: m.WeightMap) => void;
  dispose: () => void;
};

const variable = (w: { shape: number[]; data: Float32Array }) =>
  tf.variable(tf.tensor(w.data, w.shape), true);
const assignAll = (vars: Map<string, m.tf.Variable>, weights: m.WeightMap) => {
  for (const [key, v] of vars) {
    const w = weights.get(key);
    if (!w) throw new PluginConfigError(`the checkpoint has no tensor ${key}`);
    v.assign(tf.tensor(w.data, v.shape));
  }
};

/** IA³: ones-initialised scales on keys and values (queries held at 1) and on the MLP activation. */
function ia3(model: m.Gpt2Model): Parts {
  const c = model.config;
  const vars = new Map([...m.initIa3(c)].map(([k, w]) => [k, variable(w)]));
  const d = c.n_embd;
  const applied = m.ia3ForwardOptions((key) => vars.get(key)!, c);
  return {
    trainable: vars,
    decays: () => false,
    loss: (b) => m.lmLoss(m.forward(model, b.input, applied).logits, b.target, b.mask),
    exportAdapter: () => {
      // Stored as the scales actually applied (queries at exactly 1), so PEFT's own IA³, which
      // scales the whole fused output, gives the same outputs.
      const out = snapshot(vars);
      for (let layer = 0; layer < c.n_layer; layer++)
        out.get(m.ia3Key(layer, 'attn.c_attn'))!.data.fill(1, 0, d);
      return out;
    },
    importAdapter: (w) => assignAll(vars, w),
    dispose: () => {
      for (const v of vars.values()) v.dispose();
    },
  };
}

/** Prompt tuning: learned virtual tokens before every input; the loss skips their positions. */
function promptTuning(model: m.Gpt2Model, config: Config): Parts {
  const prompt = variable(
    m.initPrompt(snapshot(model.params).get('wte.weight')!, config.numVirtualTokens, config.seed),
  );
  const vars = new Map([[m.PROMPT_KEY, prompt]]);
  const n = config.numVirtualTokens;
  return {
    trainable: vars,
    decays: () => false,
    loss: (b) => {
      const { logits } = m.forward(model, b.input, { prefixEmbeddings: prompt as m.tf.Tensor2D });
      return m.lmLoss(logits.slice([0, n, 0], [-1, -1, -1]), b.target, b.mask);
    },
    exportAdapter: () => snapshot(vars),
    importAdapter: (w) => assignAll(vars, w),
    dispose: () => prompt.dispose(),
  };
}

/** BitFit: the base's own biases train, everything else stays frozen. */
function bitfit(model: m.Gpt2Model): Parts {
  const vars = new Map([...model.params].filter(([name]) => m.isBias(name)));
  return {
    trainable: vars,
    loss: (b) => m.lmLoss(m.forward(model, b.input).logits, b.target, b.mask),
    exportAdapter: () => snapshot(vars),
    importAdapter: (w) => assignAll(vars, w),
    dispose: () => {},
  };
}

/**
 * Parameter-efficient fine-tuning besides LoRA, one method per run: IA³, prompt tuning or BitFit.
 * The base is frozen; checkpoints hold the method's few tensors, in PEFT's layout where PEFT has one.
 */
export default definePlugin({
  manifest: {
    name: 'peft',
    version: '1.0.0',
    sdk: '^1',
    description: 'IA³, prompt tuning or BitFit on a frozen base',
  },
  configSchema,
  capabilities: ['sft-data', 'text-data', 'adapter', 'resume'],
  validate(config, info) {
    checkRun(
      'peft',
      ['sft', 'text'],
      config,
      info,
      config.method === 'prompt-tuning' ? config.numVirtualTokens : 0,
    );
  },
  async train(config, ctx) {
    const { config: modelConfig, weights } = await m.loadCheckpointDir(ctx.baseModel.dir);
    const tokenizer = await m.loadTokenizer(ctx.baseModel.dir);
    const model = m.createModel(
      modelConfig,
      weights,
      config.method === 'bitfit' ? m.isBias : () => false,
    );
    let maxLength = config.maxLength;
    if (config.method === 'prompt-tuning') {
      // Refused at submission when the base's context is known; a run that got past that (its
      // config names no positions, or it was queued before the check) is clamped, and says so.
      const room = modelConfig.n_positions - config.numVirtualTokens;
      if (room < 8) {
        throw new PluginConfigError(
          `leaves no room for text in the model's ${modelConfig.n_positions} positions`,
          'numVirtualTokens',
        );
      }
      if (maxLength > room) {
        ctx.report.log(
          'warn',
          `maxLength ${maxLength} plus ${config.numVirtualTokens} virtual tokens is above the model's ${modelConfig.n_positions} positions; examples are cut at ${room} tokens`,
        );
        maxLength = room;
      }
    }
    const parts =
      config.method === 'ia3'
        ? ia3(model)
        : config.method === 'prompt-tuning'
          ? promptTuning(model, config)
          : bitfit(model);
    const trainable = [...parts.trainable.values()].reduce((n, v) => n + v.size, 0);
    const baseCount = m.parameterCount(modelConfig);
    const total = config.method === 'bitfit' ? baseCount : baseCount + trainable;
    ctx.report.parameters({ total, trainable });
    try {
      return await runTrainingLoop(
        {
          ctx,
          ...parts,
          train: examplesOf(ctx.datasets.train, tokenizer, maxLength, 'train'),
          validation: examplesOf(ctx.datasets.validation, tokenizer, maxLength, 'validation'),
          padId: tokenizer.padId ?? tokenizer.eosId,
          async writeCheckpoint(dir) {
            await m.savePeftAdapter(dir, config.method, parts.exportAdapter(), modelConfig, {
              name: ctx.baseModel.checkpointId ?? 'tiny-base',
              sha256: ctx.baseModel.sha256,
            });
            await m.saveTokenizer(dir, tokenizer);
            return { kind: 'adapter', trainableParams: trainable, totalParams: total };
          },
          async loadCheckpoint(dir) {
            const saved = await m.loadPeftAdapter(dir);
            if (saved.config.heldout_base_sha256 !== ctx.baseModel.sha256) {
              throw new PluginConfigError(
                `the checkpoint's adapter belongs to base ${saved.config.heldout_base_sha256}, not ${ctx.baseModel.sha256}`,
              );
            }
            parts.importAdapter(saved.weights);
          },
        },
        config,
      );
    } finally {
      parts.dispose();
      m.disposeModel(model);
    }
  },
});
