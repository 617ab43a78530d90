// eval-scale: a generated hive whose nodes each retain ~65 MB while evaluated (lab/heavy-hive.ts), at 64 and 256
// nodes. fleet's evaluator (`fleet plan build`: chunks on parallel workers within --eval-memory 1.5G, default
// workers) against ONE unbounded nix-instantiate of all nodes (fleet's own chunk argv for every node, the old way);
// at 256 the unbounded one runs only if the machine has room for it. Peak memory of each whole process tree (sampled
// from /proc every 50 ms), wall time; and one broken node (a type error: no tryEval catches it) against the clean run.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { writeHeavyHive } from '../lab/heavy-hive.js';
import { readEventLines, type EventOf } from '../src/events.js';
import { buildEvalArgv } from '../src/nix/eval.js';
import { readMemAvailable, readProcessMemory } from '../src/nix/memory.js';
import { FLEET_BIN, NIX_ENV } from './lib/fleet.js';
import { target, writeResult } from './lib/results.js';
import { round, summarize, type Spread } from './lib/stats.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const BUDGET = '1.5G';
const BUDGET_BYTES = 1.5 * GiB;
const names = (n: number) => Array.from({ length: n }, (_v, i) => `n${String(i + 1).padStart(3, '0')}`);

interface Measured {
  wallMs: number;
  treePeak: number; // bytes: the whole process tree, as sampled
  nixPeak: number; // bytes: its nix-instantiate processes only
  stdout: string;
  code: number;
}

/** Runs a child to its end, sampling its process tree's memory every 50 ms. */
async function measure(child: ResultPromise): Promise<Measured> {
  const started = performance.now();
  let treePeak = 0;
  let nixPeak = 0;
  const timer = setInterval(() => {
    if (child.pid === undefined) return;
    treePeak = Math.max(treePeak, readProcessMemory(child.pid)?.rss ?? 0);
    nixPeak = Math.max(nixPeak, nixMemory(child.pid));
  }, 50);
  const r = await child;
  clearInterval(timer);
  return { wallMs: performance.now() - started, treePeak, nixPeak, stdout: String(r.stdout), code: r.exitCode ?? -1 };
}

/** The nix-instantiate processes under pid (itself included), their resident memory summed. */
function nixMemory(pid: number): number {
  let sum = 0;
  const visit = (p: number) => {
    let comm = '';
    let children: number[] = [];
    try {
      comm = readText(`/proc/${p}/comm`).trim();
      children = readText(`/proc/${p}/task/${p}/children`).split(' ').filter(Boolean).map(Number);
    } catch {
      return;
    }
    if (comm === 'nix-instantiate') sum += readProcessMemory(p)?.rss ?? 0;
    for (const c of children) visit(c);
  };
  visit(pid);
  return sum;
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

type Drvs = Record<string, string>;

function fleetRun(dir: string, file: string): ResultPromise {
  return execa(process.execPath, [FLEET_BIN, '-f', `${dir}/${file}`, 'plan', 'build', '--json', '--eval-memory', BUDGET], {
    reject: false, stdin: 'ignore', timeout: 1_800_000, env: NIX_ENV,
  });
}

function fleetResult(m: Measured): { drvs: Drvs; done: EventOf<'eval-done'>; failed: string[] } {
  const events = readEventLines(m.stdout);
  const plan = events.find((e) => e.type === 'plan');
  const done = events.find((e) => e.type === 'eval-done');
  const summary = events.find((e) => e.type === 'summary');
  if (plan?.type !== 'plan' || done?.type !== 'eval-done' || summary?.type !== 'summary') throw new Error(`fleet plan printed no plan/eval-done/summary (exit ${m.code})`);
  return { drvs: Object.fromEntries(plan.plan.nodes.map((n) => [n.name, n.drvPath])), done, failed: Object.keys(summary.nodes) };
}

function singleRun(dir: string, nodes: string[]): ResultPromise {
  const argv = buildEvalArgv({ nix: { file: `${dir}/hive.nix` } }, nodes.map((name) => ({ name })));
  return execa(argv[0]!, argv.slice(1), { reject: false, stdin: 'ignore', timeout: 3_600_000, env: NIX_ENV, maxBuffer: 256 * MiB });
}

function singleDrvs(m: Measured): Drvs {
  if (m.code !== 0) throw new Error(`the single nix-instantiate exited ${m.code}`);
  const raw = JSON.parse(m.stdout) as Record<string, { drv: string }>;
  return Object.fromEntries(Object.entries(raw).map(([n, v]) => [n, v.drv]));
}

function expectSame(got: Drvs, want: Drvs, what: string): void {
  const wrong = Object.keys(want).filter((n) => got[n] !== want[n]);
  if (Object.keys(got).length !== Object.keys(want).length || wrong.length > 0) throw new Error(`${what}: derivations differ for ${wrong.slice(0, 5).join(', ') || 'the node set'}`);
}

const mb = (bytes: number) => `${round(bytes / MiB, 0)} MiB`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface SizeResult {
  nodes: number;
  fleet: { wallMs: number[]; treePeak: number[]; nixPeak: number[]; evalDone: EventOf<'eval-done'>[] };
  broken?: { wallMs: number[]; treePeak: number[]; nixPeak: number[]; failed: string[] };
  single?: { wallMs: number[]; treePeak: number[] };
  singleSkipped?: string;
}

async function benchSize(n: number, reps: number, single64Peak: number | undefined): Promise<SizeResult> {
  const dir = await mkdtemp('/tmp/bench-eval-scale-');
  const all = names(n);
  const brokenNode = all[Math.floor(n / 2)]!;
  const result: SizeResult = { nodes: n, fleet: { wallMs: [], treePeak: [], nixPeak: [], evalDone: [] } };
  try {
    await writeHeavyHive(`${dir}/hive.nix`, all);
    await writeHeavyHive(`${dir}/broken.nix`, all, { broken: { [brokenNode]: 'type' } });
    const fleetFile = (hive: string) => `version: 1\nnix:\n  file: ./${hive}\nnodes:\n${all.map((name) => `  ${name}: { host: ${name}.invalid }\n`).join('')}`;
    await writeFile(`${dir}/fleet.yaml`, fleetFile('hive.nix'));
    await writeFile(`${dir}/broken.yaml`, fleetFile('broken.nix'));
    // At 256 the unbounded process needs ~4× what it needed at 64: only with that much available and 4 GiB to spare.
    const available = readMemAvailable() ?? 0;
    const needed = single64Peak === undefined ? 0 : single64Peak * (n / 64) * 1.1;
    const runSingle = single64Peak === undefined || available - needed >= 4 * GiB;
    if (!runSingle) result.singleSkipped = `not run: it would need about ${mb(needed)} and ${mb(available)} were available (4 GiB kept for the machine)`;
    else result.single = { wallMs: [], treePeak: [] };
    // The broken run at the smaller size only: its ratio to the clean run is the target.
    if (single64Peak === undefined) result.broken = { wallMs: [], treePeak: [], nixPeak: [], failed: [] };
    let reference: Drvs | undefined;
    for (let r = 0; r < reps; r++) {
      const fleet = await measure(fleetRun(dir, 'fleet.yaml'));
      const got = fleetResult(fleet);
      if (got.failed.length > 0) throw new Error(`fleet failed for ${got.failed.join(', ')}`);
      result.fleet.wallMs.push(fleet.wallMs);
      result.fleet.treePeak.push(fleet.treePeak);
      result.fleet.nixPeak.push(fleet.nixPeak);
      result.fleet.evalDone.push(got.done);
      const line = [`eval-scale ${n}: rep ${r + 1}: fleet ${s(fleet.wallMs)} peak ${mb(fleet.nixPeak)} (tree ${mb(fleet.treePeak)}, ${got.done.chunks} chunks)`];
      if (result.single) {
        const one = await measure(singleRun(dir, all));
        reference = singleDrvs(one);
        expectSame(got.drvs, reference, 'fleet vs single');
        result.single.wallMs.push(one.wallMs);
        result.single.treePeak.push(one.treePeak);
        line.push(`single ${s(one.wallMs)} peak ${mb(one.treePeak)}`);
      }
      if (result.broken) {
        const broken = await measure(fleetRun(dir, 'broken.yaml'));
        const b = fleetResult(broken);
        if (b.failed.join() !== brokenNode || Object.keys(b.drvs).length !== n - 1) throw new Error(`broken run: failed ${b.failed.join(', ')}, ${Object.keys(b.drvs).length} planned`);
        result.broken.wallMs.push(broken.wallMs);
        result.broken.treePeak.push(broken.treePeak);
        result.broken.nixPeak.push(broken.nixPeak);
        result.broken.failed = b.failed;
        line.push(`one broken ${s(broken.wallMs)}`);
      }
      console.error(line.join(', '));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return result;
}

async function main(): Promise<void> {
  const reps = Number(process.env.BENCH_REPEAT) >= 1 ? Number(process.env.BENCH_REPEAT) : 2;
  // EVAL_SCALE_NODES=8,32: smaller sizes, to try the benchmark itself (the row then says so: the node counts).
  const [small = 64, large = 256] = (process.env.EVAL_SCALE_NODES ?? '').split(',').filter(Boolean).map(Number);
  const at64 = await benchSize(small, reps, undefined);
  const single64 = at64.single ? Math.max(...at64.single.treePeak) : undefined;
  const at256 = await benchSize(large, 1, single64 === undefined ? undefined : (single64 * 64) / small);
  await report([at64, at256], reps);
}

async function report(sizes: SizeResult[], reps: number): Promise<void> {
  const spread = (v: number[]) => summarize(v);
  const wall = (r: SizeResult) => ({ fleet: spread(r.fleet.wallMs), ...(r.single ? { single: spread(r.single.wallMs) } : {}), ...(r.broken ? { broken: spread(r.broken.wallMs) } : {}) });
  const [at64, at256] = sizes as [SizeResult, SizeResult];
  const w64 = wall(at64) as { fleet: Spread; single: Spread; broken: Spread };
  const fleetOverSingle = round(w64.fleet.median / w64.single.median, 2);
  const brokenOverClean = round(w64.broken.median / w64.fleet.median, 2);
  const peak64 = Math.max(...at64.fleet.nixPeak);
  const peak256 = Math.max(...at256.fleet.nixPeak);
  const w256 = wall(at256) as { fleet: Spread; single?: Spread };
  const single256 = at256.single ? `single ${(w256.single!.median / 1000).toFixed(1)} s, ${mb(Math.max(...at256.single.treePeak))}` : `single ${at256.singleSkipped}`;
  await writeResult(
    'eval-scale',
    {
      setup: { budget: BUDGET, workers: 'default (one per CPU)', perNode: '~65 MB retained (lab/heavy-hive.ts)', repetitions: { 64: reps, 256: 1 }, broken: 'one node with a type error (tryEval cannot catch it), in the middle' },
      compared: {
        fleet: '`fleet plan build --json --eval-memory 1.5G`: the whole CLI, chunks on parallel workers',
        single: "one nix-instantiate of every node (fleet's chunk argv, buildEvalArgv), no budget: the old way",
        broken: 'the fleet run with one node broken',
      },
      sizes: sizes.map((r) => ({
        nodes: r.nodes,
        wallMs: wall(r),
        peakBytes: {
          fleetEvaluators: spread(r.fleet.nixPeak),
          fleetTree: spread(r.fleet.treePeak),
          ...(r.single ? { single: spread(r.single.treePeak) } : {}),
          ...(r.broken ? { brokenEvaluators: spread(r.broken.nixPeak) } : {}),
        },
        evalDone: r.fleet.evalDone.map(({ v: _v, run: _r, seq: _s, time: _t, ...rest }) => rest),
        ...(r.singleSkipped ? { singleSkipped: r.singleSkipped } : {}),
      })),
      ratios: { fleetOverSingle64: fleetOverSingle, brokenOverClean64: brokenOverClean },
    },
    {
      result: `${at64.nodes} nodes: fleet ${(w64.fleet.median / 1000).toFixed(1)} s, peak ${mb(peak64)} (${at64.fleet.evalDone[0]!.chunks} chunks on ${at64.fleet.evalDone[0]!.workers} workers) vs single ${(w64.single.median / 1000).toFixed(1)} s, ${mb(Math.max(...at64.single!.treePeak))}; one broken node ${(w64.broken.median / 1000).toFixed(1)} s. ${at256.nodes} nodes: fleet ${(w256.fleet.median / 1000).toFixed(1)} s, peak ${mb(peak256)}; ${single256}`,
      targets: [
        target(`evaluators' peak ≤ budget ${BUDGET} (64, 256)`, `${mb(peak64)}, ${mb(peak256)}`, peak64 <= BUDGET_BYTES && peak256 <= BUDGET_BYTES),
        target('64 nodes: fleet ≤ 1.0× one unbounded process', `${fleetOverSingle}×`, fleetOverSingle <= 1),
        target('one broken node ≤ 1.2× the clean run (64)', `${brokenOverClean}×`, brokenOverClean <= 1.2),
      ],
    },
  );
}

await main();
