// The one place ink takes the terminal, and gives it back: on the result, on an error, on a forced quit.
import { render, type Instance } from 'ink';
import type { ReactElement } from 'react';
import type { Terminal } from '../../terminal.js';

export interface Mounted {
  /** Draw this element instead (ink diffs the frames). */
  update(node: ReactElement): void;
  /** Unmount, raw mode off, cursor shown; idempotent and synchronous (a forced quit calls it right before exit). */
  restore(): void;
  /** Settles when ink has unmounted (the last frame stays on the screen). */
  readonly exited: Promise<void>;
}

export function mount(terminal: Terminal, node: ReactElement): Mounted {
  // Ctrl+C is the UI's to read (raw mode) and to send as `abort`: ink must not exit on it by itself.
  const instance: Instance = render(node, { stdin: terminal.stdin, stdout: terminal.stdout, stderr: terminal.stderr, exitOnCtrlC: false, patchConsole: false });
  let restored = false;
  const exited = instance.waitUntilExit().then(() => undefined, () => undefined);
  return {
    update: (next) => {
      if (!restored) instance.rerender(next);
    },
    restore() {
      if (restored) return;
      restored = true;
      instance.unmount();
      // ink does this on unmount; again here, so that no way out leaves a raw terminal without a cursor.
      if (terminal.stdin.isTTY) terminal.stdin.setRawMode(false);
      terminal.stdout.write('\u001b[?25h');
    },
    exited,
  };
}
