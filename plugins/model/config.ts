import { z } from 'zod';

/**
 * A GPT-2 `config.json`, as Hugging Face writes it, so a GPT-2-family directory loads as is and what
 * heldout saves loads elsewhere. Only the fields the architecture needs are read; the rest are kept.
 */
export const modelConfigSchema = z
  .object({
    model_type: z.literal('gpt2').default('gpt2'),
    vocab_size: z.number().int().positive(),
    n_positions: z.number().int().positive(),
    n_embd: z.number().int().positive(),
    n_layer: z.number().int().positive(),
    n_head: z.number().int().positive(),
    // null means 4 * n_embd, as in transformers.
    n_inner: z.number().int().positive().nullable().default(null),
    layer_norm_epsilon: z.number().positive().default(1e-5),
    activation_function: z.enum(['gelu_new', 'gelu_pytorch_tanh']).default('gelu_new'),
    tie_word_embeddings: z.boolean().default(true),
    bos_token_id: z.number().int().nonnegative().optional(),
    eos_token_id: z.number().int().nonnegative().optional(),
  })
  .passthrough()
  .refine((c) => c.n_embd % c.n_head === 0, {
    message: 'n_embd must be divisible by n_head',
    path: ['n_head'],
  });

export type ModelConfig = z.infer<typeof modelConfigSchema>;

export const innerSize = (c: ModelConfig) => c.n_inner ?? 4 * c.n_embd;

/** Parameter tensors by Hugging Face GPT-2 name (`wte.weight`, `h.0.attn.c_attn.weight`, ...). */
export type WeightMap = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * The names and shapes of every parameter of a GPT-2 model, in a fixed order. Conv1D weights are
 * stored [in, out] as in transformers (the transpose of a Linear layer's). The LM head is tied to
 * `wte.weight` and has no tensor of its own.
 *
 * @example
 * parameterShapes({ ...config, n_layer: 1 }).get('h.0.mlp.c_fc.weight'); // [n_embd, 4 * n_embd]
 */
export function parameterShapes(c: ModelConfig): Map<string, number[]> {
  const d = c.n_embd;
  const inner = innerSize(c);
  const shapes = new Map<string, number[]>([
    ['wte.weight', [c.vocab_size, d]],
    ['wpe.weight', [c.n_positions, d]],
  ]);
  for (let i = 0; i < c.n_layer; i++) {
    const p = `h.${i}.`;
    shapes.set(`${p}ln_1.weight`, [d]).set(`${p}ln_1.bias`, [d]);
    shapes.set(`${p}attn.c_attn.weight`, [d, 3 * d]).set(`${p}attn.c_attn.bias`, [3 * d]);
    shapes.set(`${p}attn.c_proj.weight`, [d, d]).set(`${p}attn.c_proj.bias`, [d]);
    shapes.set(`${p}ln_2.weight`, [d]).set(`${p}ln_2.bias`, [d]);
    shapes.set(`${p}mlp.c_fc.weight`, [d, inner]).set(`${p}mlp.c_fc.bias`, [inner]);
    shapes.set(`${p}mlp.c_proj.weight`, [inner, d]).set(`${p}mlp.c_proj.bias`, [d]);
  }
  shapes.set('ln_f.weight', [d]).set('ln_f.bias', [d]);
  return shapes;
}

export const parameterCount = (c: ModelConfig) =>
  [...parameterShapes(c).values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
