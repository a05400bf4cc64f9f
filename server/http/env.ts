import type { RequestIdVariables } from 'hono/request-id';
import type { Logger } from 'pino';
import type { Database } from '../db/client.ts';

/** What every handler can reach: the database and the logger, passed in, never imported. */
export interface AppDeps {
  database: Database;
  logger: Logger;
  version: string;
}

export interface AppEnv {
  Variables: RequestIdVariables;
}
