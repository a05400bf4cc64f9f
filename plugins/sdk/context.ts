/**
 * What a running trainer is given. The worker implements it: reports travel over the same HTTP API
 * that external loggers use, checkpoints are uploaded and registered with their sha256, and the
 * abort signal fires when the run is cancelled.
 */
export interface TrainContext {
  runId: string;
  /** Everything random in a run derives from this, so a run is reproducible. */
  seed: number;
  /** A local GPT-2-format directory: config.json, model.safetensors, tokenizer files. */
  baseModel: { dir: string; sha256: string; checkpointId?: string };
  /**
   * The LoRA adapter the run starts from, when its base checkpoint is one (RLHF on top of an SFT
   * adapter): a PEFT directory that applies to `baseModel`. Adapter trainers continue it; full
   * trainers fold it into the base weights (`loadStartingPoint` does both).
   */
  baseAdapter?: { dir: string; sha256: string; checkpointId: string };
  /**
   * Other checkpoints the run reads, by the role the plugin's `checkpointFields` gives them (PPO's
   * `reward` model), downloaded like the base model.
   */
  models?: Record<string, { dir: string; sha256: string; checkpointId: string }>;
  datasets: { train: DatasetSplit; validation?: DatasetSplit };
  checkpoints: CheckpointWriter;
  report: Reporter;
  /**
   * Fires when the run is cancelled. Reports are sent, and cancels heard, between the plugin's
   * awaits: a training loop should await something (`await new Promise(setImmediate)` will do)
   * every step, or its metrics arrive late and a cancel ends in a kill.
   */
  signal: AbortSignal;
  /** The compute backend and device the trainer runs on, recorded on the run. */
  device: { backend: string; device: string; gpus: number[] };
  /** A directory the trainer may write scratch files to; removed after the run. */
  scratchDir: string;
}

export type DatasetRow = Record<string, unknown>;

export interface DatasetSplit {
  kind: 'text' | 'sft' | 'preference' | 'eval';
  sha256: string;
  rows: DatasetRow[];
}

export interface CheckpointInfo {
  step: number;
  kind: 'full' | 'adapter';
  trainableParams: number;
  totalParams: number;
}

export interface CheckpointWriter {
  /** Registers the checkpoint written in `dir` (config.json + weights, plus trainer state to resume). */
  save(dir: string, info: CheckpointInfo): Promise<{ id: string; sha256: string }>;
  /** The newest checkpoint of this run, downloaded to a local directory: where a retry resumes. */
  latest(): Promise<{ dir: string; step: number } | undefined>;
}

export interface MetricPoint {
  key: string;
  value: number;
  step: number;
}

export interface Reporter {
  /** Buffered and sent in batches; a point re-sent after a retry overwrites itself, never doubles. */
  metrics(points: MetricPoint[]): void;
  parameters(counts: { total: number; trainable: number }): void;
  log(
    level: 'debug' | 'info' | 'warn' | 'error',
    message: string,
    fields?: Record<string, unknown>,
  ): void;
  /** Waits until everything reported so far is acknowledged by the server. */
  flush(): Promise<void>;
}

export interface TrainResult {
  steps: number;
  finalCheckpoint?: { id: string; sha256: string };
}
