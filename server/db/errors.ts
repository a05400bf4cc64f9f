/**
 * The SQLSTATE of a PostgreSQL error, looking through drizzle's DrizzleQueryError wrapper (which
 * keeps the driver's error as `cause`).
 */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

export const isUniqueViolation = (err: unknown) => pgErrorCode(err) === '23505';
