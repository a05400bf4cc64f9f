import path from 'node:path';
import { z } from 'zod';

const flag = z
  .enum(['0', '1', 'true', 'false'], { message: 'must be 0, 1, true or false' })
  .transform((v) => v === '1' || v === 'true');

/**
 * Every environment variable heldout reads, parsed once at start. Keys are the variable names so a
 * validation error can name exactly what to fix.
 */
export const configSchema = z.object({
  PORT: z.coerce
    .number({ message: 'must be a port number' })
    .int('must be an integer')
    // 0 asks the OS for a free port (tests use it); the URL printed at start says which.
    .min(0, 'must be between 0 and 65535')
    .max(65535, 'must be between 0 and 65535')
    .default(4242),
  // Loopback by default: remote workers need HOST=0.0.0.0 on purpose, not by accident.
  HOST: z.string().min(1).default('127.0.0.1'),
  // Unset means "run the embedded PostgreSQL in the data directory".
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  HELDOUT_DATA_DIR: z.string().min(1).default('.heldout'),
  // Used instead of a generated first admin token, so automation knows it in advance.
  HELDOUT_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  HELDOUT_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
  // Anonymous reads (the leaderboard on a trusted network); writes always need a token.
  HELDOUT_PUBLIC_READ: flag.default(false),
  // Reverse proxies in front of heldout whose X-Forwarded-For it believes: a number of hops, or
  // true (1) / false (0, the default). The failed-authentication limiter counts per client
  // address; behind a proxy every socket is the proxy's, so with N hops the client is the N-th
  // X-Forwarded-For entry from the right (the right-most one no trusted proxy wrote). Leave it
  // off when clients reach heldout directly: then the header is the client's to forge.
  HELDOUT_TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d{1,2})$/, 'must be true, false or a number of proxy hops (0-99)')
    .default('false')
    .transform((v) => (v === 'true' ? 1 : v === 'false' ? 0 : Number(v))),
  // Headers, and the body of a request without a token, must arrive within this many seconds; a
  // caller dribbling bytes holds a socket no longer than this (a token's uploads keep Node's 300 s).
  HELDOUT_UNAUTHENTICATED_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(300).default(30),
  HELDOUT_MAX_JSON_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(16 * 1024 * 1024),
  HELDOUT_MAX_ARTIFACT_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(2 * 1024 ** 3),
  HELDOUT_MAX_DATASET_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(512 * 1024 ** 2),
  HELDOUT_MAX_DATASET_ROWS: z.coerce.number().int().min(1).default(2_000_000),
  // Bytes one project's artifacts and dataset versions may hold together (their sizes as
  // uploaded, shared blobs counted for each row); an upload that would pass it is refused (413)
  // while it streams. 0: no quota.
  HELDOUT_PROJECT_QUOTA_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(100 * 1024 ** 3),
  // Uploads are refused (503) while the data directory's filesystem has less free than this, so
  // a full disk never takes Postgres (in the same directory when embedded) down with it. 0: never.
  HELDOUT_MIN_FREE_DISK_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(1024 ** 3),
  // Seconds between passes that delete blobs no row references any more (a deleted run, a
  // replaced artifact, an upload refused at commit) and serving-cache entries unused for a day;
  // one pass also runs at start. 0: never (neither at start).
  HELDOUT_BLOB_GC_INTERVAL_SECONDS: z.coerce.number().int().min(0).max(604_800).default(3600),
  // Third-party trainer plugins: local paths or npm package names, comma-separated.
  HELDOUT_PLUGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
  HELDOUT_DB_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  // Longest a statement of the server's pool may run before Postgres cancels it (answered 503): a
  // stalled or runaway query frees its connection instead of holding a request forever.
  // Migrations and other maintenance use their own connections, without this limit. 0: no limit.
  HELDOUT_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  // Distinct metric keys one run may log; a batch bringing a key past it is refused (400), while
  // points for keys already logged are always taken. Bounds the rows a run's view and search read.
  HELDOUT_MAX_METRIC_KEYS: z.coerce.number().int().min(1).max(1_000_000).default(10_000),
  // `serve` runs one in-process worker unless this is 0 (when remote workers do the training).
  HELDOUT_WORKER: flag.default(true),
  // GPUs of the in-process worker, as `heldout worker --gpus` takes them: "0,1"; unset means CPU.
  HELDOUT_WORKER_GPUS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be GPU indices like 0,1')
    .optional(),
  // Lifetime of the in-process worker's own token; the server replaces it at half that age, so a
  // crashed server leaves a token that works for at most this long.
  HELDOUT_WORKER_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
  // A running job whose worker was silent this long is retried elsewhere (workers beat every 2 s).
  HELDOUT_JOB_STALE_SECONDS: z.coerce.number().int().min(3).max(3600).default(30),
  // Debug aid: keep postgres' own log lines on stderr instead of only in the data directory.
  HELDOUT_PG_LOG: flag.default(false),
  // Generations the OpenAI-compatible API (/v1) runs at once; they take turns token by token on
  // the server's one JavaScript thread, so more slots shorten waits, not the total work.
  HELDOUT_SERVE_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(4),
  // Requests that may wait for a slot; one more is answered 429. 0: refuse whenever all are busy.
  HELDOUT_SERVE_QUEUE: z.coerce.number().int().min(0).max(100_000).default(64),
  // Checkpoints (bases and adapters) kept loaded for /v1; the least recently used idle one goes.
  HELDOUT_SERVE_MAX_MODELS: z.coerce.number().int().min(1).max(1000).default(8),
  // A checkpoint /v1 failed to load because of its own files (corrupt, weights that do not parse,
  // config or tokenizer missing or invalid) answers every request with that error, without reading
  // it again, for this many seconds. Other failures (database, disk) are tried again at once.
  HELDOUT_SERVE_LOAD_RETRY_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
});

export type Config = z.infer<typeof configSchema> & { dataDir: string };

/** A configuration problem the user must fix; the CLI prints it as one line and exits 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment into a typed config, or throws one ConfigError naming every bad variable.
 *
 * @example
 * const config = loadConfig({ PORT: '8080' }); // config.PORT === 8080
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (`PORT= npm start`) means "not set", as in most shells' habits.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? 'config');
      const got = env[key];
      return `${key} ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.HELDOUT_DATA_DIR) };
}
