// status-16: `fleet status` on 16 nodes that all run what the repo says (one evaluation, one read-only probe
// per node, all at once), against the no-op `fleet apply` of the same fleet. Each run is checked: every node
// in-sync, one SSH handshake per host, nothing built or activated.
import { readEventLines } from '../src/events.js';
import { expectOutcomes, runFleet, type FleetRun } from './lib/fleet.js';
import { expectUntouched, groupedSpecs, hostNames, withBaseLab } from './lib/lab.js';
import { target, writeResult } from './lib/results.js';
import { formatSeconds, repeat, repetitions, round, summarize } from './lib/stats.js';

const HOSTS = hostNames(16);

const specsFor = (nonce: string) => groupedSpecs(HOSTS, 4, nonce);

function checkAllInSync(r: FleetRun): void {
  if (r.code !== 0) throw new Error(`fleet status exited ${r.code}: ${r.stderr}`);
  const states = readEventLines(r.stdout).flatMap((e) => (e.type === 'status' ? [e.state] : []));
  if (states.length !== HOSTS.length || states.some((s) => s !== 'in-sync')) throw new Error(`not every node in-sync: ${states.join(', ')}`);
}

async function main(): Promise<void> {
  const reps = repetitions(5);
  const { status, noop } = await withBaseLab(HOSTS, specsFor, async ({ lab, fleetFile }) => ({
    status: await repeat(reps, () => expectUntouched(lab, 'fleet status', () => runFleet(['-f', fleetFile, 'status', '--json']), checkAllInSync)),
    noop: await repeat(reps, () => expectUntouched(lab, 'a no-op apply', () => runFleet(['-f', fleetFile, 'apply', '--json', '--parallel', '16']), (r) => void expectOutcomes(r, ['unchanged']))),
  }));
  const wall = { status: summarize(status), noopApply: summarize(noop) };
  const ratio = round(wall.status.median / wall.noopApply.median, 2);
  console.error(`status-16: status ${formatSeconds(wall.status)}, no-op apply ${formatSeconds(wall.noopApply)}`);
  await writeResult(
    'status-16',
    { setup: { hosts: HOSTS.length, repetitions: reps }, wallMs: wall, statusOverNoopApply: ratio },
    {
      result: `status ${formatSeconds(wall.status)}, no-op apply ${formatSeconds(wall.noopApply)} (status/apply ${ratio}×)`,
      targets: [target('status of 16 nodes < 2 s', `${(wall.status.median / 1000).toFixed(2)} s`, wall.status.median < 2000)],
    },
  );
}

await main();
