import { ADAMW_UPDATE, SUM_OF_SQUARES, type AdamWAttrs } from '../backend/wasm-adamw.ts';
import * as tf from '../tf.ts';

// One-pass kernels the current backend may have (wasm: backend/wasm-adamw.ts); else tfjs ops.
const hasKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;

function sumOfSquares(grads: tf.Tensor[]): number {
  return tf.tidy(() => {
    const total = hasKernel(SUM_OF_SQUARES)
      ? (tf
          .engine()
          .runKernel(SUM_OF_SQUARES, Object.fromEntries(grads.map((g, i) => [i, g]))) as tf.Tensor)
      : tf.addN(grads.map((g) => tf.sum(tf.square(g))));
    return total.dataSync()[0]!;
  });
}

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this (0: no clipping). */
  clipNorm?: number;
  /** Which parameters decay: by default matrices only, never biases or LayerNorm gains. */
  decays?: (name: string, v: tf.Variable) => boolean;
}

/**
 * AdamW (decoupled weight decay, Loshchilov & Hutter) with global-norm gradient clipping, over a
 * named set of variables. Its state is plain tensors, so a checkpoint can save and resume it.
 *
 * @example
 * const opt = new AdamW(model.params, { weightDecay: 0.1, clipNorm: 1 });
 * const { loss, gradNorm } = opt.step(() => lmLoss(...), 3e-4);
 */
export class AdamW {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  t = 0;
  private readonly opts: Required<AdamWOptions>;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    options: AdamWOptions = {},
  ) {
    this.opts = {
      beta1: 0.9,
      beta2: 0.95,
      epsilon: 1e-8,
      weightDecay: 0.1,
      clipNorm: 1,
      decays: (_name, v) => v.rank >= 2,
      ...options,
    };
    for (const [name, p] of params) {
      if (!p.trainable) continue;
      this.m.set(name, tf.variable(tf.zerosLike(p), false));
      this.v.set(name, tf.variable(tf.zerosLike(p), false));
    }
  }

  /** The loss and its gradients for the trainable variables, without updating anything. */
  gradients(loss: () => tf.Scalar): { loss: number; grads: Map<string, tf.Tensor> } {
    const names = [...this.m.keys()];
    const vars = names.map((n) => this.params.get(n)!);
    const { value, grads } = tf.variableGrads(loss, vars);
    const lossValue = value.dataSync()[0]!;
    value.dispose();
    return { loss: lossValue, grads: new Map(names.map((n, i) => [n, grads[vars[i]!.name]!])) };
  }

  /**
   * Applies (and disposes) gradients at learning rate `lr`, after clipping their global norm;
   * returns the norm before clipping. Gradient accumulation sums micro-batch gradients first.
   */
  apply(grads: Map<string, tf.Tensor>, lr: number): number {
    this.t += 1;
    const { beta1, beta2, epsilon, weightDecay, clipNorm, decays } = this.opts;
    const gradNorm = Math.sqrt(sumOfSquares([...grads.values()]));
    const scale = clipNorm > 0 && gradNorm > clipNorm ? clipNorm / (gradNorm + 1e-6) : 1;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    const fused = hasKernel(ADAMW_UPDATE);
    tf.tidy(() => {
      for (const [name, grad] of grads) {
        const p = this.params.get(name)!;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const decay = weightDecay > 0 && decays(name, p) ? weightDecay : 0;
        if (fused) {
          const attrs: AdamWAttrs = { beta1, beta2, c1, c2, epsilon, lr, decay, scale };
          const [p1, m1, v1] = tf
            .engine()
            .runKernel(ADAMW_UPDATE, { p, m, v, g: grad }, attrs as never) as tf.Tensor[];
          m.assign(m1!);
          v.assign(v1!);
          p.assign(p1!);
          continue;
        }
        const g = grad.mul(scale);
        m.assign(m.mul(beta1).add(g.mul(1 - beta1)));
        v.assign(v.mul(beta2).add(g.square().mul(1 - beta2)));
        let update = m.div(c1).div(v.div(c2).sqrt().add(epsilon));
        if (decay > 0) update = update.add(p.mul(decay));
        p.assign(p.sub(update.mul(lr)));
      }
    });
    tf.dispose([...grads.values()]);
    return gradNorm;
  }

  /** One update at learning rate `lr`; returns the loss and the gradient norm before clipping. */
  step(loss: () => tf.Scalar, lr: number): { loss: number; gradNorm: number } {
    const { loss: value, grads } = this.gradients(loss);
    return { loss: value, gradNorm: this.apply(grads, lr) };
  }

  /** Moments and step count, to save beside a checkpoint so a resumed run continues exactly. */
  state(): { t: number; tensors: Map<string, { shape: number[]; data: Float32Array }> } {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, m] of this.m)
      tensors.set(`m.${name}`, { shape: m.shape, data: m.dataSync() as Float32Array });
    for (const [name, v] of this.v)
      tensors.set(`v.${name}`, { shape: v.shape, data: v.dataSync() as Float32Array });
    return { t: this.t, tensors };
  }

  restore(state: {
    t: number;
    tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>;
  }): void {
    this.t = state.t;
    for (const [name, m] of this.m)
      m.assign(tf.tensor(state.tensors.get(`m.${name}`)!.data, m.shape));
    for (const [name, v] of this.v)
      v.assign(tf.tensor(state.tensors.get(`v.${name}`)!.data, v.shape));
  }

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()]);
  }
}

/**
 * Linear warmup to `peak`, then cosine decay to `peak * floor` at `total` steps.
 *
 * @example
 * warmupCosine(0, { peak: 1e-3, warmup: 100, total: 1000 }); // 1e-5
 */
export function warmupCosine(
  step: number,
  s: { peak: number; warmup: number; total: number; floor?: number },
): number {
  const floor = s.floor ?? 0.1;
  if (step < s.warmup) return (s.peak * (step + 1)) / s.warmup;
  const progress = Math.min(1, (step - s.warmup) / Math.max(1, s.total - s.warmup));
  return s.peak * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
