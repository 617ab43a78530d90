// A run's own stop: the user's Ctrl+C / SIGTERM fires it, and the run may fire it itself (fail-fast) without
// aborting its caller's signal.
import { setMaxListeners } from 'node:events';

/** Aborts with `signal` (at once if it already has); any number of running commands may listen to it. */
export function linkedStop(signal: AbortSignal): AbortController {
  const stop = new AbortController();
  setMaxListeners(0, stop.signal); // every running command listens to it
  if (signal.aborted) stop.abort();
  else signal.addEventListener('abort', () => stop.abort(), { once: true });
  return stop;
}
