import { describe, expect, it } from 'vitest';
import {
  definePlugin,
  isRetryable,
  PluginConfigError,
  sdkCompatible,
  SDK_VERSION,
  TransientError,
  z,
} from '../../plugins/sdk/index.ts';

const valid = {
  manifest: { name: 'demo', version: '1.0.0', sdk: '^1' },
  configSchema: z.object({ steps: z.number().int().positive() }),
  capabilities: ['sft-data'] as const,
  train: async (config: { steps: number }) => ({ steps: config.steps }),
};

describe('definePlugin', () => {
  it('returns a frozen plugin that trains', async () => {
    const plugin = definePlugin(valid);
    expect(Object.isFrozen(plugin)).toBe(true);
    expect(await plugin.train({ steps: 3 }, {} as never)).toEqual({ steps: 3 });
  });

  it.each([
    [
      { ...valid.manifest, name: 'Bad Name' },
      'manifest.name: must be lower-case letters, digits and "-"',
    ],
    [
      { ...valid.manifest, version: 'one' },
      'manifest.version: must be a semantic version like 1.2.0',
    ],
    [
      { ...valid.manifest, sdk: '^2' },
      `manifest.sdk: plugin demo needs SDK ^2; this is SDK ${SDK_VERSION}`,
    ],
  ])('refuses a bad manifest, naming the field (%o)', (manifest, message) => {
    expect(() => definePlugin({ ...valid, manifest })).toThrow(message);
  });

  it('refuses a config schema that is not zod and a missing train', () => {
    expect(() => definePlugin({ ...valid, configSchema: {} as never })).toThrow(
      'configSchema: must be a zod schema',
    );
    expect(() => definePlugin({ ...valid, train: undefined as never })).toThrow(
      'train: must be a function',
    );
  });
});

describe('SDK versions and errors', () => {
  it('accepts the same major version only', () => {
    expect(sdkCompatible('^1', '1.4.2')).toBe(true);
    expect(sdkCompatible('1.x', '1.0.0')).toBe(true);
    expect(sdkCompatible('^2', '1.9.0')).toBe(false);
  });

  it('tells a bad config (never retried) from a transient failure (retried)', () => {
    expect(isRetryable(new PluginConfigError('must be positive', 'lr'))).toBe(false);
    expect(new PluginConfigError('must be positive', 'lr').message).toBe('lr: must be positive');
    expect(isRetryable(new TransientError('worker lost'))).toBe(true);
    expect(isRetryable(new Error('ECONNRESET'))).toBe(true);
  });
});
