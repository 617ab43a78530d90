// The terminal fleet draws on and asks on, as types: the CLI opens it, the ink UI draws on it, prompts read it.

/** Present only when stdin and stdout are both a terminal: what `-i` and `--watch` draw on. */
export interface Terminal {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** A terminal to ask on: raw mode, so nothing typed is echoed. */
export interface PasswordTerminal {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  removeListener(event: 'data', listener: (chunk: Buffer) => void): unknown;
  resume(): unknown;
  pause(): unknown;
}
