// `fleet apply -i`: the renderer the CLI gets; folds events into the run view and draws it with ink.
import type { SteerCommand } from '../../steer.js';
import type { Terminal } from '../../cli/io.js';
import type { Renderer } from '../renderer.js';

export interface InteractiveRenderer extends Renderer {
  /** A line for the person (the Ctrl+C notice), shown inside the UI instead of across it. */
  notice(text: string): void;
  /** Unmount and give the terminal back (raw mode off, cursor shown); idempotent and synchronous (a forced quit). */
  restore(): void;
}

/** Plan review, live rollout, result; `finish()` shows the result and restores the terminal. */
export function createInteractiveRenderer(_terminal: Terminal, _send: (command: SteerCommand) => void): InteractiveRenderer {
  throw new Error('the interactive UI is being built (issue 12)');
}
