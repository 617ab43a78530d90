// fleet-16: 16 lab hosts, 4 distinct configurations (4 nodes each), 0.5 s of build work each.
// Contenders from the same starting state (targets on an older generation, new systems never built or
// copied: fresh nonces per repetition and contender): the sequential loop, the floor, `fleet apply` (tuned,
// as typed, and as typed with --no-magic-rollback).
import { writeHive, type Lab } from '../lab/index.js';
import { deployFloor, deploySequential, type Deployment } from './lib/contenders.js';
import { perRepetition, repeatRotated, wallByContender, type Timed } from './lib/compare.js';
import { expectOutcomes, runFleet } from './lib/fleet.js';
import { countHandshakes, countSessions, diffCounts, evalOutPaths, groupedSpecs, hostNames, readWitness, verifyDeployed, withBaseLab } from './lib/lab.js';
import { target, writeResult } from './lib/results.js';
import { formatSeconds, readBusyCpuMs, repetitions, round, summarize, timeIt } from './lib/stats.js';
import { readTimeline, type Timeline } from './lib/timeline.js';

const HOSTS = hostNames(16);
const CONFIGS = 4;
const BUILD_SECONDS = 0.5;
// fleet: --parallel 16 --max-jobs 4 (as the floor); fleet-default: `fleet apply` as a user types it;
// fleet-nomagic: the same with --no-magic-rollback (no confirmation over a new connection, no boot step).
const CONTENDERS = ['sequential', 'floor', 'fleet', 'fleet-default', 'fleet-nomagic'] as const;
type Contender = (typeof CONTENDERS)[number];

interface Sample extends Timed<Contender> {
  busyCpuMs: number; // whole machine, during the run
  builds: number;
  handshakes: Record<string, number>;
  sessions: Record<string, number>;
  timeline?: Timeline;
}

const specsFor = (nonce: string) => groupedSpecs(HOSTS, CONFIGS, nonce, BUILD_SECONDS);

async function deployWith(contender: Contender, d: Deployment, fleetFile: string): Promise<Timeline | undefined> {
  if (contender === 'sequential') return void (await deploySequential(d));
  if (contender === 'floor') return void (await deployFloor(d));
  // --max-jobs as the floor's: both let Nix build the distinct derivations at once; the default is auto.
  const flags = contender === 'fleet' ? ['--parallel', String(HOSTS.length), '--max-jobs', String(CONFIGS)] : contender === 'fleet-nomagic' ? ['--no-magic-rollback'] : [];
  const run = await runFleet(['-f', fleetFile, 'apply', '--json', ...flags]);
  expectOutcomes(run, ['activated']);
  return readTimeline(run.stdout);
}

async function measure(lab: Lab, d: Deployment, fleetFile: string, contender: Contender, repetition: number, runId: string): Promise<Sample> {
  await writeHive(d.hive, specsFor(`${runId}-${repetition}-${contender}`), lab.witness);
  const witnessBefore = (await readWitness(lab)).length;
  const handshakesBefore = await countHandshakes(lab);
  const sessionsBefore = await countSessions(lab);
  const cpuBefore = await readBusyCpuMs();
  const { ms, value: timeline } = await timeIt(() => deployWith(contender, d, fleetFile));
  const busyCpuMs = (await readBusyCpuMs()) - cpuBefore;
  const expected = await evalOutPaths(d.hive, HOSTS);
  if (new Set(Object.values(expected)).size !== CONFIGS) throw new Error('expected 4 distinct systems');
  await verifyDeployed(lab, expected);
  const builds = (await readWitness(lab)).length - witnessBefore;
  const handshakes = diffCounts(await countHandshakes(lab), handshakesBefore);
  const sessions = diffCounts(await countSessions(lab), sessionsBefore);
  const range = (counts: Record<string, number>) => `${Math.min(...Object.values(counts))}-${Math.max(...Object.values(counts))}`;
  console.error(`fleet-16: rep ${repetition + 1} ${contender.padEnd(13)} ${(ms / 1000).toFixed(2)} s, ${builds} builds, handshakes/host ${range(handshakes)}, sessions/host ${range(sessions)}`);
  return { contender, repetition, ms: round(ms, 1), busyCpuMs, builds, handshakes, sessions, ...(timeline ? { timeline } : {}) };
}

async function main(): Promise<void> {
  const reps = repetitions(5);
  // The starting state: every host on an older generation (not timed).
  const samples = await withBaseLab(HOSTS, specsFor, ({ lab, hive, fleetFile, runId }) => {
    const d: Deployment = { hive, sshConfig: lab.sshConfig, nodes: HOSTS };
    return repeatRotated(reps, CONTENDERS, (contender, r) => measure(lab, d, fleetFile, contender, r, runId));
  });
  await report(samples, reps);
}

async function report(samples: Sample[], reps: number): Promise<void> {
  const of = (c: Contender) => samples.filter((s) => s.contender === c);
  const wall = wallByContender(CONTENDERS, samples);
  const seqOverFleet = round(wall.sequential.median / wall.fleet.median, 2);
  const fleetOverFloor = round(wall.fleet.median / wall.floor.median, 2);
  const seqOverDefault = round(wall.sequential.median / wall['fleet-default'].median, 2);
  const defaultOverFloor = round(wall['fleet-default'].median / wall.floor.median, 2);
  const nomagicOverFloor = round(wall['fleet-nomagic'].median / wall.floor.median, 2);
  // The best any orchestrator can do against the loop here: the ceiling for the "5× sequential" target.
  const seqOverFloor = round(wall.sequential.median / wall.floor.median, 2);
  const rangeOf = (c: Contender, what: 'handshakes' | 'sessions') => {
    const all = of(c).flatMap((s) => Object.values(s[what]));
    return { min: Math.min(...all), max: Math.max(...all) };
  };
  const handshakesRange = (c: Contender) => rangeOf(c, 'handshakes');
  const sessionsRange = (c: Contender) => rangeOf(c, 'sessions');
  const shown = (r: { min: number; max: number }) => (r.min === r.max ? String(r.max) : `${r.min}-${r.max}`);
  const contenders = Object.fromEntries(
    CONTENDERS.map((c) => [c, { wallMs: wall[c], busyCpuMs: summarize(of(c).map((s) => s.busyCpuMs)), builds: of(c).map((s) => s.builds), handshakesPerHost: handshakesRange(c), sessionsPerHost: sessionsRange(c) }]),
  );
  const fleetBuilds = of('fleet').map((s) => s.builds);
  const fleetHs = handshakesRange('fleet');
  const defaultSessions = sessionsRange('fleet-default');
  await writeResult(
    'fleet-16',
    {
      setup: { hosts: HOSTS.length, configurations: CONFIGS, buildSeconds: BUILD_SECONDS, repetitions: reps, parallel: HOSTS.length, maxJobs: CONFIGS, homes: 'each lab host has its own empty /root (lab/host.ts)' },
      contenders,
      ratios: {
        sequentialOverFleet: seqOverFleet, fleetOverFloor, sequentialOverFloor: seqOverFloor, sequentialOverFleetDefault: seqOverDefault, fleetDefaultOverFloor: defaultOverFloor, fleetNomagicOverFloor: nomagicOverFloor,
        perRepetition: {
          sequentialOverFleet: perRepetition(samples, 'sequential', 'fleet'), fleetOverFloor: perRepetition(samples, 'fleet', 'floor'),
          fleetDefaultOverFloor: perRepetition(samples, 'fleet-default', 'floor'), fleetNomagicOverFloor: perRepetition(samples, 'fleet-nomagic', 'floor'),
        },
      },
      samples,
    },
    {
      result: `sequential ${formatSeconds(wall.sequential)}, floor ${formatSeconds(wall.floor)}, fleet ${formatSeconds(wall.fleet)}, fleet with default flags ${formatSeconds(wall['fleet-default'])}, with --no-magic-rollback ${formatSeconds(wall['fleet-nomagic'])}; builds seq/floor/fleet/default/nomagic ${CONTENDERS.map((c) => of(c)[0]!.builds).join('/')}; handshakes/host ${CONTENDERS.map((c) => handshakesRange(c).max).join('/')}; sessions/host ${CONTENDERS.map((c) => sessionsRange(c).max).join('/')}; sequential/floor ${seqOverFloor}× (the ceiling of sequential/fleet)`,
      targets: [
        // Issue 17's targets, side by side in one run, default flags.
        target('fleet (default flags)/floor ≤ 1.3', `${defaultOverFloor}×`, defaultOverFloor <= 1.3),
        target('fleet --no-magic-rollback (default flags)/floor ≤ 1.1', `${nomagicOverFloor}×`, nomagicOverFloor <= 1.1),
        target('sequential/fleet (default flags) ≥ 2.5', `${seqOverDefault}×`, seqOverDefault >= 2.5),
        target('fleet (--parallel 16 --max-jobs 4)/floor ≤ 1.2', `${fleetOverFloor}×`, fleetOverFloor <= 1.2),
        target('builds = 4', fleetBuilds.join(','), fleetBuilds.every((b) => b === CONFIGS)),
        // The master, and magic rollback's confirmation over a connection of its own.
        target('handshakes per target = 1 + 1', shown(fleetHs), fleetHs.min === 2 && fleetHs.max === 2),
        // Over the master: probe, copy, activation, the last call (record, lock); and the confirmation.
        target('sessions per target ≤ 4 + 1 (default flags)', shown(defaultSessions), defaultSessions.max <= 5),
      ],
    },
  );
  console.error(`fleet-16: sequential/fleet ${seqOverFleet}×, fleet/floor ${fleetOverFloor}×, fleet-default/floor ${defaultOverFloor}×, fleet-nomagic/floor ${nomagicOverFloor}×, sequential/fleet-default ${seqOverDefault}×, sequential/floor ${seqOverFloor}×`);
}

await main();
