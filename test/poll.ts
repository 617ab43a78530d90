// Bounded polls for unit and lab tests: they wait until a condition holds, never for a fixed duration.
import { setTimeout as sleep } from 'node:timers/promises';

export interface PollOptions {
  timeoutMs?: number; // default 30 s
  everyMs?: number; // default 100 ms
}

/** True once `cond` holds, false when it still does not after `timeoutMs`: for a test that asserts with its own message. */
export async function eventually(cond: () => boolean | Promise<boolean>, { timeoutMs = 30_000, everyMs = 100 }: PollOptions = {}): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** Resolves once `cond` holds; throws naming `what` when it still does not after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, opts: PollOptions = {}): Promise<void> {
  if (!(await eventually(cond, opts))) throw new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${what}`);
}
