// `fleet nodes`: what a selector picks, with where each node is reached and built.
import { ExitCode } from '../../errors.js';
import { describeBuildHost, openFleet, selectFromFleet, type FileOptions } from '../fleet-file.js';
import { printLine, type CliIo } from '../io.js';

export async function runNodes(options: FileOptions & { on?: string; json?: boolean }, io: CliIo): Promise<number> {
  const fleet = await openFleet(options, io);
  const nodes = await selectFromFleet(fleet, options.on, false);
  const rows = nodes.map((n) => ({ name: n.name, host: n.host, port: n.port ?? null, user: n.user, tags: n.tags, buildHost: describeBuildHost(n) }));
  if (options.json) {
    printLine(io.stdout, JSON.stringify({ nodes: rows }));
    return ExitCode.ok;
  }
  const table = [['NODE', 'HOST', 'PORT', 'USER', 'TAGS', 'BUILD HOST'], ...rows.map((r) => [r.name, r.host, r.port === null ? '-' : String(r.port), r.user, r.tags.join(',') || '-', r.buildHost])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) printLine(io.stdout, row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  return ExitCode.ok;
}
