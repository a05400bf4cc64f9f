import { bigint, timestamp, uuid } from 'drizzle-orm/pg-core';

/** Surrogate key for rows clients address by name or through a parent (projects, datasets, ...). */
export const serialId = () =>
  bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity();
/** Unguessable public id for things created in bulk by clients (runs, checkpoints, verdicts). */
export const publicId = () => uuid('id').primaryKey().defaultRandom();
export const createdAt = () =>
  timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
export const at = (name: string) => timestamp(name, { withTimezone: true });
export const bigintRef = (name: string) => bigint(name, { mode: 'number' });
