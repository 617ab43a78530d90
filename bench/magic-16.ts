// magic-16: what magic rollback adds to a healthy 16-node apply on the light lab: `fleet apply` (magic rollback on,
// the default) against `fleet apply --no-magic-rollback`, side by side, fresh systems for every run (nothing
// to build: the difference is activation, the confirmation's new SSH connection and the boot step).
import { writeHive, type StandInSpec } from '../lab/index.js';
import { perRepetition, repeatRotated, wallByContender, type Timed } from './lib/compare.js';
import { expectOutcomes, runFleet } from './lib/fleet.js';
import { countHandshakes, diffCounts, evalOutPaths, hostNames, verifyDeployed, withBaseLab, type BaseLab } from './lib/lab.js';
import { target, writeResult } from './lib/results.js';
import { formatSeconds, repetitions, round, timeIt } from './lib/stats.js';

const HOSTS = hostNames(16);
const CONTENDERS = ['magic', 'no-magic'] as const;
type Contender = (typeof CONTENDERS)[number];
const TARGET_MS = 1000;

interface Sample extends Timed<Contender> {
  handshakesPerHost: number[];
}

const specsFor = (nonce: string): Record<string, StandInSpec> => Object.fromEntries(HOSTS.map((h) => [h, { name: `m-${h}`, nonce }]));

async function measure({ lab, hive, fleetFile, runId }: BaseLab, contender: Contender, r: number): Promise<Sample> {
  await writeHive(hive, specsFor(`${runId}-${r}-${contender}`), lab.witness);
  // Built beforehand (not timed): both contenders then only copy and activate.
  expectOutcomes(await runFleet(['-f', fleetFile, 'apply', 'build', '--json']), ['built']);
  const handshakes = await countHandshakes(lab);
  const args = ['-f', fleetFile, 'apply', '--json', '--parallel', '16', ...(contender === 'no-magic' ? ['--no-magic-rollback'] : [])];
  const { ms, value: run } = await timeIt(() => runFleet(args));
  expectOutcomes(run, ['activated']);
  await verifyDeployed(lab, await evalOutPaths(hive, HOSTS));
  const hs = Object.values(diffCounts(await countHandshakes(lab), handshakes));
  console.error(`magic-16: rep ${r + 1} ${contender.padEnd(8)} ${(ms / 1000).toFixed(2)} s, handshakes/host ${Math.min(...hs)}-${Math.max(...hs)}`);
  return { contender, repetition: r, ms: round(ms, 1), handshakesPerHost: hs };
}

async function main(): Promise<void> {
  const reps = repetitions(7);
  const samples = await withBaseLab(HOSTS, specsFor, (base) => repeatRotated(reps, CONTENDERS, (c, r) => measure(base, c, r)));
  const of = (c: Contender) => samples.filter((s) => s.contender === c);
  const wall = wallByContender(CONTENDERS, samples);
  const added = perRepetition(samples, 'magic', 'no-magic', (magic, noMagic) => magic - noMagic);
  const ratio = round(wall.magic.median / wall['no-magic'].median, 2);
  const hs = (c: Contender) => [...new Set(of(c).flatMap((s) => s.handshakesPerHost))].sort().join(',');
  await writeResult('magic-16', { setup: { hosts: HOSTS.length, repetitions: reps, parallel: 16 }, wallMs: wall, addedMs: added, ratio, samples }, {
    result: `magic ${formatSeconds(wall.magic)}, --no-magic-rollback ${formatSeconds(wall['no-magic'])}; added per run ${round(added.median / 1000, 2)} s [${round(added.min / 1000, 2)}–${round(added.max / 1000, 2)}]; handshakes/host ${hs('magic')} vs ${hs('no-magic')}`,
    targets: [
      target('magic rollback adds < 1 s to a healthy 16-node apply', `${round(added.median / 1000, 2)} s (${ratio}×)`, added.median < TARGET_MS),
      target('handshakes per target: 1 + 1 (master, confirmation)', hs('magic'), hs('magic') === '2'),
    ],
  });
  console.error(`magic-16: magic/no-magic ${ratio}×, added ${round(added.median / 1000, 2)} s per run`);
}

await main();
