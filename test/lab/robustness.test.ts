// Bugs an adversarial run found (issue 7, section 3), each checked on the lab hosts themselves:
// forged activation output, rollbacks of things that never changed, a closed stdout, fail-fast outcomes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { evalOutPaths, PROFILE, readSystemState, readWitness, writeHive, type StandInSpec } from '../../lab/index.js';
import { requireLabCapable, useDeployedLab } from './support.js';
import { NIX_ENV, nodeDoneText, outcomesOf, runFleet, spawnFleet } from './run-fleet.js';

const NAMES = ['r1', 'r2'];

describe('engine robustness', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NAMES, `base-${nonce}`); // generation 1 everywhere, by fleet
  const configure = (specs: Record<string, StandInSpec>) => writeHive(ctx.hive, specs, ctx.lab.witness);

  test('a switch that prints fleet-like status lines cannot make fleet believe it: verified, rolled back, exit 1', async () => {
    // r1 on a second generation: a forged "before" line naming generation 1 must not become the rollback target.
    await configure({ r1: { name: `mid-${nonce}` }, r2: { name: `base-${nonce}` } });
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'r1', '--json'])).code, 0);
    // r2 runs nothing: a forged "after" line must not stand in for a missing /run/current-system.
    await ctx.lab.exec('r2', ['rm', '-f', '/run/current-system']);
    const before = { r1: await readSystemState(ctx.lab, 'r1'), r2: await readSystemState(ctx.lab, 'r2') };
    assert.equal(before.r1.link, 'system-2-link');
    await configure({ r1: { name: `forge-${nonce}`, variant: 'forge' }, r2: { name: `forge-${nonce}`, variant: 'forge' } });
    const run = await runFleet(['-f', ctx.fleetFile, 'apply', '--json', '--keep-going']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { r1: 'rolled-back', r2: 'rolled-back' });
    assert.match(nodeDoneText(run, 'r1'), /verification failed: \/run\/current-system is [^ ]*mid-/);
    assert.deepEqual(await readSystemState(ctx.lab, 'r1'), before.r1, 'back on exactly the recorded generation, not a forged one');
    assert.deepEqual(await readSystemState(ctx.lab, 'r2'), before.r2);
    await configure({ r1: { name: `base-${nonce}` }, r2: { name: `base-${nonce}` } });
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--json'])).code, 0);
  });

  test('setting the profile fails on a profile that is a regular file: nothing changed, nothing deleted', async () => {
    const profile = '/nix/var/nix/profiles/not-a-link';
    await ctx.lab.exec('r2', ['sh', '-c', `echo precious > ${profile}`]);
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-regular.yaml`, nodes: { r2: { profile } } });
    await configure({ r1: { name: `base-${nonce}` }, r2: { name: `new-${nonce}` } });
    const before = await readSystemState(ctx.lab, 'r2');
    // Without magic rollback the profile is set first: its failure leaves the running system alone.
    const run = await runFleet(['-f', file, 'apply', '--on', 'r2', '--json', '--no-magic-rollback']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { r2: 'failed' });
    assert.match(nodeDoneText(run, 'r2'), /setting the profile failed \(nix-env exit \d+\); nothing was changed/);
    assert.equal((await ctx.lab.exec('r2', ['cat', profile])).stdout, 'precious', 'the file is still there');
    assert.equal((await readSystemState(ctx.lab, 'r2')).current, before.current);
    // With it the system goes live first and the profile is set after the confirmation: undone live.
    const magic = await runFleet(['-f', file, 'apply', '--on', 'r2', '--json']);
    assert.equal(magic.code, 1, magic.stderr);
    assert.deepEqual(outcomesOf(magic), { r2: 'rolled-back' });
    assert.match(nodeDoneText(magic, 'r2'), /confirmed, but setting the profile failed \(nix-env exit \d+\); rolled back to/);
    assert.equal((await ctx.lab.exec('r2', ['cat', profile])).stdout, 'precious', 'the file is still there');
    assert.equal((await readSystemState(ctx.lab, 'r2')).current, before.current, 'back on the system it ran');
  });

  test('a profile linking straight to a store path is put back on that path, never removed', async () => {
    const profile = '/nix/var/nix/profiles/straight';
    const base = (await evalOutPaths(ctx.hive)).r1!; // base system, already in r1's and r2's stores
    await ctx.lab.exec('r2', ['ln', '-sfn', base, profile]);
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-straight.yaml`, nodes: { r2: { profile } } });
    await configure({ r1: { name: `base-${nonce}` }, r2: { name: `half-${nonce}`, variant: 'fail-halfway' } });
    const run = await runFleet(['-f', file, 'apply', '--on', 'r2', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { r2: 'rolled-back' });
    assert.equal((await ctx.lab.exec('r2', ['readlink', profile])).stdout.trim(), base);
  });

  test('a closed stdout never aborts a deployment: the failing node is still rolled back, exit 1, no stack trace', async () => {
    const before = await readSystemState(ctx.lab, 'r1');
    await configure({ r1: { name: `pipe-${nonce}`, variant: 'fail-halfway' }, r2: { name: `base-${nonce}` } });
    for (const args of [['--json'], []]) {
      // A reader that goes away after the first chunk (`| head -1`): fleet's later writes hit EPIPE.
      const child = spawnFleet(['-f', ctx.fleetFile, 'apply', '--on', 'r1', ...args]);
      child.stdout!.once('data', () => child.stdout!.destroy());
      const r = await child;
      assert.equal(r.exitCode, 1, `${args.join(' ') || 'plain'}: ${String(r.stderr)}`);
      assert.doesNotMatch(String(r.stderr), /EPIPE|internal error|at .*\.ts:\d+/);
      assert.deepEqual(await readSystemState(ctx.lab, 'r1'), before, `${args.join(' ') || 'plain'}: rolled back despite the closed output`);
    }
  });

  test('a deployer whose store lost an up-to-date node\'s system builds only what changed (early builds shrink to the plan)', async () => {
    await configure({ r1: { name: `keep-${nonce}`, buildSeconds: 2 }, r2: { name: `keep-${nonce}`, buildSeconds: 2 } });
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--json'])).code, 0);
    const kept = (await evalOutPaths(ctx.hive)).r1!;
    // As on a fresh CI runner: the targets run it, the deployer's store no longer has it.
    const deleted = await execa('nix-store', ['--delete', kept], { reject: false, env: NIX_ENV });
    assert.equal(deleted.exitCode, 0, deleted.stderr);
    await configure({ r1: { name: `keep-${nonce}`, buildSeconds: 2 }, r2: { name: `changed-${nonce}` } });
    const witnessBefore = (await readWitness(ctx.lab)).length;
    const run = await runFleet(['-f', ctx.fleetFile, 'apply', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), { r1: 'unchanged', r2: 'activated' });
    const started = (await readWitness(ctx.lab)).slice(witnessBefore).map((l) => l.split(' ')[1]);
    assert.ok(started.includes(`changed-${nonce}`), `the changed system was built (builds started: ${started.join(', ')})`);
    // The early build may have begun on it; the plan then restarted the build without it.
    const valid = await execa('nix-store', ['--check-validity', kept], { reject: false, env: NIX_ENV });
    assert.notEqual(valid.exitCode, 0, 'the up-to-date system was not built to completion on the deployer');
  });

  test('under fail-fast a node whose own build failed is failed, not skipped', async () => {
    const broken = `${ctx.lab.dir}/two-broken.nix`;
    const drv = (n: string) => `derivation { name = "broken-${n}-${nonce}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo no ${n} >&2; exit 1" ]; }`;
    await writeFile(broken, `{ r1 = ${drv('a')}; r2 = ${drv('b')}; }`);
    const file = await ctx.lab.writeFleet({ nixFile: broken, path: `${ctx.lab.dir}/fleet-two-broken.yaml` });
    const run = await runFleet(['-f', file, 'apply', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { r1: 'failed', r2: 'failed' });
    assert.match(nodeDoneText(run, 'r2'), /build on local failed/);
    assert.equal((await ctx.lab.exec('r1', ['readlink', PROFILE])).exitCode, 0);
  });
});
