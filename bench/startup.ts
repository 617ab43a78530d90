// startup: a cold `fleet` process (new process each time; the OS file cache is warm) for `--help` and for
// `fleet nodes` on the example fleet, against bare `node -e 0` for scale.
import { execa } from 'execa';
import { FLEET_BIN, REPO } from './lib/fleet.js';
import { target, writeResult } from './lib/results.js';
import { formatMs, repeat, repetitions, round, summarize, timeIt } from './lib/stats.js';

const EXAMPLE = `${REPO}fleet.example.yaml`;
const HELP_LIMIT_MS = 200;

async function timeProcess(argv: string[], check: (stdout: string) => boolean): Promise<number> {
  const { ms, value: r } = await timeIt(() => execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore', cwd: REPO }));
  if (r.exitCode !== 0 || !check(String(r.stdout))) throw new Error(`${argv.join(' ')} exited ${r.exitCode}: ${String(r.stderr).slice(0, 1000)}`);
  return ms;
}

async function main(): Promise<void> {
  const reps = repetitions(20);
  const node = process.execPath;
  // Interleaved, so a burst of load on this shared machine hits all three alike.
  const samples = await repeat(reps, async () => ({
    bare: await timeProcess([node, '-e', '0'], () => true),
    help: await timeProcess([node, FLEET_BIN, '--help'], (out) => out.includes('Usage: fleet')),
    nodes: await timeProcess([node, FLEET_BIN, '-f', EXAMPLE, 'nodes'], (out) => /web-1/.test(out) && /db-1/.test(out)),
  }));
  const wall = {
    nodeBare: summarize(samples.map((s) => s.bare)),
    help: summarize(samples.map((s) => s.help)),
    nodesExample: summarize(samples.map((s) => s.nodes)),
  };
  console.error(`startup: node -e 0 ${formatMs(wall.nodeBare)}, --help ${formatMs(wall.help)}, nodes ${formatMs(wall.nodesExample)}`);
  await writeResult(
    'startup',
    { setup: { repetitions: reps, fleetFile: 'fleet.example.yaml', cold: 'a new process per run; OS file cache warm' }, wallMs: wall },
    {
      result: `--help ${formatMs(wall.help)}, nodes (example fleet) ${formatMs(wall.nodesExample)}; bare node ${formatMs(wall.nodeBare)}`,
      targets: [target(`--help < ${HELP_LIMIT_MS} ms`, `${round(wall.help.median, 0)} ms`, wall.help.median < HELP_LIMIT_MS)],
    },
  );
}

await main();
