import { OpenAiError } from './errors.ts';

/**
 * At most `concurrency` generations at once, at most `queue` more waiting in arrival order, and a
 * 429 for the one after: a burst waits its turn instead of slowing every request down together,
 * and a client that went away leaves its place in the line.
 *
 * @example
 * const limiter = new ServeLimiter(4, 64);
 * const release = await limiter.acquire(c.req.raw.signal);
 * try { ... } finally { release(); }
 */
export class ServeLimiter {
  #active = 0;
  readonly #waiting: { grant: () => void }[] = [];

  constructor(
    readonly concurrency: number,
    readonly queue: number,
  ) {}

  get active() {
    return this.#active;
  }

  get waiting() {
    return this.#waiting.length;
  }

  /** Resolves with the slot's release function once a slot is free; release exactly once. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      // The slot passes straight to the next in line, so a newcomer cannot overtake it.
      if (next) next.grant();
      else this.#active--;
    };
    if (this.#active < this.concurrency) {
      this.#active++;
      return Promise.resolve(release);
    }
    if (this.#waiting.length >= this.queue) {
      return Promise.reject(
        new OpenAiError(
          429,
          `the server is busy: ${this.#active} requests generating and ${this.#waiting.length} waiting (HELDOUT_SERVE_CONCURRENCY=${this.concurrency}, HELDOUT_SERVE_QUEUE=${this.queue}); retry shortly`,
          { code: 'rate_limit_exceeded' },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', leave);
          resolve(release);
        },
      };
      const leave = () => {
        const at = this.#waiting.indexOf(entry);
        if (at >= 0) this.#waiting.splice(at, 1);
        // Nobody reads this answer; it only keeps a cancelled wait from looking like a failure.
        reject(new OpenAiError(408, 'the client went away while waiting', { code: 'cancelled' }));
      };
      if (signal?.aborted) return leave();
      signal?.addEventListener('abort', leave, { once: true });
      this.#waiting.push(entry);
    });
  }
}
