/**
 * `npm run bench -- <name> [args]`: runs test/bench/<name>.ts and prints its result as one JSON
 * document on stdout. Benchmarks hold the performance targets; tests never time anything.
 *
 * A benchmark module default-exports `(args: string[]) => Promise<object>`.
 */
import fs from 'node:fs';
import os from 'node:os';

const benches = fs
  .readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (!name || !benches.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${benches.join('|')}> [args]\n`);
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { default: (args: string[]) => Promise<object> };
const result = await mod.default(args);
const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version };
process.stdout.write(`${JSON.stringify({ bench: name, machine, ...result }, null, 2)}\n`);
process.exit(0);
