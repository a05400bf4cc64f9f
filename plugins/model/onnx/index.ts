/** The ONNX path of plugins/model: export a GPT-2 checkpoint, run and generate with ORT. */
export { CONFIG_METADATA_KEY, ONNX_OPSET, exportGpt2Onnx, saveGpt2Onnx } from './export-gpt2.ts';
export { generateBatchOnnx, generateOnnx } from './generate-onnx.ts';
export { GraphBuilder, readOnnxMetadata } from './graph-builder.ts';
export {
  createOnnxSession,
  emptyOnnxCache,
  forwardOnnx,
  releaseOnnxSession,
  type OnnxCache,
  type OnnxForwardOptions,
  type OnnxForwardResult,
  type OnnxGpt2Session,
  type OnnxSessionOptions,
} from './session.ts';
