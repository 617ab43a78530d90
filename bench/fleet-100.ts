// fleet-100: 100 light hosts, default flags (issue 19). A deploy (4 configurations, 0.5 s builds, fresh each run)
// by `fleet apply` against the floor (every node at once, as in fleet-16) and the sequential loop; then, with every
// host up to date, a no-op `fleet apply` and `fleet status` against their floor (one evaluation, then one ssh per
// node reading its profile and /run/current-system, all at once). fleet's process tree is sampled from /proc while
// it runs: peak ssh clients and memory (node, every ssh, nix). Handshakes per host from the sshd logs.
// Heavy: the deploys run once each (BENCH_REPEAT=3 for more), the read-only pairs 3 times.
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { readSystemState, writeHive, type Lab } from '../lab/index.js';
import { watchTree, type TreePeaks } from '../lab/proctree.js';
import { readEventLines } from '../src/events.js';
import { checkUpToDateFloor, deployFloor, deploySequential, type Deployment } from './lib/contenders.js';
import { perRepetition, repeatRotated, wallByContender } from './lib/compare.js';
import { FLEET_BIN, NIX_ENV, parseSummary, type FleetRun } from './lib/fleet.js';
import { countHandshakes, diffCounts, evalOutPaths, expectUntouched, groupedSpecs, hostNames, readWitness, withBaseLab } from './lib/lab.js';
import { target, writeResult } from './lib/results.js';
import { formatSeconds, readBusyCpuMs, repetitions, round, summarize, timeIt } from './lib/stats.js';

const HOSTS = hostNames(100);
const CONFIGS = 4;
const BUILD_SECONDS = 0.5;
const DEPLOYS = ['floor', 'fleet', 'sequential'] as const; // fleet: `fleet apply --json`, default flags
const CHECKS = ['floor', 'noop', 'status'] as const;
type Deploy = (typeof DEPLOYS)[number];
type Check = (typeof CHECKS)[number];

const specsFor = (nonce: string) => groupedSpecs(HOSTS, CONFIGS, nonce, BUILD_SECONDS);

interface Sampled extends FleetRun {
  peaks: TreePeaks;
}

/** The built CLI with its process tree sampled every 100 ms until it exits. */
async function runSampled(args: string[]): Promise<Sampled> {
  const { ms, value } = await timeIt(async () => {
    const child = execa(process.execPath, [FLEET_BIN, ...args], { reject: false, stdin: 'ignore', timeout: 900_000, env: NIX_ENV });
    const watch = watchTree(child.pid!);
    const r = await child;
    return { r, peaks: watch.stop() };
  });
  return { ms, code: value.r.exitCode ?? -1, stdout: String(value.r.stdout), stderr: String(value.r.stderr), peaks: value.peaks };
}

/** A flag's default as `fleet apply --help` states it (`(default: 10)` in its own entry). */
async function helpDefault(flag: RegExp): Promise<number | undefined> {
  const help = (await execa(process.execPath, [FLEET_BIN, 'apply', '--help'], { env: NIX_ENV })).stdout;
  const entry = help.split(/\n(?= {2}-)/).find((e) => flag.test(e));
  const m = /\(default: (\d+)\)/.exec(entry?.replace(/\s+/g, ' ') ?? '');
  return m ? Number(m[1]) : undefined;
}

interface DeploySample {
  contender: Deploy;
  repetition: number;
  ms: number;
  busyCpuMs: number;
  builds: number;
  verified: number; // hosts whose profile and /run/current-system are the new system
  handshakes: { min: number; max: number };
  outcomes?: Record<string, number>; // fleet: nodes per outcome
  peaks?: TreePeaks;
}

/** Hosts on their new system: a miss is counted, not thrown (issue 19 records rolled-back healthy nodes). */
async function countVerified(lab: Lab, expected: Record<string, string>): Promise<number> {
  const ok = await Promise.all(Object.entries(expected).map(async ([host, out]) => {
    const s = await readSystemState(lab, host);
    return s.current === out && s.profile === out;
  }));
  return ok.filter(Boolean).length;
}

async function measureDeploy(lab: Lab, d: Deployment, fleetFile: string, contender: Deploy, repetition: number, runId: string): Promise<DeploySample> {
  await writeHive(d.hive, specsFor(`${runId}-${repetition}-${contender}`), lab.witness);
  const witnessBefore = (await readWitness(lab)).length;
  const handshakesBefore = await countHandshakes(lab);
  const cpuBefore = await readBusyCpuMs();
  let fleet: Sampled | undefined;
  const { ms } = await timeIt(async () => {
    if (contender === 'floor') await deployFloor(d);
    else if (contender === 'sequential') await deploySequential(d);
    else fleet = await runSampled(['-f', fleetFile, 'apply', '--json']);
  });
  const busyCpuMs = (await readBusyCpuMs()) - cpuBefore;
  const verified = await countVerified(lab, await evalOutPaths(d.hive, HOSTS));
  const builds = (await readWitness(lab)).length - witnessBefore;
  const hs = Object.values(diffCounts(await countHandshakes(lab), handshakesBefore));
  const sample: DeploySample = { contender, repetition, ms: round(ms, 1), busyCpuMs, builds, verified, handshakes: { min: Math.min(...hs), max: Math.max(...hs) } };
  if (fleet) {
    const outcomes: Record<string, number> = {};
    for (const r of Object.values(parseSummary(fleet).nodes)) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    Object.assign(sample, { outcomes, peaks: fleet.peaks });
  }
  console.error(`fleet-100: ${contender.padEnd(10)} ${(ms / 1000).toFixed(1)} s, ${verified}/100 verified, ${builds} builds, handshakes/host ${sample.handshakes.min}-${sample.handshakes.max}${fleet ? `, peak ${fleet.peaks.ssh} ssh, ${Math.round(fleet.peaks.rssKB / 1024)} MB` : ''}`);
  return sample;
}

interface CheckSample {
  contender: Check;
  repetition: number;
  ms: number;
  peaks?: TreePeaks;
}

function checkInSync(r: FleetRun): void {
  if (r.code !== 0) throw new Error(`fleet status exited ${r.code}: ${r.stderr.slice(-2000)}`);
  const states = readEventLines(r.stdout).flatMap((e) => (e.type === 'status' ? [e.state] : []));
  if (states.length !== HOSTS.length || states.some((s) => s !== 'in-sync')) throw new Error(`not every node in-sync: ${[...new Set(states)].join(', ')}`);
}

function checkUnchanged(r: FleetRun): void {
  const wrong = Object.entries(parseSummary(r).nodes).filter(([, n]) => n.outcome !== 'unchanged');
  if (r.code !== 0 || wrong.length > 0) throw new Error(`a no-op apply exited ${r.code}: ${wrong.map(([n, x]) => `${n} ${x.outcome}`).join(', ')}`);
}

async function measureCheck(lab: Lab, d: Deployment, fleetFile: string, contender: Check, repetition: number): Promise<CheckSample> {
  if (contender === 'floor') return { contender, repetition, ms: round((await timeIt(() => checkUpToDateFloor(d))).ms, 1) };
  let peaks: TreePeaks | undefined;
  const args = contender === 'noop' ? ['-f', fleetFile, 'apply', '--json'] : ['-f', fleetFile, 'status', '--json'];
  const ms = await expectUntouched(lab, contender === 'noop' ? 'a no-op apply' : 'fleet status', async () => {
    const r = await runSampled(args);
    peaks = r.peaks;
    return r;
  }, contender === 'noop' ? checkUnchanged : checkInSync);
  console.error(`fleet-100: ${contender.padEnd(10)} ${(ms / 1000).toFixed(1)} s${peaks ? `, peak ${peaks.ssh} ssh, ${Math.round(peaks.rssKB / 1024)} MB` : ''}`);
  return { contender, repetition, ms: round(ms, 1), ...(peaks ? { peaks } : {}) };
}

async function main(): Promise<void> {
  const loadBefore = await readLoad();
  const deployReps = repetitions(1);
  const checkReps = repetitions(3);
  const parallel = (await helpDefault(/--parallel <n>/)) ?? 10;
  const probes = await helpDefault(/--probe[\w-]* <n>/);
  const { deploys, checks } = await withBaseLab(HOSTS, specsFor, async ({ lab, hive, fleetFile, runId }) => {
    const d: Deployment = { hive, sshConfig: lab.sshConfig, nodes: HOSTS };
    const deploys = await repeatRotated(deployReps, DEPLOYS, (c, r) => measureDeploy(lab, d, fleetFile, c, r, runId));
    // Every host up to date (the last deploy's system), then the read-only runs.
    await writeHive(hive, specsFor(`${runId}-${deployReps - 1}-${DEPLOYS[(DEPLOYS.length - 1 + deployReps - 1) % DEPLOYS.length]}`), lab.witness);
    const checks = await repeatRotated(checkReps, CHECKS, (c, r) => measureCheck(lab, d, fleetFile, c, r));
    return { deploys, checks };
  });
  await report(deploys, checks, { deployReps, checkReps, parallel, probes, loadBefore });
}

/** The machine's load average (1, 5, 15 min): the machine is shared, the numbers mean little without it. */
async function readLoad(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

async function report(deploys: DeploySample[], checks: CheckSample[], setup: { deployReps: number; checkReps: number; parallel: number; probes: number | undefined; loadBefore: string }): Promise<void> {
  const wall = wallByContender(DEPLOYS, deploys);
  const checkWall = wallByContender(CHECKS, checks);
  const fleetRuns = deploys.filter((s) => s.contender === 'fleet');
  const fleetOverFloor = round(wall.fleet.median / wall.floor.median, 2);
  const sequentialOverFleet = round(wall.sequential.median / wall.fleet.median, 2);
  const noopOverFloor = round(checkWall.noop.median / checkWall.floor.median, 2);
  const statusOverFloor = round(checkWall.status.median / checkWall.floor.median, 2);
  const allPeaks = [...fleetRuns, ...checks].flatMap((s) => (s.peaks ? [s.peaks] : []));
  const peakSsh = Math.max(...allPeaks.map((p) => p.ssh));
  const peakMB = Math.round(Math.max(...allPeaks.map((p) => p.rssKB)) / 1024);
  const deployPeaks = fleetRuns.map((s) => s.peaks!);
  const bound = 2 * setup.parallel + (setup.probes ?? 0);
  const boundText = setup.probes === undefined ? `2 × ${setup.parallel} (fleet has no probe concurrency flag yet)` : `2 × ${setup.parallel} + ${setup.probes}`;
  const verified = Math.min(...fleetRuns.map((s) => s.verified));
  const rolledBack = Math.max(...fleetRuns.map((s) => s.outcomes?.['rolled-back'] ?? 0));
  const hs = (c: Deploy) => {
    const of = deploys.filter((s) => s.contender === c);
    return `${Math.min(...of.map((s) => s.handshakes.min))}-${Math.max(...of.map((s) => s.handshakes.max))}`;
  };
  await writeResult(
    'fleet-100',
    {
      setup: { hosts: HOSTS.length, configurations: CONFIGS, buildSeconds: BUILD_SECONDS, deployRepetitions: setup.deployReps, checkRepetitions: setup.checkReps, flags: 'defaults', parallel: setup.parallel, probeConcurrency: setup.probes ?? null, loadAverage: { before: setup.loadBefore, after: await readLoad() } },
      deploy: { wallMs: wall, fleetOverFloor, sequentialOverFleet, perRepetition: { fleetOverFloor: perRepetition(deploys, 'fleet', 'floor') } },
      checks: { wallMs: checkWall, noopOverFloor, statusOverFloor, perRepetition: { noopOverFloor: perRepetition(checks, 'noop', 'floor'), statusOverFloor: perRepetition(checks, 'status', 'floor') } },
      peaks: { deploy: deployPeaks, checks: checks.flatMap((s) => (s.peaks ? [{ contender: s.contender, ...s.peaks }] : [])) },
      samples: { deploys, checks },
    },
    {
      result: `deploy: floor ${formatSeconds(wall.floor)}, fleet ${formatSeconds(wall.fleet)}, sequential ${formatSeconds(wall.sequential)} (sequential/fleet ${sequentialOverFleet}×); no-op apply ${formatSeconds(checkWall.noop)}, status ${formatSeconds(checkWall.status)}, their floor ${formatSeconds(checkWall.floor)}; fleet's peak: ${peakSsh} ssh clients, ${peakMB} MB (tree RSS); handshakes/host floor/fleet/sequential ${hs('floor')}/${hs('fleet')}/${hs('sequential')}`,
      targets: [
        target('every host verified on its new system', `${verified}/${HOSTS.length}`, verified === HOSTS.length),
        target('no healthy node rolled back', String(rolledBack), rolledBack === 0),
        target(`peak ssh clients ≤ ${boundText} = ${bound}`, String(peakSsh), peakSsh <= bound),
        target('fleet peak memory (tree) ≤ 500 MB', `${peakMB} MB`, peakMB <= 500),
        target('no-op apply ≤ 1.5× floor', `${noopOverFloor}×`, noopOverFloor <= 1.5),
        target('status ≤ 1.5× floor', `${statusOverFloor}×`, statusOverFloor <= 1.5),
        target('deploy ≤ 1.3× floor', `${fleetOverFloor}×`, fleetOverFloor <= 1.3),
      ],
    },
  );
  console.error(`fleet-100: load average ${setup.loadBefore} before, ${await readLoad()} after`);
  console.error(`fleet-100: fleet/floor ${fleetOverFloor}×, no-op/floor ${noopOverFloor}×, status/floor ${statusOverFloor}×, peak ${peakSsh} ssh, ${peakMB} MB; ${summarize(deploys.map((s) => s.busyCpuMs)).median} ms busy CPU per deploy (median)`);
}

await main();
