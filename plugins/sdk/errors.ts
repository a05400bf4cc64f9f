/**
 * Errors a trainer throws say whether trying again can help: the host retries a transient failure
 * (a lost worker, a full disk that may be freed) and fails the run at once on a bad config, since
 * no retry will fix the config.
 */
export class PluginError extends Error {
  override name = 'PluginError';
  constructor(
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The config (or the data it names) cannot work: fail the run, do not retry. */
export class PluginConfigError extends PluginError {
  override name = 'PluginConfigError';
  constructor(
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(field ? `${field}: ${message}` : message, false, options);
  }
}

/** Something outside the plugin failed and may not fail again: retry, resuming from a checkpoint. */
export class TransientError extends PluginError {
  override name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, true, options);
  }
}

/** The run was cancelled through the API: not a failure, and never retried. */
export class CancelledError extends PluginError {
  override name = 'CancelledError';
  constructor() {
    super('the run was cancelled', false);
  }
}

/** Whether the host should retry after `err`; unknown errors count as transient. */
export function isRetryable(err: unknown): boolean {
  return err instanceof PluginError ? err.retryable : true;
}
