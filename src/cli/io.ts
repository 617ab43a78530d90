// What commands may touch of the outside world; passed in so tests can capture it.
import type { PasswordTerminal, Terminal } from '../terminal.js';

export interface CliIo {
  /** The terminal to ask on (--ask-sudo-password); absent in tests and pipes. */
  stdin?: PasswordTerminal;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Present only when stdin and stdout are both a terminal: what `-i` and `--watch` draw on. */
  tty?: Terminal;
}

export function printLine(stream: NodeJS.WritableStream, text: string): void {
  stream.write(text.endsWith('\n') ? text : `${text}\n`);
}
