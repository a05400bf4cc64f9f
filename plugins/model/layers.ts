import * as tf from './tf.ts';

/*
 * The transformer's layers with written-out backward passes: fewer, larger kernels than autodiff
 * of the same ops builds, and no gradient products for frozen parameters.
 */

// Sums over the rows of [rows, cols]. On wasm this is backend/wasm-sum.ts, which adds rows in
// place (the stock kernel transposes first; a product with a row of ones packs all of dy).
const columnSum = (dy: tf.Tensor) => dy.sum(0);

// A parameter no gradient is asked for (a frozen base under adapters). Ops below leave such
// operands out of their inputs so their backward passes skip its products: autodiff prunes
// those by itself, a custom gradient would otherwise compute them all.
const frozen = (t: tf.Tensor) => t instanceof tf.Variable && !t.trainable;

/**
 * An op of `x` and parameters with a written-out backward pass that returns the gradient of x and
 * of every parameter; the parameters that are frozen are not inputs, and their gradients are
 * dropped before they are computed (they are thunks). The backward pass may only use what the
 * forward pass saved: tfjs disposes every other forward tensor before it runs (saving is free on
 * wasm, see backend/wasm-share.ts).
 */
export function withGrad(
  x: tf.Tensor,
  params: tf.Tensor[],
  f: (save: tf.GradSaveFunc) => {
    value: tf.Tensor;
    grads: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.Tensor, ...(() => tf.Tensor)[]];
  },
): tf.Tensor {
  const live = params.map((t) => !frozen(t));
  const inputs = [x, ...params.filter((_, i) => live[i])];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const { value, grads } = f(args[args.length - 1] as tf.GradSaveFunc);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dx, ...rest] = grads(dy, saved);
        return [dx, ...rest.filter((_, i) => live[i]).map((g) => g())];
      },
    };
  }) as (...t: tf.Tensor[]) => tf.Tensor;
  return op(...inputs);
}

/**
 * LayerNorm over the last axis of x [rows, d], with its backward written out: autodiff of the
 * moments, broadcasts and divisions made about 30 kernels per call, mostly reductions.
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  return withGrad(x, [gamma, beta], (save) => {
    const centred = x.sub(x.mean(-1, true));
    const rstd = centred.square().mean(-1, true).add(eps).rsqrt();
    const xhat = centred.mul(rstd);
    save([xhat, rstd, gamma]);
    return {
      value: xhat.mul(gamma).add(beta),
      grads: (dy, [xh, r, g]) => {
        const dxhat = dy.mul(g!);
        const dx = dxhat
          .sub(dxhat.mean(-1, true))
          .sub(xh!.mul(dxhat.mul(xh!).mean(-1, true)))
          .mul(r!);
        return [dx, () => columnSum(dy.mul(xh!)), () => columnSum(dy)];
      },
    };
  });
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

/**
 * GELU, tanh approximation ("gelu_new"), as GPT-2 was trained with, computed as
 * x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)): the same function (0.5 (1 + tanh z) is
 * sigmoid(2z)), but wasm's Sigmoid runs on XNNPACK and its Tanh is a scalar loop 25x slower.
 * The backward pass is written out, in 8 kernels instead of autodiff's 20.
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  return withGrad(x, [], (save) => {
    const x2 = x.square();
    const s = x2
      .mul(2 * GELU_C * GELU_A)
      .add(2 * GELU_C)
      .mul(x)
      .sigmoid();
    save([x, x2, s]);
    return {
      value: x.mul(s),
      grads: (dy, [xs, xx, sg]) => {
        // d/dx x s(u) = s + x s (1 - s) u', with u' = 2c (1 + 3a x^2)
        const du = xx!.mul(6 * GELU_C * GELU_A).add(2 * GELU_C);
        return [dy.mul(tf.sub(1, sg!).mul(xs!).mul(du).add(1).mul(sg!))];
      },
    };
  });
}

/**
 * x [rows, in] times W [in, out] plus b (transformers' Conv1D): the bias rides in the product
 * kernel (XNNPACK adds it for free), and the backward pass is the three products it needs.
 */
export function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return withGrad(x, [w, b], (save) => {
    save([x, w]);
    return {
      value: tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b }),
      grads: (dy, [xs, ws]) => [
        tf.matMul(dy, ws!, false, true),
        () => tf.matMul(xs!, dy, true, false),
        () => columnSum(dy),
      ],
    };
  });
}
