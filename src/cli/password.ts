// The sudo password, given once: from FLEET_SUDO_PASSWORD_FILE (CI) or asked on the terminal without echo.
import { readFile } from 'node:fs/promises';
import type { ResolvedNode } from '../config/types.js';
import { UsageError } from '../errors.js';
import type { PasswordTerminal } from '../terminal.js';
import type { CliIo } from './io.js';

export async function readSudoPassword(ask: boolean, io: CliIo, terminal: PasswordTerminal | undefined): Promise<string | undefined> {
  const file = io.env.FLEET_SUDO_PASSWORD_FILE;
  if (file !== undefined && file !== '') {
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`FLEET_SUDO_PASSWORD_FILE: cannot read ${file}: ${error.code ?? error.message}`);
    });
    return text.replace(/\r?\n$/, ''); // one trailing newline is the file's, not the password's
  }
  if (!ask) return undefined;
  if (!terminal?.isTTY || !terminal.setRawMode) {
    throw new UsageError('--ask-sudo-password needs a terminal to ask on; in CI put the password in a file and set FLEET_SUDO_PASSWORD_FILE');
  }
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (error?: Error) => {
      terminal.setRawMode!(false);
      terminal.removeListener('data', onData);
      terminal.pause();
      io.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('no sudo password given (Ctrl+C)'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    // Raw (no echo) before the prompt shows: a person who types right away must never see the password echoed.
    terminal.setRawMode!(true);
    terminal.on('data', onData);
    terminal.resume();
    io.stderr.write('sudo password for the targets: ');
  });
}

/** `sudo -S` is how the password reaches the targets: refuse before anything starts if a node escalates otherwise. */
export function checkPasswordEscalation(nodes: readonly ResolvedNode[]): void {
  const other = nodes.filter((n) => n.user !== 'root' && n.privilegeEscalation[0] !== 'sudo');
  if (other.length > 0) {
    throw new UsageError(`a sudo password was given, but ${other.map((n) => n.name).join(', ')} escalate with ${other[0]!.privilegeEscalation[0]}, not sudo`);
  }
}

/** The password for these nodes, if one is given (or asked for): read once, and refused before anything starts when a
 *  node escalates with something other than sudo. Every command that may send one goes through here. */
export async function sudoPasswordFor(nodes: readonly ResolvedNode[], ask: boolean, io: CliIo): Promise<string | undefined> {
  const password = await readSudoPassword(ask, io, io.stdin);
  if (password !== undefined) checkPasswordEscalation(nodes);
  return password;
}
