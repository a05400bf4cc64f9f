import os from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp } from './app.ts';
import { createPluginHost } from './plugins/host.ts';
import { ensureAdminToken, rotatingWorkerToken } from './auth/tokens.ts';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './db/client.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './db/embedded-postgres.ts';
import { migrateDatabase } from './db/migrate.ts';
import { serverTimeouts } from './http/server-timeouts.ts';
import { removeStaleUploads } from './storage/fs-blob-store.ts';
import { createJobQueue } from './jobs/queue.ts';
import { enqueueWaiting, reapStaleJobs } from './services/jobs.ts';
import { BLOB_GC_GRACE_MS, startStorageGc } from './services/storage-gc.ts';
import { startWorker } from './worker/worker.ts';
import { version } from './version.ts';

export interface RunningServer {
  url: string;
  /** Set only on the start that created the first admin token (it is shown once). */
  adminToken?: string;
  /** The embedded PostgreSQL, when DATABASE_URL is unset. */
  postgres?: EmbeddedPostgres;
  /** Stops taking requests, drains the open ones, then closes the database and embedded Postgres. */
  close(): Promise<void>;
}

const EMBEDDED_DATABASE = 'heldout';

async function embeddedDatabaseUrl(
  config: Config,
  logger: Logger,
): Promise<{ url: string; pg: EmbeddedPostgres }> {
  const pg = await startEmbeddedPostgres({
    dir: path.join(config.dataDir, 'postgres'),
    onLog: config.HELDOUT_PG_LOG
      ? (line) => logger.debug({ postgres: line }, 'postgres')
      : undefined,
    // Killed or crashed, it is started again: the pool reconnects and health says meanwhile.
    supervise: (event) => {
      const message = {
        exited: 'embedded PostgreSQL died; restarting it',
        restarted: 'embedded PostgreSQL restarted',
        restart_failed: 'restarting embedded PostgreSQL failed; trying again',
      }[event.event];
      if (event.event === 'restarted') logger.info(event, message);
      else logger.error(event, message);
    },
  });
  try {
    const admin = openDatabase(pg.url(), { max: 1 });
    const [row] =
      await admin.sql`select 1 as found from pg_database where datname = ${EMBEDDED_DATABASE}`;
    if (!row) await admin.sql.unsafe(`create database ${EMBEDDED_DATABASE}`);
    await admin.close();
  } catch (err) {
    await pg.stop();
    throw err;
  }
  const clusterDir = path.join(config.dataDir, 'postgres');
  if (pg.dir !== clusterDir) {
    logger.warn(
      { dataDir: config.dataDir, clusterDir: pg.dir },
      'running as root, PostgreSQL runs as an unprivileged user that cannot enter the data directory, so its cluster lives elsewhere',
    );
  }
  logger.info({ clusterDir: pg.dir, port: pg.port }, 'embedded PostgreSQL started');
  return { url: pg.url(EMBEDDED_DATABASE), pg };
}

/**
 * Partial uploads of a server that was killed: nothing will ever finish or remove them. Several
 * servers may share one data directory, so a file is only judged abandoned once it has not been
 * written for the blob collector's grace before this start; an upload another server is streaming
 * writes its file chunk by chunk, and is never that idle.
 */
async function cleanStaleUploads(config: Config, startedAt: Date, logger: Logger) {
  try {
    const cutOff = new Date(startedAt.getTime() - BLOB_GC_GRACE_MS);
    const removed = await removeStaleUploads(config.dataDir, cutOff);
    if (removed) logger.info({ removed }, 'removed partial uploads left by an earlier run');
  } catch (err) {
    logger.warn({ err }, 'could not clean partial uploads; they only take disk space');
  }
}

/**
 * Starts everything `heldout serve` needs: the database (embedded unless DATABASE_URL is set),
 * migrations, the first admin token, and the HTTP listener.
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const startedAt = new Date();
  await cleanStaleUploads(config, startedAt, logger);
  let pg: EmbeddedPostgres | undefined;
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) ({ url: databaseUrl, pg } = await embeddedDatabaseUrl(config, logger));

  let database: Database | undefined;
  let server: ServerType | undefined;
  try {
    let adminToken: string | undefined;
    await migrateDatabase(databaseUrl, async (db) => {
      ({ created: adminToken } = await ensureAdminToken(db, config.HELDOUT_ADMIN_TOKEN));
    });
    database = openDatabase(databaseUrl, {
      max: config.HELDOUT_DB_POOL_SIZE,
      statementTimeoutMs: config.HELDOUT_STATEMENT_TIMEOUT_MS,
    });
    const plugins = createPluginHost(config.HELDOUT_PLUGINS);
    const queue = createJobQueue(database.sql, { supervise: true });
    const app = createApp({ database, logger, version, config, plugins, queue, postgres: pg });
    const port = await new Promise<number>((resolve, reject) => {
      const options = { fetch: app.fetch, port: config.PORT, hostname: config.HOST };
      server = serve({ ...options, serverOptions: serverTimeouts(config) }, (info) =>
        resolve(info.port),
      );
      server.once('error', reject);
    });
    const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    logger.info({ url, version, embedded: Boolean(pg) }, 'heldout listening');

    // Jobs written by a server that died before telling the queue, then the reaper of jobs whose
    // worker went silent: both are safe with several servers on one database.
    const db = database.db;
    const sent = await enqueueWaiting(db, queue);
    if (sent) logger.info({ jobs: sent }, 're-sent waiting jobs to the queue');
    // Blobs no row references and idle serving-cache entries, at start and then periodically.
    const storageGc = startStorageGc({
      database,
      dataDir: config.dataDir,
      logger,
      intervalSeconds: config.HELDOUT_BLOB_GC_INTERVAL_SECONDS,
    });
    const staleSeconds = config.HELDOUT_JOB_STALE_SECONDS;
    const reaper = setInterval(
      () => {
        reapStaleJobs(db, queue, staleSeconds).then(
          (ids) =>
            ids.length && logger.warn({ jobs: ids }, 'retrying jobs whose worker went silent'),
          (err: unknown) => logger.warn({ err }, 'reaping stale jobs failed'),
        );
      },
      Math.max(1000, (staleSeconds * 1000) / 3),
    );
    // The worker's token expires within HELDOUT_WORKER_TOKEN_TTL_SECONDS and is replaced at half
    // that age, so a crash (which never revokes it) leaves a token that soon dies on its own.
    const workerToken = config.HELDOUT_WORKER
      ? await rotatingWorkerToken(db, `${os.hostname()}:${process.pid}`, {
          ttlMs: config.HELDOUT_WORKER_TOKEN_TTL_SECONDS * 1000,
          onToken: (token: string): void => worker?.setToken(token),
          onError: (err) => logger.warn({ err }, "rotating the worker's token failed; retrying"),
        })
      : undefined;
    // The first rotation comes half a lifetime from now, long after `worker` exists.
    const worker: ReturnType<typeof startWorker> | undefined = workerToken
      ? startWorker({
          server: url,
          token: workerToken.token,
          gpus: config.HELDOUT_WORKER_GPUS?.split(',').map(Number) ?? [],
          logger: logger.child({ component: 'worker' }),
        })
      : undefined;

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        // First the trainings, which report back over HTTP, then the listener and the database.
        await worker?.stop();
        await workerToken?.stop().catch(() => {});
        clearInterval(reaper);
        await storageGc.stop();
        await queue.stop();
        await new Promise<void>((resolve) => {
          if (!server) return resolve();
          server.close(() => resolve());
          // Keep-alive sockets would hold close() open until they time out.
          (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        });
        await database?.close();
        await pg?.stop();
      })());
    return { url, adminToken, postgres: pg, close };
  } catch (err) {
    server?.close();
    await database?.close();
    await pg?.stop();
    throw err;
  }
}
