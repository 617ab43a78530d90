// rollout-16: what a staged rollout costs. The same 16-node apply as fleet-16 (4 configurations, 0.5 s builds, light
// lab, no health checks) in three ways from the same starting state: `fleet apply` (one wave, not staged), `--waves
// 100%` (staged, one wave) and `--waves 1,3,100%` (waves of 1, 3 and 12 nodes, one after the other).
import { writeHive, type Lab } from '../lab/index.js';
import { readEventLines, type FleetEvent } from '../src/events.js';
import { perRepetition, repeatRotated, wallByContender, type Timed } from './lib/compare.js';
import { expectOutcomes, runFleet } from './lib/fleet.js';
import { evalOutPaths, groupedSpecs, hostNames, readWitness, verifyDeployed, withBaseLab } from './lib/lab.js';
import { target, writeResult } from './lib/results.js';
import { formatSeconds, repetitions, round, summarize, timeIt } from './lib/stats.js';
import { readTimeline } from './lib/timeline.js';

const HOSTS = hostNames(16);
const CONFIGS = 4;
const BUILD_SECONDS = 0.5;
const WAVES = '1,3,100%';
const WAVE_SIZES = [1, 3, 12];
const CONTENDERS = ['apply', 'one-wave', 'waves'] as const;
type Contender = (typeof CONTENDERS)[number];
const FLAGS: Record<Contender, string[]> = { apply: [], 'one-wave': ['--waves', '100%'], waves: ['--waves', WAVES] };
/** "A rollout costs little more than its activations": what 3 waves add over one may not exceed the time of the two
 *  extra waves themselves by more than this (the 1.2 slack of fleet-16's targets, for a noisy shared machine). */
const SLACK = 1.2;

interface Sample extends Timed<Contender> {
  builds: number;
  /** ms from run-start to the first activation (every build done, copies under way or done). */
  firstActivateMs?: number;
  /** Staged runs: each wave's wave-start → wave-done, ms. */
  waveMs: number[];
}

const specsFor = (nonce: string) => groupedSpecs(HOSTS, CONFIGS, nonce, BUILD_SECONDS);

function waveTimes(events: FleetEvent[]): { nodes: string[]; ms: number; verdict: string }[] {
  return events.flatMap((e) => {
    if (e.type !== 'wave-start') return [];
    const done = events.find((d) => d.type === 'wave-done' && d.wave === e.wave);
    if (done?.type !== 'wave-done') throw new Error(`wave ${e.wave} never ended`);
    return [{ nodes: e.nodes, ms: Date.parse(done.time) - Date.parse(e.time), verdict: done.verdict }];
  });
}

/** The hosts' own record (fixtures/nix/switch-to-configuration.sh): every wave went live after the one before. */
async function checkWaveOrder(lab: Lab, waves: string[][], expected: Record<string, string>): Promise<void> {
  const liveAt = async (host: string) => {
    const lines = (await lab.exec(host, ['cat', '/nix/var/fleet-lab/activation-times.log'])).stdout.split('\n');
    const line = lines.find((l) => / (test|switch) /.test(l) && l.endsWith(` ${expected[host]}`));
    if (!line) throw new Error(`${host}: no activation of ${expected[host]} in its activation-times.log`);
    return Number(line.split(' ')[0]);
  };
  const times = await Promise.all(waves.map((w) => Promise.all(w.map(liveAt))));
  for (let i = 1; i < times.length; i++) {
    if (Math.max(...times[i - 1]!) >= Math.min(...times[i]!)) throw new Error(`wave ${i + 1} went live before wave ${i} had (host activation times)`);
  }
}

async function measure(lab: Lab, hive: string, fleetFile: string, contender: Contender, repetition: number, runId: string): Promise<Sample> {
  await writeHive(hive, specsFor(`${runId}-${repetition}-${contender}`), lab.witness);
  const witnessBefore = (await readWitness(lab)).length;
  const { ms, value: run } = await timeIt(() => runFleet(['-f', fleetFile, 'apply', '--json', '--parallel', String(HOSTS.length), '--max-jobs', String(CONFIGS), ...FLAGS[contender]]));
  expectOutcomes(run, ['activated']);
  const expected = await evalOutPaths(hive, HOSTS);
  await verifyDeployed(lab, expected);
  const events = readEventLines(run.stdout);
  const waves = waveTimes(events);
  const sizes = waves.map((w) => w.nodes.length);
  const wantSizes = contender === 'waves' ? WAVE_SIZES : contender === 'one-wave' ? [HOSTS.length] : [];
  if (sizes.join() !== wantSizes.join() || waves.some((w) => w.verdict !== 'passed')) throw new Error(`${contender}: waves ${JSON.stringify(waves)}, expected sizes ${wantSizes.join()}`);
  if (contender === 'waves') await checkWaveOrder(lab, waves.map((w) => w.nodes), expected);
  const { firstActivate } = readTimeline(run.stdout);
  const builds = (await readWitness(lab)).length - witnessBefore;
  console.error(`rollout-16: rep ${repetition + 1} ${contender.padEnd(8)} ${(ms / 1000).toFixed(2)} s, ${builds} builds, waves ${waves.map((w) => `${w.nodes.length}:${(w.ms / 1000).toFixed(2)}s`).join(' ') || '-'}`);
  return { contender, repetition, ms: round(ms, 1), builds, ...(firstActivate === undefined ? {} : { firstActivateMs: firstActivate }), waveMs: waves.map((w) => w.ms) };
}

async function main(): Promise<void> {
  const reps = repetitions(5);
  // The starting state: every host on an older generation (not timed).
  const samples = await withBaseLab(HOSTS, specsFor, ({ lab, hive, fleetFile, runId }) =>
    repeatRotated(reps, CONTENDERS, (contender, r) => measure(lab, hive, fleetFile, contender, r, runId)),
  );
  await report(samples, reps);
}

async function report(samples: Sample[], reps: number): Promise<void> {
  const of = (c: Contender) => samples.filter((s) => s.contender === c);
  const wall = wallByContender(CONTENDERS, samples);
  const wavesOverApply = round(wall.waves.median / wall.apply.median, 2);
  const wavesOverOneWave = round(wall.waves.median / wall['one-wave'].median, 2);
  const oneWaveOverApply = round(wall['one-wave'].median / wall.apply.median, 2);
  const waveMs = WAVE_SIZES.map((_s, i) => summarize(of('waves').map((s) => s.waveMs[i]!)));
  // What the 3 waves add over the staged single wave, against the two extra waves' own time (waves 1 and 2).
  const overheadMs = wall.waves.median - wall['one-wave'].median;
  const extraWavesMs = waveMs[0]!.median + waveMs[1]!.median;
  const overheadRatio = round(overheadMs / extraWavesMs, 2);
  const firstActivate = Object.fromEntries(CONTENDERS.map((c) => [c, summarize(of(c).map((s) => s.firstActivateMs ?? NaN))]));
  const builds = samples.map((s) => s.builds);
  await writeResult(
    'rollout-16',
    {
      setup: { hosts: HOSTS.length, configurations: CONFIGS, buildSeconds: BUILD_SECONDS, repetitions: reps, parallel: HOSTS.length, maxJobs: CONFIGS, waves: WAVES, healthChecks: 'none (light lab)', magicRollback: 'on (default)' },
      contenders: Object.fromEntries(CONTENDERS.map((c) => [c, { wallMs: wall[c], firstActivateMs: firstActivate[c], builds: of(c).map((s) => s.builds) }])),
      waves: { sizes: WAVE_SIZES, ms: waveMs },
      ratios: {
        wavesOverApply, wavesOverOneWave, oneWaveOverApply, overheadOverExtraWaves: overheadRatio,
        perRepetition: { wavesOverApply: perRepetition(samples, 'waves', 'apply'), wavesOverOneWave: perRepetition(samples, 'waves', 'one-wave'), oneWaveOverApply: perRepetition(samples, 'one-wave', 'apply') },
      },
      samples,
    },
    {
      result: `apply (one wave) ${formatSeconds(wall.apply)}, --waves 100% ${formatSeconds(wall['one-wave'])}, --waves ${WAVES} ${formatSeconds(wall.waves)} (waves of ${WAVE_SIZES.join('/')}: ${waveMs.map((w) => `${(w.median / 1000).toFixed(2)} s`).join(', ')}); waves/apply ${wavesOverApply}×, waves/one wave ${wavesOverOneWave}×`,
      targets: [
        target(`3 waves − 1 wave ≤ ${SLACK} × waves 1+2`, `${(overheadMs / 1000).toFixed(2)} s vs ${(extraWavesMs / 1000).toFixed(2)} s (${overheadRatio}×)`, overheadRatio <= SLACK),
        target('--waves 100%/apply ≤ 1.1', `${oneWaveOverApply}×`, oneWaveOverApply <= 1.1),
        target('builds = 4', [...new Set(builds)].join(','), builds.every((b) => b === CONFIGS)),
      ],
    },
  );
  console.error(`rollout-16: waves/apply ${wavesOverApply}×, waves/one-wave ${wavesOverOneWave}×, one-wave/apply ${oneWaveOverApply}×; 3 waves add ${(overheadMs / 1000).toFixed(2)} s, waves 1+2 take ${(extraWavesMs / 1000).toFixed(2)} s`);
}

await main();
