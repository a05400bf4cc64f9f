import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';

describe('loadConfig', () => {
  it('has defaults that need no setup', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 4242, HOST: '127.0.0.1', HELDOUT_LOG_LEVEL: 'info' });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.dataDir).toBe(path.resolve('.heldout'));
  });

  it('treats an empty variable as unset', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '' });
    expect(config.PORT).toBe(4242);
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('names every bad variable in one message', () => {
    const bad = () =>
      loadConfig({ PORT: '8.5', HELDOUT_LOG_LEVEL: 'loud', HELDOUT_ADMIN_TOKEN: 'short' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(
      'invalid configuration: PORT must be an integer (got "8.5"); HELDOUT_ADMIN_TOKEN must be at least 16 characters (got "short"); HELDOUT_LOG_LEVEL',
    );
  });

  it('rejects a flag that is not a boolean', () => {
    expect(() => loadConfig({ HELDOUT_PG_LOG: 'maybe' })).toThrow(
      'HELDOUT_PG_LOG must be 0, 1, true or false',
    );
  });
});
