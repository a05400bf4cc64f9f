import { pgEnum } from 'drizzle-orm/pg-core';

export const tokenRole = pgEnum('token_role', ['read', 'write', 'admin']);
export const datasetKind = pgEnum('dataset_kind', ['text', 'sft', 'preference', 'eval']);
export const runStatus = pgEnum('run_status', [
  'queued',
  'running',
  'finished',
  'failed',
  'cancelled',
]);
export const runDatasetRole = pgEnum('run_dataset_role', ['train', 'validation', 'eval']);
export const checkpointKind = pgEnum('checkpoint_kind', ['full', 'adapter']);
export const suitePurpose = pgEnum('suite_purpose', ['target', 'retention', 'safety']);
export const evaluationStatus = pgEnum('evaluation_status', [
  'queued',
  'running',
  'finished',
  'failed',
]);
export const detectorKind = pgEnum('detector_kind', [
  'overfitting',
  'forgetting',
  'memorisation',
  'contamination',
]);
export const severity = pgEnum('severity', ['info', 'warn', 'block']);
export const verdictOutcome = pgEnum('verdict_outcome', ['pass', 'fail', 'no_data']);
export const jobKind = pgEnum('job_kind', ['train', 'evaluate']);
export const jobStatus = pgEnum('job_status', [
  'queued',
  'running',
  'finished',
  'failed',
  'cancelled',
]);
