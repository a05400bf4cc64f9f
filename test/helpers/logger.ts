import { Writable } from 'node:stream';
import { createLogger } from '../../server/logger.ts';

/** A real pino logger whose JSON lines are kept in memory, so tests can read what was logged. */
export function memoryLogger(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger(level, sink), lines };
}
