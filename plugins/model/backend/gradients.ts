import { getGradient } from '@tensorflow/tfjs-core';
import { register } from 'node:module';

// tfjs-core's gradient and chained-op registrations exist only as ES modules with extensionless
// relative imports (`./gradients/Abs_grad`), which Node's resolver rejects (vite-based vitest
// rewrites them, plain `node --import tsx` does not). This resolve hook retries such an import
// inside tfjs-core's dist/ with `.js`, and touches nothing else.
const hook = `export async function resolve(specifier, context, next) {
  if (context.parentURL?.includes('/@tensorflow/tfjs-core/dist/') && specifier.startsWith('.') &&
      !/\\.m?js$/.test(specifier)) {
    try { return await next(specifier + '.js', context); } catch {}
  }
  return next(specifier, context);
}`;

let loading: Promise<void> | undefined;

/**
 * Registers every gradient and the chained tensor methods (`x.add(y)`) of tfjs-core, in vitest and
 * in plain Node alike. The registries are global, so this serves every copy of tfjs-core loaded.
 *
 * @example
 * await loadGradients();
 * tf.grad((x) => tf.square(x))(tf.scalar(3)); // 6
 */
export function loadGradients(): Promise<void> {
  loading ??= (async () => {
    if (getGradient('Add') && getGradient('GatherV2')) return;
    register(`data:text/javascript,${encodeURIComponent(hook)}`);
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    await import('@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js');
  })();
  return loading;
}
