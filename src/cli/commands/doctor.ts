// `fleet doctor`: is every selected node and builder ready for a deploy? Read-only; a block per machine (or NDJSON
// with --json), exit 0 when no check failed, 1 when one did.
import { openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { withHosts } from '../hosts.js';
import { printLine, type CliIo } from '../io.js';

export interface DoctorCliOptions extends FileOptions {
  on?: string;
  json?: boolean;
  askSudoPassword?: boolean;
}

export async function runDoctor(options: DoctorCliOptions, io: CliIo, signal: AbortSignal): Promise<number> {
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, false);
  const sudoPassword = await (await import('../password.js')).sudoPasswordFor(nodes, !!options.askSudoPassword, io);
  const [{ doctorFleet }, { formatDoctorSummary, formatHostReport }, { withEventOutput }] = await Promise.all([
    import('../../doctor/run.js'), import('../../doctor/render.js'), import('../../ui/json.js'),
  ]);
  return withEventOutput(io.stdout, !!options.json, ({ emit, json }) => withHosts(io, signal, async (pool, runLocal) => {
    const result = await doctorFleet(fleet, nodes, {
      pool, run: runLocal, emit, signal, all: options.on === undefined,
      ...(sudoPassword !== undefined ? { sudoPassword } : {}),
      ...(json ? {} : { onReport: (report) => io.stdout.write(`${formatHostReport(report)}\n\n`) }),
    });
    if (!json) printLine(io.stdout, formatDoctorSummary(result.reports));
    return result.exitCode;
  }));
}
