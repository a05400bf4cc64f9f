/** Compute backends in the order `initBackend` tries them. */
export const backendNames = ['node-gpu', 'node', 'wasm', 'cpu'] as const;

export type BackendName = (typeof backendNames)[number];

/** A backend that was asked for by name cannot be used: bad configuration, not worth a retry. */
export class BackendSelectionError extends Error {
  override name = 'BackendSelectionError';
}

/**
 * Validates a backend name (from `HELDOUT_BACKEND` or a caller); the error lists the valid ones.
 *
 * @example
 * parseBackendName('wasm'); // 'wasm'
 * parseBackendName('gpu'); // throws: unknown backend "gpu"; valid: node-gpu, node, wasm, cpu
 */
export function parseBackendName(value: string, source = 'backend'): BackendName {
  const name = value.trim().toLowerCase();
  if ((backendNames as readonly string[]).includes(name)) return name as BackendName;
  throw new BackendSelectionError(
    `unknown ${source} "${value}"; valid: ${backendNames.join(', ')}`,
  );
}
