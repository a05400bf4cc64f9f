import { fileURLToPath } from 'node:url';

/** Models shipped in the repository, by the name runs and checkpoints refer to them with. */
export const BUILTIN_MODELS: Record<string, string> = {
  'tiny-base': fileURLToPath(new URL('./tiny-base', import.meta.url)),
};

/** The storage key of a project's checkpoint row that stands for a built-in model. */
export const builtinStorageKey = (name: string) => `builtin:${name}`;
