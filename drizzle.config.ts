import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './server/db/schema/index.ts',
  out: './migrations',
  // drizzle-kit's own default; spelled out because server/db/migrate.ts relies on it.
  migrations: { table: '__drizzle_migrations', schema: 'drizzle' },
});
