/**
 * Who a token is where people are named: the annotator of a rating, the author of a ranking. A
 * name in a request body proves nothing, and ratings decide `human_rating` gates, so the name
 * comes from the token unless an admin acts for someone on purpose.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { apiTokens } from '../db/schema/index.ts';
import { AppError } from '../http/errors.ts';
import type { Principal } from './principal.ts';

/**
 * A token's identity: its name and id (`name#id`). The id makes it unique (two tokens may share a
 * name, and ids are never reused); the name keeps it readable in listings and datasets.
 *
 * @example
 * await tokenIdentity(db, 12); // 'ana-laptop#12'
 */
export async function tokenIdentity(db: Db, tokenId: number): Promise<string> {
  const [row] = await db
    .select({ name: apiTokens.name })
    .from(apiTokens)
    .where(eq(apiTokens.id, tokenId));
  return `${row?.name ?? 'token'}#${tokenId}`;
}

const acts = {
  rate: { verb: 'rate', as: 'rates' },
  rank: { verb: 'record rankings', as: 'ranks' },
} as const;

/**
 * The name a write acts under: the caller's own identity when it names nobody or itself; someone
 * else only for an admin token. Anyone else naming another is a 403 naming `annotator`, so a write
 * token can neither forge nor replace nor remove another person's rating.
 *
 * @example
 * const annotator = await actingAs(db, principal, body.annotator, 'rate');
 */
export async function actingAs(
  db: Db,
  principal: Principal,
  named: string | undefined,
  action: keyof typeof acts,
): Promise<string> {
  const own = await tokenIdentity(db, principal.tokenId);
  if (named === undefined || named === own || principal.role === 'admin') return named ?? own;
  const { verb, as } = acts[action];
  throw new AppError(
    403,
    'forbidden',
    `annotator: only an admin may ${verb} for someone else; this token ${as} as "${own}" (leave annotator out to use it)`,
  );
}
