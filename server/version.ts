import { readFileSync } from 'node:fs';

/** The package version, read once: it is reported by health and stamped on results. */
export const version: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;
