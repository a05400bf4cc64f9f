import type { RequestIdVariables } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import type { Database } from '../db/client.ts';
import type { EmbeddedPostgres } from '../db/embedded-postgres.ts';
import type { JobQueue } from '../jobs/queue.ts';
import type { PluginHost } from '../plugins/host.ts';
import type { Principal } from '../services/principal.ts';

/** What every handler can reach: database, logger and config are passed in, never imported. */
export interface AppDeps {
  database: Database;
  logger: Logger;
  version: string;
  config: Config;
  plugins: PluginHost;
  queue: JobQueue;
  /** The embedded PostgreSQL when the server runs one, so health can say it is restarting. */
  postgres?: Pick<EmbeddedPostgres, 'status'>;
}

export interface AppEnv {
  Variables: RequestIdVariables & {
    /** Who is calling: set for every request with a valid token, absent for anonymous reads. */
    principal?: Principal;
  };
}
