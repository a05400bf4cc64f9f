/**
 * `npm run db:check`: fails when server/db/schema and the committed migrations disagree.
 *
 * It asks drizzle-kit to generate a migration into a scratch copy of migrations/. If drizzle-kit
 * has nothing to generate, the committed SQL already describes the schema; otherwise someone
 * changed the schema without `npm run db:generate`, and the would-be migration is printed.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    schema: { type: 'string', default: './server/db/schema/index.ts' },
    migrations: { type: 'string', default: './migrations' },
  },
});

// drizzle-kit resolves --out relative to the working directory, so the scratch copy lives here.
const scratch = path.join('.tmp', `db-check-${randomBytes(4).toString('hex')}`);
const sqlFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith('.sql'));

fs.mkdirSync('.tmp', { recursive: true });
fs.cpSync(values.migrations, scratch, { recursive: true });
try {
  const before = new Set(sqlFiles(scratch));
  const kit = spawnSync(
    process.execPath,
    [
      path.resolve('node_modules/drizzle-kit/bin.cjs'),
      'generate',
      '--dialect=postgresql',
      `--schema=${values.schema}`,
      `--out=${scratch}`,
    ],
    // No stdin: a change drizzle-kit would ask about (a rename?) is a failure, not a hang.
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 },
  );
  const added = sqlFiles(scratch).filter((f) => !before.has(f));
  if (added.length > 0) {
    const sql = added.map((f) => fs.readFileSync(path.join(scratch, f), 'utf8')).join('\n');
    process.stderr.write(
      `db:check: the schema has changes that no migration holds. Run \`npm run db:generate\` and commit the result.\nThe missing migration would be:\n\n${sql}\n`,
    );
    process.exit(1);
  }
  if (kit.status !== 0 || !kit.stdout.includes('No schema changes')) {
    process.stderr.write(
      `db:check: drizzle-kit could not compare the schema with the migrations (exit ${kit.status}):\n${kit.stdout}\n${kit.stderr}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`db:check: ${before.size} migrations match server/db/schema\n`);
} finally {
  fs.rmSync(scratch, { recursive: true, force: true });
}
