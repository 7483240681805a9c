/** Waiting in benches: plain sleeps, deadlines on the monotonic clock, and polling. */

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Resolves when the monotonic clock (performance.now()) reaches `deadline`. */
export const sleepUntil = (deadline: number): Promise<void> => sleep(deadline - performance.now());

/** Polls `fn` every `everyMs` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number, everyMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Seconds in milliseconds, for messages (`60 s`, `1.5 s`). */
export const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;
