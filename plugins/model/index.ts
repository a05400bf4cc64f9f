/**
 * The model toolkit trainers and evaluators build on. ONNX Runtime is not re-exported here: its
 * native binding loads on import, so its users import `./onnx/index.ts` themselves.
 */
export * from './backend/index.ts';
export * from './checkpoint.ts';
export * from './config.ts';
export * from './generate.ts';
export * from './safetensors.ts';
export * from './tokenizers/index.ts';
export * from './train/adamw.ts';
export * from './transformer.ts';
export * as tf from './tf.ts';
export * from './train/sft.ts';
export * from './adapters/lora.ts';
export * from './adapters/peft.ts';
export * from './adapters/apply.ts';
export { mulberry32, normal } from './random.ts';
