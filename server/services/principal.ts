import { AppError } from '../http/errors.ts';

export type Role = 'read' | 'write' | 'admin';

/** The caller behind a valid token. `projectId` null: the token covers every project. */
export interface Principal {
  tokenId: number;
  projectId: number | null;
  role: Role;
}

const rank: Record<Role, number> = { read: 0, write: 1, admin: 2 };

export function roleAtLeast(role: Role, needed: Role): boolean {
  return rank[role] >= rank[needed];
}

/** Throws 401 unless the request carries a valid token. */
export function requirePrincipal(principal: Principal | undefined): asserts principal is Principal {
  if (!principal) {
    throw new AppError(
      401,
      'unauthorized',
      'a bearer token is required (Authorization: Bearer <token>)',
    );
  }
}

/**
 * Whether `principal` may know that `projectId` exists. A token scoped to one project is told that
 * any other does not exist, in the very words used for a name nobody has taken: a 403 would tell it
 * which names are taken. (Within its own project a role too low is still 403.)
 *
 * @example
 * if (!seesProject(c.get('principal'), project.id)) throw notFound(`project "${name}"`);
 */
export function seesProject(principal: Principal | undefined, projectId: number): boolean {
  return !principal || principal.projectId === null || principal.projectId === projectId;
}

/**
 * Throws 401 or 403 unless `principal` may act with `needed` on `projectId`. Anonymous reads pass
 * only when the server runs with HELDOUT_PUBLIC_READ=1.
 *
 * @example
 * authorize(c.get('principal'), run.projectId, 'write', deps.config.HELDOUT_PUBLIC_READ);
 */
export function authorize(
  principal: Principal | undefined,
  projectId: number | null,
  needed: Role,
  publicRead = false,
): void {
  if (!principal && needed === 'read' && publicRead) return;
  requirePrincipal(principal);
  if (principal.projectId !== null && principal.projectId !== projectId) {
    throw new AppError(403, 'forbidden', 'this token belongs to another project');
  }
  if (!roleAtLeast(principal.role, needed)) {
    throw new AppError(
      403,
      'forbidden',
      `this needs a ${needed} token; this one is ${principal.role}`,
    );
  }
}
