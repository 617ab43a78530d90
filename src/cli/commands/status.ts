// `fleet status`: what runs where, against what the fleet file wants; a table, or NDJSON with --json.
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import { printLine, type CliIo } from '../io.js';

export interface StatusCliOptions extends FileOptions {
  on?: string;
  json?: boolean;
  exitCode?: boolean;
  showTrace?: boolean;
}

export async function runStatus(options: StatusCliOptions, io: CliIo, signal: AbortSignal): Promise<number> {
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, false);
  const [{ statusFleet }, { formatStatus }, { withEventOutput }] = await Promise.all([
    import('../../status/run.js'), import('../../status/format.js'), import('../../ui/json.js'),
  ]);
  return withEventOutput(io.stdout, !!options.json, ({ runId, emit, json }) => withHosts(io, signal, async (pool, runLocal) => {
    const result = await statusFleet(fleet, nodes, { runId, showTrace: !!options.showTrace, exitCode: !!options.exitCode, run: runLocal, pool, signal, emit });
    if (!json) {
      printLine(io.stdout, formatStatus(result.statuses));
      for (const f of result.failures) printLine(io.stderr, `error: ${f.message}`);
    }
    return result.exitCode;
  }));
}
