/**
 * TensorFlow.js for the model code. The union package is used rather than tfjs-core alone because
 * its Node build is the one that registers the chained tensor methods (`x.add(y)`) and every
 * gradient; tfjs-core's own registration modules are ESM files that plain Node cannot load.
 * All backends (cpu here, wasm and the native ones when loaded) share its one engine.
 */
export * from '@tensorflow/tfjs';
