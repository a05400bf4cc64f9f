import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { AppError } from '../http/errors.ts';
import {
  PluginConfigError,
  sdkCompatible,
  SDK_VERSION,
  type SubmitInfo,
  type TrainerPlugin,
} from '../../plugins/sdk/index.ts';

/** Built-in trainers, by name: loaded like any third-party plugin, by path, on first use. */
const BUILTIN = ['full', 'lora', 'peft', 'rlhf'] as const;
const builtinDir = fileURLToPath(new URL('../../plugins/builtin/', import.meta.url));

export interface PluginSummary {
  name: string;
  version: string;
  sdk: string;
  description?: string;
  capabilities: string[];
  source: string;
  /** The JSON schema of the run config the plugin accepts (input side: defaulted fields optional). */
  configSchema: unknown;
}

/** The keys an object schema at `at` inside `schema` accepts (none when it is not an object). */
function knownKeys(schema: z.ZodType, at: readonly PropertyKey[]): string[] {
  let current: unknown = schema;
  for (const step of at) {
    if (!(current instanceof z.ZodObject)) return [];
    current = (current.shape as Record<PropertyKey, unknown>)[step];
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

/** Levenshtein distance, for suggesting the key a misspelt one meant. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next[j] = Math.min(
        row[j]! + 1,
        next[j - 1]! + 1,
        row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    row = next;
  }
  return row[b.length]!;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const [best] = known
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d);
  // A third of the key's length: close enough to be a typo, not just another short key.
  const near = best && best.d <= Math.max(1, Math.floor(key.length / 3));
  return near ? `unknown key (did you mean ${best.k}?)` : 'unknown key';
}

function isPlugin(value: unknown): value is TrainerPlugin {
  const p = value as Partial<TrainerPlugin> | undefined;
  return Boolean(
    p?.manifest && p.configSchema instanceof z.ZodType && typeof p.train === 'function',
  );
}

/**
 * Knows the trainer plugins: the built-in ones and those named in HELDOUT_PLUGINS (a local path or
 * an npm package name each). Modules are imported lazily, once, and every one is checked: that it
 * is a plugin, that its SDK major version is ours, and that no two share a name.
 *
 * @example
 * const host = createPluginHost(['./plugins/examples/echo']);
 * const { plugin, config } = await host.validateRun('full', { steps: 50 }, info);
 */
export function createPluginHost(extra: readonly string[] = []) {
  let loading: Promise<Map<string, { plugin: TrainerPlugin; source: string }>> | undefined;

  async function importPlugin(specifier: string, source: string): Promise<TrainerPlugin> {
    const url =
      specifier.startsWith('.') || path.isAbsolute(specifier)
        ? pathToFileURL(path.resolve(specifier)).href
        : specifier;
    let mod: { default?: unknown };
    try {
      mod = (await import(url)) as { default?: unknown };
    } catch (cause) {
      throw new Error(`plugin ${source} could not be imported: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (!isPlugin(mod.default))
      throw new Error(`plugin ${source} has no default export made by definePlugin()`);
    if (!sdkCompatible(mod.default.manifest.sdk)) {
      throw new Error(
        `plugin ${source} needs SDK ${mod.default.manifest.sdk}; this server has SDK ${SDK_VERSION}`,
      );
    }
    return mod.default;
  }

  function all() {
    loading ??= (async () => {
      const plugins = new Map<string, { plugin: TrainerPlugin; source: string }>();
      const sources = [
        ...BUILTIN.map((name) => ({
          specifier: path.join(builtinDir, name, 'index.ts'),
          source: `builtin:${name}`,
        })),
        ...extra.map((specifier) => ({ specifier, source: specifier })),
      ];
      for (const { specifier, source } of sources) {
        const plugin = await importPlugin(specifier, source);
        const taken = plugins.get(plugin.manifest.name);
        if (taken)
          throw new Error(
            `plugins ${taken.source} and ${source} are both named "${plugin.manifest.name}"`,
          );
        plugins.set(plugin.manifest.name, { plugin, source });
      }
      return plugins;
    })();
    return loading;
  }

  return {
    async list(): Promise<PluginSummary[]> {
      return [...(await all()).values()].map(({ plugin, source }) => ({
        ...plugin.manifest,
        capabilities: [...plugin.capabilities],
        source,
        configSchema: z.toJSONSchema(plugin.configSchema, { io: 'input', unrepresentable: 'any' }),
      }));
    },

    async get(name: string): Promise<TrainerPlugin> {
      const plugins = await all();
      const found = plugins.get(name);
      if (!found) {
        throw new AppError(
          400,
          'bad_request',
          `plugin: no plugin "${name}"; available: ${[...plugins.keys()].sort().join(', ')}`,
        );
      }
      return found.plugin;
    },

    /**
     * A submitted run's plugin and config, checked before any compute is spent: the schema (with
     * defaults applied) and the plugin's own checks. Problems are 400s naming `config.<field>`.
     */
    async validateRun(
      name: string,
      version: string | undefined,
      config: unknown,
      info: SubmitInfo,
    ) {
      const plugin = await this.get(name);
      if (version && version !== plugin.manifest.version) {
        throw new AppError(
          400,
          'bad_request',
          `plugin: ${name}@${version} is not installed; this server has ${name}@${plugin.manifest.version}`,
        );
      }
      const parsed = plugin.configSchema.safeParse(config ?? {});
      if (!parsed.success) {
        const details = parsed.error.issues.flatMap((i) =>
          i.code === 'unrecognized_keys'
            ? i.keys.map((key) => ({
                path: ['config', ...i.path, key].join('.'),
                message: unknownKeyMessage(key, knownKeys(plugin.configSchema, i.path)),
              }))
            : [{ path: ['config', ...i.path].join('.'), message: i.message }],
        );
        throw new AppError(
          400,
          'validation_failed',
          `${details[0]!.path}: ${details[0]!.message}`,
          details,
        );
      }
      const start = info.baseModel;
      if (start?.kind === 'adapter') {
        if (!plugin.capabilities.includes('adapter-start')) {
          throw new AppError(
            400,
            'validation_failed',
            `baseCheckpointId: ${name} cannot start from an adapter checkpoint; full, lora and rlhf can`,
          );
        }
        if (start.peftType !== 'LORA') {
          throw new AppError(
            400,
            'validation_failed',
            `baseCheckpointId: only a LoRA adapter can be trained further, and this one is ${start.peftType ?? 'of an unknown type'}`,
          );
        }
      }
      try {
        plugin.validate?.(parsed.data, info);
      } catch (err) {
        if (err instanceof PluginConfigError) {
          const where =
            err.field && !err.field.startsWith('datasets') ? `config.${err.message}` : err.message;
          throw new AppError(400, 'validation_failed', where);
        }
        throw err;
      }
      return { plugin, config: parsed.data as Record<string, unknown> };
    },
  };
}

export type PluginHost = ReturnType<typeof createPluginHost>;
