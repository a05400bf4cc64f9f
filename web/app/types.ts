// What the UI reads from /api/v1 (see /api/v1/openapi.json); only the fields it shows.
export interface Project {
  id: number;
  name: string;
  description: string | null;
  createdAt: string;
}

export type Wire = number | 'NaN' | 'Infinity' | '-Infinity';

export interface Run {
  id: string;
  name: string;
  status: 'queued' | 'running' | 'finished' | 'failed' | 'cancelled';
  plugin: string | null;
  config: Record<string, unknown> | null;
  baseCheckpointId: string | null;
  parentRunId: string | null;
  backend: string | null;
  device: string | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, { step: number; value: Wire; wallTime: number }>;
  datasets: { datasetVersionId: number; role: string }[];
}

export interface MetricSummary {
  key: string;
  lastStep: number;
  lastValue: Wire;
  lastWallTime: number;
}

export interface History {
  key: string;
  steps: number[];
  values: Wire[];
  wallTimes: number[];
  nextAfterStep: number | null;
}

export interface Buckets {
  key: string;
  buckets: {
    stepMin: number;
    stepMax: number;
    count: number;
    min: Wire | null;
    max: Wire | null;
    last: Wire;
    wallTime: number;
  }[];
}

export interface Checkpoint {
  id: string;
  runId: string | null;
  kind: 'full' | 'adapter';
  step: number | null;
  trainableParams: number | null;
  totalParams: number | null;
  baseCheckpointId: string | null;
  createdAt: string;
}

export interface Aggregate {
  value: number;
  low: number;
  high: number;
  n: number;
}

export interface Evaluation {
  id: string;
  checkpointId: string;
  suite: string;
  suiteVersion: number;
  purpose: 'target' | 'retention' | 'safety';
  status: 'queued' | 'running' | 'finished' | 'failed';
  aggregates: Record<string, Aggregate> | null;
  caseCount: number | null;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface Finding {
  id: number;
  detector: 'overfitting' | 'forgetting' | 'memorisation' | 'contamination';
  severity: 'info' | 'warn' | 'block';
  summary: string;
  evidence: Record<string, unknown>;
  createdAt: string;
  checkpointId?: string | null;
  runId?: string | null;
}

export interface Score extends Aggregate {
  delta: number | null;
  normalised: number;
}

export interface LeaderboardRow {
  rank: number | null;
  rankUpperBound: number | null;
  model: string | null;
  version: number | null;
  checkpointId: string;
  checkpointName: string | null;
  runId: string | null;
  aliases: string[];
  method: string;
  base: { checkpointId: string; label: string } | null;
  trainableParams: number | null;
  totalParams: number | null;
  datasets: string[];
  scores: Record<string, Score>;
  average: { value: number; low: number; high: number } | null;
  suitesScored: number;
  retention: number | null;
  /** Over the version's latest 1000 answered requests; null when never served. */
  serving: { requests: number; p50Ms: number; p95Ms: number; tokensPerSecond?: number } | null;
  verdict: { outcome: 'pass' | 'fail' | 'no_data'; gate: string; gateVersion: number } | null;
}

export interface Leaderboard {
  suites: { name: string; purpose: string; metric: string; version: number }[];
  sort: string;
  total: number;
  rows: LeaderboardRow[];
  nextPageToken: string | null;
}

export interface Suite {
  id: number;
  name: string;
  purpose: 'target' | 'retention' | 'safety';
  active: boolean;
  description: string | null;
  versions: {
    id: number;
    version: number;
    datasetVersionId: number;
    metrics: string[];
    decoding: Record<string, unknown>;
    passThreshold: number;
    caseCount: number;
    createdAt: string;
  }[];
}

export interface Dataset {
  id: number;
  name: string;
  kind: string;
  description: string | null;
  latestVersion: number | null;
}

export interface DatasetVersionSummary {
  id: number;
  version: number;
  sha256: string;
  sizeBytes: number;
  rowCount: number;
  createdAt: string;
}

export interface CleaningReport {
  rows: number;
  empty: { count: number };
  exactDuplicates: { count: number };
  nearDuplicates: { count: number; threshold: number; method: string };
  lengthOutliers: { count: number; rule: string; medianChars: number };
}

export interface ModelVersion {
  id: number;
  version: number;
  checkpointId: string;
  runId: string | null;
  description: string | null;
  createdAt: string;
}

export interface Alias {
  model: string;
  alias: string;
  version: number;
  checkpointId: string;
  protected: boolean;
  updatedAt: string;
}

/** A project's rule for one alias name: protected or not, and the gate version it requires. */
export interface AliasProtection {
  alias: string;
  protected: boolean;
  gate: { id: number; name: string; version: number } | null;
  source: 'default' | 'set';
}

export interface Model {
  id: number;
  name: string;
  description: string | null;
  createdAt: string;
}

export interface ModelDetail extends Model {
  versions: ModelVersion[];
  aliases: Alias[];
}

export interface Promotion {
  id: number;
  model: string;
  alias: string;
  fromVersion: number | null;
  toVersion: number;
  protected?: boolean;
  verdictId: string | null;
  verdictOutcome: 'pass' | 'fail' | 'no_data' | null;
  reason: string | null;
  createdAt: string;
}

export interface Verdict {
  id: string;
  gate: { name: string; version: number };
  model: string;
  version: number;
  outcome: 'pass' | 'fail' | 'no_data';
  checks: Record<string, unknown>[];
  createdAt: string;
}

export interface Job {
  kind: string;
  status: string;
  attempts: number;
  workerId: string | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  heartbeatAt: string | null;
  finishedAt: string | null;
}
