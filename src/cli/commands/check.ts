// `fleet check`: every problem of the fleet file in one run, as FILE:LINE:COL: message.
import { ExitCode, formatDiagnostic } from '../../errors.js';
import { locateFleetFile, type FileOptions } from '../fleet-file.js';
import { printLine, type CliIo } from '../io.js';

export async function runCheck(options: FileOptions & { json?: boolean }, io: CliIo): Promise<number> {
  const { checkFleetFile } = await import('../../config/index.js');
  const file = locateFleetFile(options, io);
  const result = await checkFleetFile(file);
  if (options.json) {
    printLine(io.stdout, JSON.stringify({ file, ok: result.ok, diagnostics: result.diagnostics }));
  } else {
    for (const d of result.diagnostics) printLine(io.stderr, formatDiagnostic(d));
    if (result.ok) printLine(io.stdout, `${file}: ok`);
  }
  return result.ok ? ExitCode.ok : ExitCode.usage;
}
