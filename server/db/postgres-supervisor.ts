/** One running server process, as the supervisor sees it. */
export interface Supervised {
  pid: number;
  /** Settles when the process has exited, however it went. */
  exited: Promise<ExitInfo>;
  /** Asks it to stop and waits until it has. */
  stop(): Promise<void>;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What the supervisor did, for the log. */
export type SupervisionEvent =
  | ({ event: 'exited'; pid: number } & ExitInfo)
  | { event: 'restarted'; pid: number; attempt: number; downMs: number }
  | { event: 'restart_failed'; attempt: number; error: string; retryInMs: number };

export interface SupervisorStatus {
  /**
   * `restarting` from the moment the process died until a new one answers; `exited` when it died
   * and restarts are off; `stopped` after `stop()`.
   */
  state: 'running' | 'restarting' | 'exited' | 'stopped';
  pid: number | null;
  /** Successful restarts since start. */
  restarts: number;
  lastExit: ({ at: string } & ExitInfo) | null;
  /** Why the latest restart attempt failed, while restarting. */
  lastError: string | null;
}

export interface SupervisorOptions {
  /** Restart the process when it dies (default); false only watches it. */
  restart?: boolean;
  onEvent?: (event: SupervisionEvent) => void;
  /** Run before each restart attempt, e.g. to end what the dead process left behind. */
  beforeRestart?: (dead: Supervised) => Promise<void> | void;
  /** First wait before a restart (ms); it doubles on each failure up to `maxDelayMs`. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

/** The wait before restart attempt `attempt` (1-based): 0.5 s, 1 s, 2 s … at most 30 s. */
export function restartDelayMs(attempt: number, first = 500, max = 30_000): number {
  return Math.min(max, first * 2 ** Math.min(attempt - 1, 30));
}

/**
 * Keeps a server process running: whenever it dies other than through `stop()`, `launch` is
 * called again after a growing back-off until a new one is up, and never given up on (a server
 * that answers 503 forever while looking alive is the failure this exists to end). `status()`
 * says what is going on, for a health check.
 *
 * @example
 * const supervisor = supervise(first, launch, { onEvent: (e) => logger.warn(e, e.event) });
 * supervisor.status().state; // 'running'
 */
export function supervise(
  first: Supervised,
  launch: () => Promise<Supervised>,
  options: SupervisorOptions = {},
) {
  let current: Supervised | undefined = first;
  let stopping = false;
  let restarts = 0;
  let lastExit: SupervisorStatus['lastExit'] = null;
  let lastError: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  let restarting: Promise<void> | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      timer = setTimeout(resolve, ms);
    });

  const restart = async (dead: Supervised) => {
    const downAt = Date.now();
    for (let attempt = 1; !stopping; attempt++) {
      await sleep(restartDelayMs(attempt, options.firstDelayMs, options.maxDelayMs));
      if (stopping) return;
      try {
        await options.beforeRestart?.(dead);
        const next = await launch();
        if (stopping) {
          await next.stop();
          return;
        }
        current = next;
        restarts++;
        lastError = null;
        options.onEvent?.({
          event: 'restarted',
          pid: next.pid,
          attempt,
          downMs: Date.now() - downAt,
        });
        watch(next);
        return;
      } catch (err) {
        lastError = (err as Error).message;
        const retryInMs = restartDelayMs(attempt + 1, options.firstDelayMs, options.maxDelayMs);
        options.onEvent?.({ event: 'restart_failed', attempt, error: lastError, retryInMs });
      }
    }
  };

  const watch = (proc: Supervised) => {
    void proc.exited.then((exit) => {
      if (stopping || current !== proc) return;
      current = undefined;
      lastExit = { at: new Date().toISOString(), ...exit };
      options.onEvent?.({ event: 'exited', pid: proc.pid, ...exit });
      if (options.restart === false) return;
      restarting = restart(proc).finally(() => (restarting = undefined));
    });
  };
  watch(first);

  let stopped: Promise<void> | undefined;
  return {
    status(): SupervisorStatus {
      const state = stopping
        ? 'stopped'
        : current
          ? 'running'
          : options.restart === false
            ? 'exited'
            : 'restarting';
      return { state, pid: current?.pid ?? null, restarts, lastExit, lastError };
    },
    /** Stops the process and any restart in progress; no restart follows. */
    stop(): Promise<void> {
      stopped ??= (async () => {
        stopping = true;
        clearTimeout(timer);
        wake?.();
        await restarting;
        await current?.stop();
      })();
      return stopped;
    },
  };
}
