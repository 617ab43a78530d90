// Reading the fleet file from disk; a missing or unreadable file is a config error at 1:1, never a stack trace.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type Diagnostic } from '../errors.js';
import { parseFleet } from './parse.js';
import type { ResolvedFleet } from './types.js';

/** Reads and parses a fleet file; diagnostics name its absolute path. */
export async function loadFleet(file: string): Promise<ResolvedFleet> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? 'the fleet file does not exist (point at one with -f/--file or FLEET_FILE)'
        : `cannot read the fleet file: ${code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`;
    throw new ConfigError([{ file: abs, line: 1, col: 1, severity: 'error', message }]);
  }
  return parseFleet(text, abs);
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
