// Reading the fleet file from disk; a missing, unreadable or non-regular file is a config error at 1:1, never a stack trace.
import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type Diagnostic } from '../errors.js';
import { parseFleet } from './parse.js';
import { probePath } from './paths.js';
import type { ResolvedFleet } from './types.js';

/** Reads and parses a fleet file; diagnostics name its absolute path; paths it names are checked on disk. */
export async function loadFleet(file: string): Promise<ResolvedFleet> {
  const abs = path.resolve(file);
  return parseFleet(await readFleetText(abs), abs, probePath);
}

/** The file's text; a FIFO, device or directory is refused before it is opened for reading (a FIFO would block forever). */
async function readFleetText(abs: string): Promise<string> {
  const fail = (message: string) => new ConfigError([{ file: abs, line: 1, col: 1, severity: 'error', message }]);
  try {
    const before = await stat(abs);
    if (!before.isFile()) throw fail(notRegular(before));
    // O_NONBLOCK: if the path was swapped for a FIFO since the stat, open returns at once and fstat refuses it.
    const handle = await open(abs, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const opened = await handle.stat();
      if (!opened.isFile()) throw fail(notRegular(opened));
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(
      code === 'ENOENT'
        ? 'the fleet file does not exist (point at one with -f/--file or FLEET_FILE)'
        : `cannot read the fleet file: ${(e as Error).message}`,
    );
  }
}

function notRegular(stats: Stats): string {
  const kind = stats.isDirectory()
    ? 'a directory'
    : stats.isFIFO()
      ? 'a FIFO (named pipe)'
      : stats.isSocket()
        ? 'a socket'
        : stats.isCharacterDevice() || stats.isBlockDevice()
          ? 'a device'
          : 'a special file';
  return `cannot read the fleet file: it is ${kind}, not a regular file; point -f/--file or FLEET_FILE at a YAML file`;
}

/** For `fleet check`: every error and warning, and whether the file is usable. */
export async function checkFleetFile(file: string): Promise<{ ok: boolean; diagnostics: Diagnostic[] }> {
  try {
    const fleet = await loadFleet(file);
    return { ok: true, diagnostics: fleet.warnings };
  } catch (e) {
    if (e instanceof ConfigError) return { ok: false, diagnostics: e.diagnostics };
    throw e;
  }
}
