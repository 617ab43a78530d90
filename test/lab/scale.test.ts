// 100 light hosts, default flags: a deploy on all of them and a no-op apply, checked on the hosts themselves (profile
// and /run/current-system of each), with fleet's process tree sampled from /proc while it runs (ssh clients, memory).
// The bound on ssh clients (issue 19: at most 2 × --parallel + the probe concurrency) is a test of its own.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { countGenerations, evalOutPaths, readActivations, readSystemState, startLab, writeHive, type Lab, type StandInSpec } from '../../lab/index.js';
import { watchTree, type TreePeaks } from '../../lab/proctree.js';
import { finishedRun, outcomesOf, spawnFleet, type FleetRun } from './run-fleet.js';
import { requireLabCapable } from './support.js';

const HOSTS = Array.from({ length: 100 }, (_v, i) => `h${String(i + 1).padStart(3, '0')}`);
const CONFIGS = 4;

/** fleet with its process tree sampled (every 100 ms) until it exits. */
async function sampledFleet(args: string[]): Promise<{ run: FleetRun; peaks: TreePeaks }> {
  const child = spawnFleet(args);
  const watch = watchTree(child.pid!);
  const run = await finishedRun(child, args.includes('--json'));
  return { run, peaks: watch.stop() };
}

/** A default of `fleet apply --help`: `--parallel`'s, or the probe concurrency's (a flag naming probes). */
async function helpDefault(flag: RegExp): Promise<number | undefined> {
  const help = (await finishedRun(spawnFleet(['apply', '--help']), false)).stdout;
  // One entry per option: its first line starts with `  -`, its description may go on over the next lines.
  const entry = help.split(/\n(?= {2}-)/).find((e) => flag.test(e));
  const m = /\(default: (\d+)\)/.exec(entry?.replace(/\s+/g, ' ') ?? '');
  return m ? Number(m[1]) : undefined;
}

async function hostsRun(lab: Lab, expected: Record<string, string>): Promise<string[]> {
  const wrong: string[] = [];
  await Promise.all(HOSTS.map(async (h) => {
    const s = await readSystemState(lab, h);
    if (s.current !== expected[h] || s.profile !== expected[h]) wrong.push(`${h}: runs ${s.current ?? '-'}, profile ${s.profile ?? '-'}, expected ${expected[h]}`);
  }));
  return wrong;
}

describe('100 light hosts, default flags', { skip: requireLabCapable() }, () => {
  let lab: Lab;
  let fleetFile: string;
  let hive: string;
  const nonce = randomBytes(4).toString('hex');
  const specs: Record<string, StandInSpec> = Object.fromEntries(HOSTS.map((h, i) => [h, { name: `scale-${String.fromCharCode(97 + (i % CONFIGS))}-${nonce}` }]));
  const peaks: Record<'deploy' | 'noop', TreePeaks | undefined> = { deploy: undefined, noop: undefined };

  before(async () => {
    const started = Date.now();
    lab = await startLab({ names: HOSTS });
    console.error(`# 100 light hosts up in ${Date.now() - started} ms`);
    hive = `${lab.dir}/hive.nix`;
    fleetFile = await lab.writeFleet({ nixFile: hive });
    await writeHive(hive, specs, lab.witness);
  });
  after(async () => lab?.down());

  test('fleet apply deploys every host: each one\'s profile and /run/current-system are its new system', async (t) => {
    const expected = await evalOutPaths(hive);
    assert.equal(new Set(Object.values(expected)).size, CONFIGS);
    const started = Date.now();
    const { run, peaks: p } = await sampledFleet(['-f', fleetFile, 'apply', '--json']);
    peaks.deploy = p;
    t.diagnostic(`deploy: ${Date.now() - started} ms, exit ${run.code}; peak ${p.ssh} ssh clients, ${p.processes} processes, ${Math.round(p.rssKB / 1024)} MB RSS (ssh ${Math.round(p.sshRssKB / 1024)} MB), ${p.samples} samples`);
    const outcomes = outcomesOf(run);
    const notActivated = Object.entries(outcomes).filter(([, o]) => o !== 'activated');
    assert.deepEqual(notActivated, [], `exit ${run.code}\n${run.stderr.slice(-3000)}`);
    assert.equal(run.code, 0);
    assert.deepEqual(await hostsRun(lab, expected), []);
    assert.ok(p.samples > 10 && p.ssh > 0, `the tree was sampled while it ran: ${JSON.stringify(p)}`);
  });

  test('a no-op apply touches no host: every node unchanged, no generation or activation added', async (t) => {
    const expected = await evalOutPaths(hive);
    const before = await Promise.all(HOSTS.map(async (h) => [await countGenerations(lab, h), (await readActivations(lab, h)).length]));
    const started = Date.now();
    const { run, peaks: p } = await sampledFleet(['-f', fleetFile, 'apply', '--json']);
    peaks.noop = p;
    t.diagnostic(`no-op apply: ${Date.now() - started} ms, exit ${run.code}; peak ${p.ssh} ssh clients, ${p.processes} processes, ${Math.round(p.rssKB / 1024)} MB RSS`);
    assert.equal(run.code, 0, run.stderr.slice(-3000));
    assert.deepEqual(Object.entries(outcomesOf(run)).filter(([, o]) => o !== 'unchanged'), []);
    const afterwards = await Promise.all(HOSTS.map(async (h) => [await countGenerations(lab, h), (await readActivations(lab, h)).length]));
    assert.deepEqual(afterwards, before, 'no generation and no activation on any host');
    assert.deepEqual(await hostsRun(lab, expected), []);
  });

  // A master only while a node's work runs (plus --parallel idle ones), probes directly, --probe-parallel at once.
  test('ssh clients at once ≤ 2 × --parallel + the probe concurrency (deploy and no-op)', async () => {
    const parallel = await helpDefault(/--parallel <n>/);
    const probes = await helpDefault(/--probe[\w-]* <n>/);
    assert.ok(parallel !== undefined, 'fleet apply --help states the default of --parallel');
    assert.ok(probes !== undefined, 'fleet apply --help states the default probe concurrency (a --probe… <n> flag)');
    const bound = 2 * parallel + probes;
    for (const [run, p] of Object.entries(peaks)) {
      assert.ok(p, `the ${run} test ran and sampled`);
      assert.ok(p.ssh <= bound, `${run}: ${p.ssh} ssh clients at once, bound ${bound} (2 × ${parallel} + ${probes})`);
    }
  });
});
