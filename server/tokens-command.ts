/**
 * `heldout tokens`: mint, list and revoke tokens for every project, so a remote worker runs with a
 * write token that expires instead of the admin token.
 */
import { parseArgs } from 'node:util';
import { HeldoutApiError, HeldoutClient, type ClientOptions } from './client/index.ts';

export const TOKENS_USAGE = `heldout tokens create --worker --name NAME [--expires-in 30d] [--server URL] [--token ADMIN]
  heldout tokens list | revoke ID [--server URL] [--token ADMIN]
                       tokens for every project: a worker's (write, expiring) for
                       \`heldout worker --token\`; needs the admin token (HELDOUT_TOKEN)`;

/** What `heldout tokens` exits with: 2 is "fix how you called me", 3 "the server failed". */
export const TOKENS_EXIT = { ok: 0, usage: 2, infrastructure: 3 } as const;

const DEFAULT_EXPIRES_IN = '30d';
const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86_400 };

export interface TokensIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Another fetch (tests pass the app's). */
  fetch?: ClientOptions['fetch'];
}

const defaultIo: TokensIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
};

class UsageError extends Error {}

/**
 * Seconds in a lifetime like `90m`, `12h` or `30d`.
 *
 * @example
 * parseExpiresIn('30d'); // 2592000
 */
export function parseExpiresIn(text: string): number {
  const match = /^([1-9]\d{0,5})([mhd])$/.exec(text);
  if (!match)
    throw new UsageError(
      `--expires-in must be a number and a unit m, h or d, like 30d (got ${JSON.stringify(text)})`,
    );
  return Number(match[1]) * UNIT_SECONDS[match[2]!]!;
}

function parse(argv: string[], env: TokensIo['env']) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        server: { type: 'string', default: env.HELDOUT_SERVER ?? 'http://127.0.0.1:4242' },
        token: { type: 'string', default: env.HELDOUT_TOKEN },
        worker: { type: 'boolean', default: false },
        name: { type: 'string' },
        'expires-in': { type: 'string', default: DEFAULT_EXPIRES_IN },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  if (!values.token) throw new UsageError('tokens needs --token ADMIN (or HELDOUT_TOKEN)');
  const at = { server: values.server, token: values.token };
  if (action === 'create') {
    // The only kind minted here; project tokens are an API call of the project's admin.
    if (!values.worker) throw new UsageError('tokens create needs --worker');
    if (!values.name) throw new UsageError('tokens create needs --name NAME');
    const seconds = parseExpiresIn(values['expires-in']);
    return { action, ...at, name: values.name, seconds } as const;
  }
  if (action === 'list') return { action, ...at } as const;
  if (action === 'revoke') {
    if (rest.length !== 1 || !/^[1-9]\d{0,14}$/.test(rest[0]!))
      throw new UsageError('tokens revoke needs the id of one token (from `heldout tokens list`)');
    return { action, ...at, id: Number(rest[0]) } as const;
  }
  throw new UsageError(`tokens: unknown action ${JSON.stringify(action ?? '')}`);
}

async function run(o: ReturnType<typeof parse>, io: TokensIo): Promise<void> {
  const client = new HeldoutClient({ baseUrl: o.server, token: o.token, fetch: io.fetch });
  if (o.action === 'create') {
    const created = await client.tokens.createGlobal({
      name: o.name,
      role: 'write',
      expiresAt: new Date(Date.now() + o.seconds * 1000).toISOString(),
    });
    io.stderr(
      `worker token ${created.id} "${created.name}" (write, every project) expires ${created.expiresAt}; shown only now:\n`,
    );
    // Alone on stdout, so `HELDOUT_TOKEN=$(heldout tokens create ...)` works.
    io.stdout(`${created.token}\n`);
    return;
  }
  if (o.action === 'revoke') {
    const revoked = await client.tokens.revoke(o.id);
    io.stdout(`revoked token ${revoked.id} "${revoked.name}"\n`);
    return;
  }
  for (const t of await client.tokens.listGlobal()) {
    const state = t.revokedAt ? 'revoked' : t.expiresAt ? `expires ${t.expiresAt}` : 'no expiry';
    io.stdout(`${t.id}\t${t.role}\t${t.prefix}…\t${state}\t${t.name}\n`);
  }
}

/**
 * Runs `heldout tokens ...` and returns its exit code.
 *
 * @example
 * process.exitCode = await tokensCommand(['create', '--worker', '--name', 'gpu-box']);
 */
export async function tokensCommand(argv: string[], io: TokensIo = defaultIo): Promise<number> {
  try {
    await run(parse(argv, io.env), io);
    return TOKENS_EXIT.ok;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`heldout: ${err.message}\n\n${TOKENS_USAGE}\n`);
      return TOKENS_EXIT.usage;
    }
    if (err instanceof HeldoutApiError) {
      io.stderr(`heldout: ${err.message}\n`);
      return err.status >= 500 ? TOKENS_EXIT.infrastructure : TOKENS_EXIT.usage;
    }
    const e = err as Error & { cause?: { code?: string } };
    io.stderr(`heldout: cannot reach the server: ${e.cause?.code ?? e.message}\n`);
    return TOKENS_EXIT.infrastructure;
  }
}
