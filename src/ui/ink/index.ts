// The interactive terminal UI (ink): `fleet apply -i` / `fleet rollback -i` and `fleet status --watch`.
// It reads only the run view (src/ui/view.ts) and sends only commands (src/steer.ts); it never calls deploy.
import type { FleetEvent } from '../../events.js';
import type { SteerCommand } from '../../steer.js';
import type { Terminal } from '../../cli/io.js';
import type { Renderer } from '../renderer.js';

export interface InteractiveRenderer extends Renderer {
  /** A line for the person (the Ctrl+C notice, warnings), shown inside the UI instead of across it. */
  notice(text: string): void;
  /** Unmount and give the terminal back (raw mode off, cursor shown); idempotent and synchronous (a forced quit). */
  restore(): void;
}

/** `apply -i`: plan review, live rollout, result; `finish()` shows the result and restores the terminal. */
export function createInteractiveRenderer(_terminal: Terminal, _send: (command: SteerCommand) => void): InteractiveRenderer {
  throw new Error('the interactive UI is being built (issue 12)');
}

export interface StatusWatch {
  /** Every event of every refresh, in order; a `run-start` begins a refresh. */
  onEvent(e: FleetEvent): void;
  notice(text: string): void;
  restore(): void;
  /** The watch ends: unmount, terminal back. */
  finish(): Promise<void>;
}

/** `status --watch`: the status table of the latest complete refresh; q sends `quit`, Ctrl+C `abort`. */
export function createStatusWatch(_terminal: Terminal, _options: { intervalMs: number }, _send: (command: SteerCommand) => void): StatusWatch {
  throw new Error('the status watch is being built (issue 12)');
}
