// `fleet diff` and `fleet plan`'s diff line against the lab: real stores, sizes checked with nix-store itself,
// and the targets left exactly as they were.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { evalOutPaths, readSystemState, writeHive, type Lab, type StandInSpec } from '../../lab/index.js';
import type { EventOf } from '../../src/events.js';
import { requireLabCapable, startDeployedLab } from './support.js';
import { NIX_ENV, runFleet, summaryOf } from './run-fleet.js';

const NODES = ['d1', 'd2', 'd3'];

/** Bytes of a closure as nix-store itself reports them: `--size` of every `--requisites` path, summed. */
async function closureSize(exec: (argv: string[]) => Promise<{ stdout: string }>, path: string): Promise<number> {
  const paths = (await exec(['nix-store', '--query', '--requisites', path])).stdout.trim().split('\n');
  const sizes = (await exec(['nix-store', '--query', '--size', ...paths])).stdout.trim().split('\n');
  assert.equal(sizes.length, paths.length);
  return sizes.reduce((sum, s) => sum + Number(s), 0);
}
const local = async (argv: string[]) => ({ stdout: String((await execa(argv[0]!, argv.slice(1), { env: NIX_ENV })).stdout) });
const pathOf = (closure: string[], name: string) => closure.find((p) => p.endsWith(`-${name}`))!;

describe('fleet diff on a 3-node lab', { skip: requireLabCapable() }, () => {
  let lab: Lab;
  let fleetFile: string;
  let hive: string;
  const tag = randomBytes(4).toString('hex');
  const base: StandInSpec = { name: `diff-${tag}`, packages: [{ name: 'hello-2.10', bytes: 1000 }, { name: 'libfoo-1.0', bytes: 5000 }, { name: 'glibc-2.37', bytes: 300 }] };
  // d1 and d2 get the same new system: hello 2.10 → 2.12, libfoo gone. d3 stays as it is.
  const next: StandInSpec = { name: `diff-${tag}`, packages: [{ name: 'hello-2.12', bytes: 3000 }, { name: 'glibc-2.37', bytes: 300 }] };

  before(async () => {
    ({ lab, hive, fleetFile } = await startDeployedLab(NODES, base.name, { packages: base.packages }));
    await writeHive(hive, { d1: next, d2: next, d3: base }, lab.witness);
  });
  after(async () => lab?.down());

  test('plan before anything is built: the diff line says it is not built yet, and plan builds nothing', async () => {
    const out = (await evalOutPaths(hive)).d1!;
    const planned = await runFleet(['-f', fleetFile, 'plan']);
    assert.equal(planned.code, 0, planned.stderr);
    assert.equal(planned.stdout.match(/diff: not built yet on local \(fleet diff builds it\)/g)?.length, 2, planned.stdout);
    assert.equal((await execa('nix-store', ['--check-validity', out], { reject: false, env: NIX_ENV })).exitCode, 1, 'plan built nothing');
  });

  test('diff --json: both changes and the size delta from the real stores; identical nodes grouped; targets untouched', async () => {
    const states = await Promise.all(NODES.map((n) => readSystemState(lab, n)));
    const outs = await evalOutPaths(hive);
    const run = await runFleet(['-f', fleetFile, 'diff', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.events.map((e) => e.type).filter((t) => t !== 'node-phase' && !t.startsWith('build') && t !== 'eval-chunk'), ['run-start', 'eval-done', 'plan', 'diff', 'diff', 'summary']);
    assert.deepEqual(summaryOf(run).nodes, {});
    const [changed, same] = run.events.filter((e): e is EventOf<'diff'> => e.type === 'diff');
    assert.deepEqual(changed!.nodes, ['d1', 'd2']);
    assert.deepEqual(same!.nodes, ['d3']);
    assert.deepEqual([same!.added, same!.removed, same!.changed], [[], [], []]);
    assert.equal(same!.systems.d3!.sizeDelta, 0);

    // Every number checked against nix-store on the machines that hold the systems.
    const from = states[0]!.current!;
    const to = outs.d1!;
    const onTarget = async (argv: string[]) => lab.exec('d1', argv);
    const oldClosure = (await onTarget(['nix-store', '--query', '--requisites', from])).stdout.trim().split('\n');
    const newClosure = (await local(['nix-store', '--query', '--requisites', to])).stdout.trim().split('\n');
    const sizeOf = async (exec: (argv: string[]) => Promise<{ stdout: string }>, path: string) => Number((await exec(['nix-store', '--query', '--size', path])).stdout.trim());
    const hello = (await sizeOf(local, pathOf(newClosure, 'hello-2.12'))) - (await sizeOf(onTarget, pathOf(oldClosure, 'hello-2.10')));
    const libfoo = await sizeOf(onTarget, pathOf(oldClosure, 'libfoo-1.0'));
    assert.deepEqual(changed!.changed, [{ name: 'hello', before: ['2.10'], after: ['2.12'], sizeDelta: hello }]);
    assert.deepEqual(changed!.removed, [{ name: 'libfoo', before: ['1.0'], after: [], sizeDelta: -libfoo }]);
    assert.deepEqual(changed!.added, []);
    const sizeBefore = await closureSize(onTarget, from);
    const sizeAfter = await closureSize(local, to);
    for (const node of ['d1', 'd2']) {
      assert.deepEqual(changed!.systems[node], { from, to, sizeBefore, sizeAfter, sizeDelta: sizeAfter - sizeBefore }, node);
    }
    assert.ok(hello > 1500 && libfoo > 4500, `the stand-in packages' own bytes show: hello ${hello}, libfoo ${libfoo}`);

    // Read-only on the targets: same generation, same running system, and the new system never copied there.
    assert.deepEqual(await Promise.all(NODES.map((n) => readSystemState(lab, n))), states);
    for (const node of ['d1', 'd2']) assert.equal((await lab.exec(node, ['nix-store', '--check-validity', to])).exitCode, 1, `${node} does not hold the new system`);
  });

  test('diff as text, and plan once the new systems are built: one summary line per changing node', async () => {
    const text = await runFleet(['-f', fleetFile, 'diff']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^d1, d2 \(2 nodes\): 1 changed, 1 removed, -\d+\.\d KiB\n {2}changed {2}hello 2\.10 → 2\.12 \(\+\d+\.\d KiB\)\n {2}removed {2}libfoo 1\.0 \(-\d\.\d KiB\)\n\nd3: no change\n\n3 nodes compared, 2 distinct change sets$/);
    const planned = await runFleet(['-f', fleetFile, 'plan']);
    assert.equal(planned.code, 0, planned.stderr);
    assert.equal(planned.stdout.match(/ {2}diff: 1 changed, 1 removed, -\d+\.\d KiB\n/g)?.length, 2, planned.stdout);
    const json = await runFleet(['-f', fleetFile, 'plan', '--json']);
    assert.deepEqual(json.events.filter((e) => e.type === 'diff').map((e) => (e as EventOf<'diff'>).nodes), [['d1', 'd2']]);
  });

  test('a target that holds its new system already: both closures are read there in one round trip', async () => {
    const to = (await evalOutPaths(hive)).d2!;
    await execa('nix-copy-closure', ['--to', 'd2', to], { env: { ...NIX_ENV, NIX_SSHOPTS: `-F ${lab.sshConfig}` } });
    // sshd (LogLevel VERBOSE) logs one "Starting session" per command, over the master or not.
    const sessions = async (node: string) => (await readFile(`${lab.hosts.find((h) => h.name === node)!.dir}/sshd.log`, 'utf8')).split('\n').filter((l) => l.includes('Starting session: command')).length;
    const before = await Promise.all(['d1', 'd2'].map(sessions));
    const run = await runFleet(['-f', fleetFile, 'diff', '--json', '--on', 'd1,d2']);
    assert.equal(run.code, 0, run.stderr);
    const plan = run.events.find((e): e is EventOf<'plan'> => e.type === 'plan')!.plan;
    assert.deepEqual(plan.nodes.map((n) => [n.name, n.buildJob]), [['d1', 'local'], ['d2', undefined]], 'd2 is compared on itself');
    const [changed] = run.events.filter((e): e is EventOf<'diff'> => e.type === 'diff');
    assert.deepEqual(changed!.nodes, ['d1', 'd2'], 'the same change set, read on the target as on the deployer');
    assert.deepEqual(changed!.systems.d2, changed!.systems.d1);
    const after = await Promise.all(['d1', 'd2'].map(sessions));
    assert.ok(after[0]! - before[0]! >= 2, `d1: the probe and its current closure (${after[0]! - before[0]!} commands)`);
    assert.equal(after[1]! - before[1]!, after[0]! - before[0]!, 'd2 reads both closures in the one command d1 needs for its current one');
  });

  test('an unreachable node: exit 1, named with its reason; the others are still compared', async () => {
    const { hosts } = lab;
    process.kill(hosts.find((h) => h.name === 'd3')!.sshdPid, 'SIGTERM');
    const run = await runFleet(['-f', fleetFile, 'diff', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(summaryOf(run).nodes.d3?.outcome, 'failed');
    assert.match(summaryOf(run).nodes.d3!.error!, /^d3: connect: /);
    assert.deepEqual(run.events.filter((e) => e.type === 'diff').map((e) => (e as EventOf<'diff'>).nodes), [['d1', 'd2']]);
    const text = await runFleet(['-f', fleetFile, 'diff']);
    assert.equal(text.code, 1);
    assert.match(text.stderr, /^error: d3: connect: .+$/m);
  });
});

describe('fleet diff: usage', () => {
  test('goal build is refused with exit 2 before anything is read', async () => {
    const run = await runFleet(['-f', '/nonexistent/fleet.yaml', 'diff', 'build']);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, 'fleet: fleet diff compares with what the targets run, and goal build asks no target: use switch, boot, test, dry-activate or push');
  });
});
