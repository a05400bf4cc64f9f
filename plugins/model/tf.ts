/**
 * TensorFlow.js for the model code. The union package is used rather than tfjs-core alone because
 * its Node build is the one that registers the chained tensor methods (`x.add(y)`) and every
 * gradient; tfjs-core's own registration modules are ESM files that plain Node cannot load.
 * All backends (cpu here, wasm and the native ones when loaded) share its one engine.
 */
import { env } from '@tensorflow/tfjs';

// Production mode silences tfjs's console banner urging tfjs-node in every process that touches
// the cpu backend; heldout already picks the fastest backend it can load (see backend/select.ts).
env().set('PROD', true);

export * from '@tensorflow/tfjs';
