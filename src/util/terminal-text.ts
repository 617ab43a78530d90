// Text from targets (logs, errors, paths) shown to a person: it must not drive the terminal (title, clear, cursor).

// ESC and 8-bit C1 sequences: OSC/DCS/SOS/PM/APC strings up to their terminator (or the end), CSI, two-byte ESC.
const escapeSequence = new RegExp(
  [
    '(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)?',
    '(?:\\x1b\\[|\\x9b)[0-?]*[ -/]*[@-~]',
    '\\x1b[ -/]*[0-~]',
  ].join('|'),
  'g',
);
// Every control character left, except tab: C0 (with \n and \r: a line stays one line), DEL, C1.
const control = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/g; // eslint-disable-line no-control-regex

/** One line as a terminal should show it: escape sequences dropped, other controls visible (`^M`, `^G`, `\x85`). */
export function forTerminal(text: string): string {
  return text
    .replace(/\r+$/, '') // CRLF output: the \r says nothing
    .replace(escapeSequence, '')
    .replace(control, (c) => {
      const code = c.charCodeAt(0);
      if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
      if (code === 0x7f) return '^?';
      return `\\x${code.toString(16)}`;
    });
}

/** Text that is nothing but escape sequences (a cursor move, show or hide): it draws nothing, it drives a terminal. */
export function onlyEscapeSequences(text: string): boolean {
  return text !== '' && text.replace(escapeSequence, '') === '';
}

/** For a screen that lays lines out itself (ink): as forTerminal, with \r dropped (ssh ends its words with it) and
 *  tabs and line breaks as spaces (a width ink cannot measure would break the columns). */
export function oneLine(text: string): string {
  return forTerminal(text.replace(/\r/g, '').replace(/[\t\n]/g, ' '));
}

/** `error: <message>`, a node's failure as the CLI prints it on stderr (the watch: with oneLine): each line cleaned
 *  (a target's or Nix's words must not drive the terminal), Nix's lines kept. */
export function errorLines(message: string, clean: (line: string) => string = forTerminal): string {
  return `error: ${message.split('\n').map(clean).join('\n')}`;
}
