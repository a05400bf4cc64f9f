import type { ModelConfig } from '../config.ts';
import * as tf from '../tf.ts';
import type { ForwardOptions } from '../transformer.ts';
import { loadLoraAdapter, loraForwardOptions, readAdapterFiles } from './lora.ts';
import { ia3Key, loadPeftAdapter, PROMPT_KEY } from './peft.ts';

/**
 * IA³'s forward hooks: the learned vectors scale the keys and values of the fused attention
 * projection (its query third held at 1, as in the IA³ paper) and the feed-forward activation.
 * `vector(key)` returns the tensor stored under a PEFT IA³ key (a variable while training).
 *
 * @example
 * forward(base, ids, ia3ForwardOptions((k) => vars.get(k)!, base.config));
 */
export function ia3ForwardOptions(
  vector: (key: string) => tf.Tensor,
  c: ModelConfig,
): Pick<ForwardOptions, 'hooks'> {
  const d = c.n_embd;
  return {
    hooks: {
      attentionQkv: (layer, qkv) => {
        const l = vector(ia3Key(layer, 'attn.c_attn')).reshape([3 * d]);
        const keysAndValues = tf.concat([tf.zeros([d]), tf.ones([2 * d])]);
        return qkv.mul(l.sub(1).mul(keysAndValues).add(1));
      },
      mlpActivation: (layer, act) => act.mul(vector(ia3Key(layer, 'mlp.c_proj')).reshape([-1])),
    },
  };
}

/** An adapter loaded for inference: forward options for its base, and what frees its tensors. */
export interface LoadedAdapter {
  kind: 'lora' | 'ia3' | 'prompt-tuning' | 'bitfit';
  options: ForwardOptions;
  dispose(): void;
}

/**
 * Reads an adapter directory written by any built-in trainer (LoRA, IA³, prompt tuning, BitFit)
 * and returns the forward options that apply it to its base on the fly: the evaluation path, where
 * several adapters share one base in memory.
 *
 * @example
 * const adapter = await loadAdapter('ckpt/step-40', base.config);
 * generate(base, ids, { maxNewTokens: 32 }, adapter.options);
 */
export async function loadAdapter(dir: string, c: ModelConfig): Promise<LoadedAdapter> {
  const { config } = await readAdapterFiles<{ peft_type: string }>(dir);
  if (config.peft_type === 'LORA') {
    const { settings, weights } = await loadLoraAdapter(dir);
    const tensors = new Map([...weights].map(([k, w]) => [k, tf.tensor(w.data, w.shape)]));
    return {
      kind: 'lora',
      options: loraForwardOptions(tensors, settings),
      dispose: () => tf.dispose([...tensors.values()]),
    };
  }
  const { method, weights } = await loadPeftAdapter(dir);
  const tensors = new Map([...weights].map(([k, w]) => [k, tf.tensor(w.data, w.shape)]));
  const dispose = () => tf.dispose([...tensors.values()]);
  if (method === 'ia3') {
    return { kind: method, options: ia3ForwardOptions((k) => tensors.get(k)!, c), dispose };
  }
  if (method === 'prompt-tuning') {
    return {
      kind: method,
      options: { prefixEmbeddings: tensors.get(PROMPT_KEY) as tf.Tensor2D },
      dispose,
    };
  }
  // BitFit: the adapter holds the trained biases, used in place of the base's own.
  return { kind: method, options: { override: (name) => tensors.get(name) }, dispose };
}
