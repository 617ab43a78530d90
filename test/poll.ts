// A bounded poll for unit and lab tests: waits until a condition holds, never for a fixed duration.
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves once `cond` holds; throws naming `what` when it still does not after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, { timeoutMs = 30_000, everyMs = 100 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
