// `fleet status --watch`: the status table of the latest complete refresh, redrawn in place.
import type { FleetEvent } from '../../events.js';
import type { SteerCommand } from '../../steer.js';
import type { Terminal } from '../../cli/io.js';

export interface StatusWatch {
  /** Every event of every refresh, in order; a `run-start` begins a refresh. */
  onEvent(e: FleetEvent): void;
  notice(text: string): void;
  restore(): void;
  /** The watch ends: unmount, terminal back. */
  finish(): Promise<void>;
}

/** q sends `quit`, Ctrl+C `abort`. */
export function createStatusWatch(_terminal: Terminal, _options: { intervalMs: number }, _send: (command: SteerCommand) => void): StatusWatch {
  throw new Error('the status watch is being built (issue 12)');
}
