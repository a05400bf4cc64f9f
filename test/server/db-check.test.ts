import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Inside the repo (.tmp is ignored by git) so the copied schema resolves drizzle-orm as usual.
const scratch = path.join('.tmp', `schema-drift-${randomBytes(3).toString('hex')}`);
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

function dbCheck(schema: string) {
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', 'server/db/check-migrations.ts', `--schema=${schema}`],
    {
      encoding: 'utf8',
    },
  );
}

describe('npm run db:check', () => {
  it('passes when the committed migrations describe the schema', () => {
    const result = dbCheck('./server/db/schema/index.ts');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('fails, and prints the missing migration, when the schema changed without one', () => {
    fs.cpSync('server/db/schema', scratch, { recursive: true });
    const runsFile = path.join(scratch, 'runs.ts');
    const source = fs.readFileSync(runsFile, 'utf8');
    const changed = source.replace(
      "error: text('error'),",
      "error: text('error'),\n    notes: text('notes'),",
    );
    expect(changed).not.toBe(source);
    fs.writeFileSync(runsFile, changed);

    const result = dbCheck(`./${scratch}/index.ts`);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('the schema has changes that no migration holds');
    expect(result.stderr).toContain('ALTER TABLE "runs" ADD COLUMN "notes" text;');
  });
});
