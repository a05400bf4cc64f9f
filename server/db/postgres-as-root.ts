import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * PostgreSQL refuses to run as root. Run as root (containers, CI), heldout starts it as an
 * unprivileged system user instead, and that user must be able to reach both the binaries (in
 * node_modules) and the cluster directory. A checkout under /root or a `mktemp -d` folder is
 * closed to other users, so for each of the two this module finds a place the user can reach,
 * without ever changing the permissions of the user's own directories.
 */
export interface ServiceUser {
  name: string;
  uid: number;
  gid: number;
}

/** The user PostgreSQL runs as, or undefined when we are not root and it simply runs as us. */
export function serviceUser(): ServiceUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) {
      return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    }
  }
  throw new Error(
    'running as root, but there is neither a "postgres" nor a "nobody" user to run PostgreSQL as',
  );
}

/** Asks the kernel rather than reasoning about modes, ACLs and groups ourselves. */
export function userCan(user: ServiceUser, test: '-x' | '-w', target: string): boolean {
  return spawnSync('test', [test, target], { uid: user.uid, gid: user.gid }).status === 0;
}

/** A root-owned directory that nobody else can write: safe to hold what the service user runs. */
function ownedByRoot(dir: string): boolean {
  const stat = fs.lstatSync(dir);
  return stat.isDirectory() && stat.uid === 0 && (stat.mode & 0o022) === 0;
}

function makeRootDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (!ownedByRoot(dir)) {
    throw new Error(
      `${dir} exists but is not a root-owned directory closed to writes by others; remove it`,
    );
  }
}

/**
 * Where the service user can execute `postgres`: in place when it can, else a copy of the whole
 * native/ tree (bin, lib, share) in a root-owned cache shared by every checkout of this version.
 */
export function reachableNativeDir(user: ServiceUser, nativeDir: string, version: string): string {
  if (userCan(user, '-x', path.join(nativeDir, 'bin', 'postgres'))) return nativeDir;
  const cache = path.join(os.tmpdir(), `heldout-postgres-${version}`);
  if (!fs.existsSync(cache)) {
    const staging = `${cache}.${randomBytes(4).toString('hex')}`;
    fs.cpSync(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
    fs.chmodSync(staging, 0o755);
    try {
      fs.renameSync(staging, cache); // atomic: a concurrent start either wins or finds it done
    } catch {
      fs.rmSync(staging, { recursive: true, force: true });
    }
  }
  if (!ownedByRoot(cache))
    throw new Error(`${cache} is not a root-owned directory closed to writes by others; remove it`);
  return cache;
}

/**
 * Where the cluster of data directory `dir` lives: in `dir` when the service user can enter it,
 * else under /var/lib/heldout, at a path derived from `dir` so every start finds the same cluster.
 */
export function reachableClusterRoot(user: ServiceUser, dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (userCan(user, '-x', dir)) return dir;
  const key = createHash('sha256').update(fs.realpathSync(dir)).digest('hex').slice(0, 16);
  const fallback = path.join('/var/lib/heldout/embedded', key);
  makeRootDir(fallback);
  return fallback;
}
