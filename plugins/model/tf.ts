/**
 * TensorFlow.js core with the chained tensor methods (`x.add(y)`) registered. Model code imports tf
 * from here so those methods exist whichever backend package loads first.
 */
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';

export * from '@tensorflow/tfjs-core';
