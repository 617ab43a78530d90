// Streaming evaluation into apply, on light lab hosts with the real Nix: the first node is evaluated alone (a tight
// --eval-memory, one worker), and the later nodes' evaluation waits, inside Nix (builtins.exec), for what fleet did
// with the first one meanwhile. So the hosts themselves say it: the later nodes' systems carry what their evaluation
// saw (the first node built on the deployer; or the first host already switched to its new system), and a fleet that
// waited for the whole evaluation before building would leave them with "timeout".
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { evalOutPaths, labNixEnv, readSystemState, snapshotHost, systemNix, type Lab } from '../../lab/index.js';
import type { FleetEvent } from '../../src/events.js';
import { requireLabCapable, useDeployedLab } from './support.js';
import { nodeDoneText, outcomesOf, runFleet, summaryOf, type FleetRun } from './run-fleet.js';

const NODES = ['st1', 'st2', 'st3'];
/** builtins.exec: the evaluator runs the wait itself (a test-only Nix setting). */
const EXEC_ENV = { NIX_CONFIG: `${labNixEnv.NIX_CONFIG}\nallow-unsafe-native-code-during-evaluation = true` };
/** The first node's evaluation stays alone in its chunk: 90% of 1 GiB holds one node at the first guess. */
const TIGHT = ['--eval-memory', '1G', '--eval-workers', '1'];

/** A shell test, run by the evaluator up to 60 s: its Nix string says whether it came true or timed out. */
function waitUntil(condition: string, seen: string): string {
  const script = `i=0; while ! ( ${condition} ) && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; if ${condition}; then echo '"${seen}"'; else echo '"timeout"'; fi`;
  return `builtins.exec [ "/bin/sh" "-c" ${JSON.stringify(script)} ]`;
}

/** st1 a plain system; st2 and st3 evaluate only once `condition` holds (or 60 s passed), and carry the answer. */
async function writeWaitingHive(path: string, witness: string, nonce: string, condition: string, seen: string): Promise<void> {
  const node = (name: string, extra = '') => `  ${name} = system { name = "${name}-${nonce}"; witness = ${JSON.stringify(witness)};${extra} };`;
  await writeFile(path, [
    `let system = import ${JSON.stringify(systemNix)}; wait = ${waitUntil(condition, seen)}; in {`,
    node('st1'),
    ...NODES.slice(1).map((n) => node(n, ' nonce = wait;')),
    '}', '',
  ].join('\n'));
}

/** The profile a light host boots, read from the deployer through the host's /nix (bind-mounted from its dir). */
const profileTest = (lab: Lab, host: string, out: string) => {
  const profiles = `${lab.hosts.find((h) => h.name === host)!.dir}/nix/var/nix/profiles`;
  return `[ "$(readlink "${profiles}/$(readlink ${profiles}/system)")" = "${out}" ]`;
};

const indexOf = (run: FleetRun, match: (e: FleetEvent) => boolean) => run.events.findIndex(match);
const lastChunk = (run: FleetRun) => run.events.map((e) => e.type).lastIndexOf('eval-chunk');

describe('streaming evaluation into apply on light hosts', { skip: requireLabCapable() }, () => {
  const ctx = useDeployedLab({ before, after }, NODES, `stream-base-${randomBytes(4).toString('hex')}`);

  /** st1's new system (a hive of st1 alone: the same derivation), and the hive whose later nodes wait on `condition`. */
  async function prepare(condition: (st1Out: string) => string, seen: string): Promise<string> {
    const nonce = randomBytes(4).toString('hex');
    const alone = `${ctx.lab.dir}/st1-alone.nix`;
    await writeFile(alone, `let system = import ${JSON.stringify(systemNix)}; in { st1 = system { name = "st1-${nonce}"; witness = ${JSON.stringify(ctx.lab.witness)}; }; }\n`);
    const st1 = (await evalOutPaths(alone)).st1!;
    await writeWaitingHive(ctx.hive, ctx.lab.witness, nonce, condition(st1), seen);
    return st1;
  }

  test('--keep-going: the first node is built, copied and switched while the later chunk still evaluates; every host ends on its new system', { timeout: 300_000 }, async () => {
    const st1 = await prepare((out) => profileTest(ctx.lab, 'st1', out), 'st1-switched');
    const run = await runFleet(['-f', ctx.fleetFile, 'apply', '--json', '--keep-going', ...TIGHT], EXEC_ENV);
    assert.equal(run.code, 0, run.stderr || run.stdout.slice(-3000));
    assert.deepEqual(outcomesOf(run), { st1: 'activated', st2: 'activated', st3: 'activated' });
    // The hosts: st2 and st3 were evaluated only after st1's host had switched (their systems say so).
    for (const node of NODES) {
      const state = await readSystemState(ctx.lab, node);
      assert.equal(state.current, state.profile, `${node}: /run/current-system is the profile's system`);
      const version = (await ctx.lab.exec(node, ['cat', '/run/current-system/nixos-version'])).stdout.trim();
      assert.match(version, new RegExp(`^fleet-lab ${node}-\\w+ ok${node === 'st1' ? '' : ' st1-switched'}$`), node);
    }
    assert.equal((await readSystemState(ctx.lab, 'st1')).current, st1);
    // The events: st1's build, plan and outcome before the last chunk ended; one plan per chunk.
    const chunks = run.events.flatMap((e) => (e.type === 'eval-chunk' ? [e.nodes] : []));
    assert.deepEqual(chunks[0], ['st1'], 'st1 alone in the first chunk');
    const built = indexOf(run, (e) => e.type === 'build-start' && e.nodes.includes('st1'));
    const copied = indexOf(run, (e) => e.type === 'copy-done' && e.node === 'st1');
    assert.ok(built >= 0 && built < lastChunk(run), 'st1\'s build started before the last chunk was evaluated');
    // Its activation has begun too (the hosts said so above); its node-done may come after the last chunk.
    assert.ok(copied > built && copied < lastChunk(run), 'st1 was copied before the last chunk was evaluated');
    assert.deepEqual(run.events.flatMap((e) => (e.type === 'plan' ? [e.plan.nodes.map((n) => n.name)] : [])), chunks, 'one plan per chunk, of its nodes');
  });

  test('fail-fast (the default): the first node\'s build starts while the later chunk evaluates, but nothing is copied before the evaluation is complete', { timeout: 300_000 }, async () => {
    const before = await readSystemState(ctx.lab, 'st1');
    const st1 = await prepare((out) => `[ -e ${out} ] && ${profileTest(ctx.lab, 'st1', before.profile!)}`, 'st1-built-not-deployed');
    const run = await runFleet(['-f', ctx.fleetFile, 'apply', '--json', ...TIGHT], EXEC_ENV);
    assert.equal(run.code, 0, run.stderr || run.stdout.slice(-3000));
    assert.deepEqual(outcomesOf(run), { st1: 'activated', st2: 'activated', st3: 'activated' });
    for (const node of NODES.slice(1)) {
      const version = (await ctx.lab.exec(node, ['cat', '/run/current-system/nixos-version'])).stdout.trim();
      assert.match(version, / st1-built-not-deployed$/, `${node} was evaluated once st1 was built, with st1's host untouched`);
    }
    const state = await readSystemState(ctx.lab, 'st1');
    assert.deepEqual([state.current, state.profile], [st1, st1]);
    const built = indexOf(run, (e) => e.type === 'build-start' && e.nodes.includes('st1'));
    const evalDone = indexOf(run, (e) => e.type === 'eval-done');
    assert.ok(built >= 0 && built < lastChunk(run), 'st1\'s build started before the last chunk was evaluated');
    const plans = run.events.filter((e) => e.type === 'plan');
    assert.equal(plans.length, 1, 'one plan, of every node');
    assert.ok(indexOf(run, (e) => e.type === 'plan') > evalDone);
    assert.ok(indexOf(run, (e) => e.type === 'node-phase' && e.node === 'st1' && e.phase === 'copy') > evalDone, 'st1 copied only after the evaluation');
  });

  test('a node that fails to evaluate: fail-fast stops the run with no host touched; --keep-going deploys the others', { timeout: 300_000 }, async () => {
    const nonce = randomBytes(4).toString('hex');
    const spec = (name: string) => `system { name = "${name}-${nonce}"; witness = ${JSON.stringify(ctx.lab.witness)}; }`;
    await writeFile(ctx.hive, `let system = import ${JSON.stringify(systemNix)}; in { st1 = ${spec('st1')}; st2 = throw "st2 is broken on purpose"; st3 = ${spec('st3')}; }\n`);
    // The same systems without the broken node: their out paths, nothing built.
    await writeFile(`${ctx.lab.dir}/st-ok.nix`, `let system = import ${JSON.stringify(systemNix)}; in { st1 = ${spec('st1')}; st3 = ${spec('st3')}; }\n`);
    const outs = await evalOutPaths(`${ctx.lab.dir}/st-ok.nix`);
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await snapshotHost(ctx.lab, n)] as const)));
    const failFast = await runFleet(['-f', ctx.fleetFile, 'apply', '--json', ...TIGHT]);
    assert.equal(failFast.code, 1, failFast.stderr);
    assert.deepEqual(outcomesOf(failFast), { st1: 'skipped', st2: 'failed', st3: 'skipped' }, JSON.stringify(summaryOf(failFast).nodes));
    assert.match(nodeDoneText(failFast, 'st2'), /st2 is broken on purpose/);
    assert.match(nodeDoneText(failFast, 'st1'), /not started: an earlier node failed \(use --keep-going to continue past failures\)/);
    for (const node of NODES) assert.deepEqual(await snapshotHost(ctx.lab, node), before[node], `${node} untouched`);
    for (const node of ['st1', 'st3']) assert.notEqual((await ctx.lab.exec(node, ['nix-store', '--check-validity', outs[node]!])).exitCode, 0, `nothing copied to ${node}`);
    assert.equal(failFast.events.filter((e) => e.type === 'node-phase' && e.phase === 'copy').length, 0);

    const keepGoing = await runFleet(['-f', ctx.fleetFile, 'apply', '--json', '--keep-going', ...TIGHT]);
    assert.equal(keepGoing.code, 1, keepGoing.stderr);
    assert.deepEqual(outcomesOf(keepGoing), { st1: 'activated', st2: 'failed', st3: 'activated' });
    for (const node of ['st1', 'st3']) {
      const state = await readSystemState(ctx.lab, node);
      assert.deepEqual([state.current, state.profile], [outs[node], outs[node]], `${node} on its new system`);
    }
    assert.deepEqual(await snapshotHost(ctx.lab, 'st2'), before.st2, 'st2 untouched');
  });
});

describe('streaming evaluation: a derivation shared across chunks, with real Nix', { skip: requireLabCapable() }, () => {
  test('built once: a later chunk\'s node whose system is already building waits for that build (one build-start, one build by the witness)', { timeout: 300_000 }, async () => {
    const dir = await mkdtemp('/tmp/fleet-stream-dedupe-');
    await chmod(dir, 0o777); // the builders (nixbld users) write the witness and the gate here
    const witness = join(dir, 'witness');
    await writeFile(witness, '');
    await chmod(witness, 0o666);
    const gate = join(dir, 'gate');
    const nonce = randomBytes(4).toString('hex');
    // a1's build holds until the gate exists; only a3's build opens it, and a3 is evaluated only once a1's build has
    // begun: so a2 (a1's system, a later chunk) comes while a1's build runs.
    const shared = `system { name = "shared-${nonce}"; witness = ${JSON.stringify(witness)}; buildGate = ${JSON.stringify(gate)}; }`;
    const opener = `derivation { name = "opener-\${${waitUntil(`grep -q shared-${nonce} ${witness}`, 'begun')}}-${nonce}"; system = builtins.currentSystem; builder = "/bin/sh"; PATH = "/usr/bin:/bin"; args = [ "-c" "touch ${gate}; echo > $out" ]; }`;
    await writeFile(join(dir, 'hive.nix'), `let system = import ${JSON.stringify(systemNix)}; in { a1 = ${shared}; a2 = ${shared}; a3 = ${opener}; }\n`);
    const nodes = ['a1', 'a2', 'a3'].map((n) => `  ${n}:\n    host: ${n}.invalid # never contacted: goal build asks no target\n`).join('');
    await writeFile(join(dir, 'fleet.yaml'), `version: 1\nnix:\n  file: ./hive.nix\nnodes:\n${nodes}`);
    const run = await runFleet(['-f', join(dir, 'fleet.yaml'), 'apply', 'build', '--json', ...TIGHT], EXEC_ENV);
    assert.equal(run.code, 0, run.stderr || run.stdout.slice(-3000));
    assert.deepEqual(outcomesOf(run), { a1: 'built', a2: 'built', a3: 'built' });
    const chunks = run.events.flatMap((e) => (e.type === 'eval-chunk' ? [e.nodes] : []));
    assert.deepEqual(chunks[0], ['a1'], 'a1 alone in the first chunk, a2 in a later one');
    const plans = run.events.flatMap((e) => (e.type === 'plan' ? e.plan.nodes : []));
    const drv = plans.find((n) => n.name === 'a1')!.drvPath;
    assert.equal(plans.find((n) => n.name === 'a2')!.drvPath, drv, 'a1 and a2 share a derivation');
    assert.match(plans.find((n) => n.name === 'a3')!.drvPath, /-opener-begun-/, 'a3 was evaluated once a1\'s build had begun');
    const starts = run.events.filter((e) => e.type === 'build-start' && e.drvPaths.includes(drv));
    assert.equal(starts.length, 1, 'one build of the shared derivation');
    assert.deepEqual((await readFile(witness, 'utf8')).split('\n').filter((l) => l.includes(`shared-${nonce}`)).length, 1, 'built once (the witness)');
  });
});
