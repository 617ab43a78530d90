// `pause: confirm`: ask on the terminal before the next wave; only an explicit yes goes on.
import type { PasswordTerminal } from '../cli/password.js';

const EOT = '\u0004'; // Ctrl+D on a line of its own in raw input

/** Writes `question [y/N] ` to `out` and reads one line from the terminal (cooked mode: the tty echoes and edits it).
 *  `y`/`yes` (any case) → true; anything else, end of input or the signal firing → false. */
export function askToContinue(terminal: PasswordTerminal, out: NodeJS.WritableStream, question: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    let line = '';
    const finish = (answer: boolean) => {
      terminal.removeListener('data', onData);
      signal?.removeEventListener('abort', onAbort);
      terminal.pause();
      resolve(answer);
    };
    const onData = (chunk: Buffer) => {
      line += chunk.toString('utf8');
      const end = Math.min(...['\n', '\r', EOT].map((c) => line.indexOf(c)).filter((i) => i >= 0));
      if (end !== Infinity) finish(/^\s*y(es)?\s*$/i.test(line.slice(0, end)));
    };
    const onAbort = () => finish(false);
    if (signal?.aborted) return resolve(false);
    signal?.addEventListener('abort', onAbort, { once: true });
    out.write(`${question} [y/N] `);
    terminal.on('data', onData);
    terminal.resume();
  });
}
