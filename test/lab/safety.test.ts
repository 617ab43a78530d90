// Goals and failure modes against the lab: boot/test/dry-activate/build/push, timeouts, refused
// systems, a rollback that fails (exit 3), pinned host keys, NIX_SSHOPTS. Checked on the hosts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { evalOutPaths, PROFILE, readSystemState, readWitness, writeHive, type StandInSpec } from '../../lab/index.js';
import { eventually } from '../poll.js';
import { requireLabCapable, useDeployedLab } from './support.js';
import { finishedRun, interruptDuringActivation, NIX_ENV, nodeDoneText, outcomesOf, runFleet, spawnFleet, type FleetRun } from './run-fleet.js';

const NAMES = ['s1', 's2', 's3'];

describe('goals and failure modes', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NAMES, `base-${nonce}`); // generation 1 everywhere, by fleet
  const stateOf = async (host: string) => {
    const { current, link } = await readSystemState(ctx.lab, host);
    return { current, link, boot: (await ctx.lab.exec(host, ['readlink', '/nix/var/fleet-lab/boot-default'])).stdout.trim() || undefined };
  };
  const outPathOf = async (node: string) => (await evalOutPaths(ctx.hive))[node]!;
  const inStore = async (host: string, path: string) => (await ctx.lab.exec(host, ['nix-store', '--check-validity', path])).exitCode === 0;
  const configure = (specs: Record<string, StandInSpec>) => writeHive(ctx.hive, specs, ctx.lab.witness);

  test('boot sets the profile and boot entry, leaves the running system; test does the opposite', async () => {
    const before = await stateOf('s1');
    await configure({ s1: { name: `boot-${nonce}` }, s2: { name: `test-${nonce}` }, s3: { name: `base-${nonce}` } });
    const boot = await runFleet(['-f', ctx.fleetFile, 'apply', 'boot', '--on', 's1', '--json']);
    assert.equal(boot.code, 0, boot.stderr);
    const out1 = await outPathOf('s1');
    assert.deepEqual(await stateOf('s1'), { current: before.current, link: 'system-2-link', boot: out1 });
    const t = await runFleet(['-f', ctx.fleetFile, 'apply', 'test', '--on', 's2', '--json']);
    assert.equal(t.code, 0, t.stderr);
    const s2 = await stateOf('s2');
    assert.equal(s2.current, await outPathOf('s2'));
    assert.equal(s2.link, 'system-1-link', 'test does not touch the profile');
    assert.deepEqual(outcomesOf(t), { s2: 'activated' });
  });

  test('dry-activate and build change nothing on targets; push copies without activating', async () => {
    await configure(Object.fromEntries(NAMES.map((n) => [n, { name: `push-${nonce}` }])));
    const out = await outPathOf('s3');
    const before = await stateOf('s3');
    const build = await runFleet(['-f', ctx.fleetFile, 'apply', 'build', '--on', 's3', '--json']);
    assert.deepEqual(outcomesOf(build), { s3: 'built' });
    assert.equal((await execa('nix-store', ['--check-validity', out], { reject: false, env: NIX_ENV })).exitCode, 0, 'built locally');
    assert.equal(await inStore('s3', out), false, 'build copies nothing');
    const push = await runFleet(['-f', ctx.fleetFile, 'apply', 'push', '--on', 's3', '--json']);
    assert.deepEqual(outcomesOf(push), { s3: 'pushed' });
    assert.ok(await inStore('s3', out));
    assert.deepEqual(await stateOf('s3'), before, 'push activates nothing');
    const dry = await runFleet(['-f', ctx.fleetFile, 'apply', 'dry-activate', '--on', 's3', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(await stateOf('s3'), before, 'push activates nothing');
  });

  test('a hung activation is killed on the target after activationTimeout and rolled back', async () => {
    const before = await stateOf('s3');
    await configure({ s1: { name: `base-${nonce}` }, s2: { name: `base-${nonce}` }, s3: { name: `hang-${nonce}`, variant: 'hang' } });
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-timeout.yaml`, nodes: { s3: { activationTimeout: '2s' } } });
    const run = await runFleet(['-f', file, 'apply', '--on', 's3', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { s3: 'rolled-back' });
    assert.match(nodeDoneText(run, 's3'), /switch-to-configuration test failed \(timed out\)/);
    const after = await stateOf('s3');
    assert.equal(after.current, before.current);
    assert.equal(after.link, before.link);
    // Released at the end although its master was being closed meanwhile (the node's work was done).
    assert.equal((await ctx.lab.exec('s3', ['sh', '-c', 'ls /run/fleet/locks 2>/dev/null'])).stdout.trim(), '', 'no lock left on s3');
    assert.equal((await execa('pgrep', ['-x', '-f', 'sleep 86401'], { reject: false })).stdout, '', 'the hung activation is gone');
  });

  test('a build that fails fails its node with the build log; the others build and deploy (--keep-going)', async () => {
    const before = await stateOf('s1');
    const broken = `${ctx.lab.dir}/broken.nix`;
    await writeFile(broken, `let s = import ${JSON.stringify(new URL('../../fixtures/nix/system.nix', import.meta.url).pathname)}; in {
      s1 = derivation { name = "broken-${nonce}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo compiler says no >&2; exit 1" ]; };
      s2 = s { name = "fine-${nonce}"; }; s3 = s { name = "fine-${nonce}"; }; }`);
    const file = await ctx.lab.writeFleet({ nixFile: broken, path: `${ctx.lab.dir}/fleet-broken.yaml` });
    const run = await runFleet(['-f', file, 'apply', '--json', '--keep-going']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { s1: 'failed', s2: 'activated', s3: 'activated' });
    assert.match(nodeDoneText(run, 's1'), /build on local failed/);
    assert.match(nodeDoneText(run, 's1'), /compiler says no/, 'the build log tail is in the node-done event');
    assert.deepEqual(await stateOf('s1'), before);
    const failFast = await runFleet(['-f', file, 'apply', '--json']);
    assert.equal(failFast.code, 1);
    assert.equal(outcomesOf(failFast).s1, 'failed');
  });

  test('a toplevel that is not a system is refused before anything changes', async () => {
    const before = await stateOf('s2');
    const notSystem = `${ctx.lab.dir}/not-system.nix`;
    await writeFile(notSystem, `{ s2 = derivation { name = "not-a-system-${nonce}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo hi > $out" ]; }; }`);
    const file = await ctx.lab.writeFleet({ nixFile: notSystem, path: `${ctx.lab.dir}/fleet-notsystem.yaml` });
    const run = await runFleet(['-f', file, 'apply', '--on', 's2', '--json']);
    assert.equal(run.code, 1);
    assert.deepEqual(outcomesOf(run), { s2: 'failed' });
    assert.match(nodeDoneText(run, 's2'), /is not a system: bin\/switch-to-configuration is missing \(set checkSystem: false to skip this check\)/);
    assert.deepEqual(await stateOf('s2'), before);
  });

  test('a rollback that fails is rollback-failed, exit 3, with the commands to run by hand', async () => {
    await configure({ s1: { name: `once-${nonce}`, variant: 'once' }, s2: { name: `base-${nonce}` }, s3: { name: `base-${nonce}` } });
    const first = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 's1', '--json']);
    assert.equal(first.code, 0, first.stderr);
    const link = (await stateOf('s1')).link!;
    await configure({ s1: { name: `bad-${nonce}`, variant: 'fail-halfway' }, s2: { name: `base-${nonce}` }, s3: { name: `base-${nonce}` } });
    const run = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 's1', '--json']);
    assert.equal(run.code, 3, run.stderr);
    assert.deepEqual(outcomesOf(run), { s1: 'rollback-failed' });
    const generation = /system-(\d+)-link/.exec(link)![1];
    assert.match(nodeDoneText(run, 's1'), new RegExp(`ROLLBACK FAILED: .*On s1 run: nix-env -p ${PROFILE} --switch-generation ${generation} && /nix/store/[^ ]+-once-${nonce}/bin/switch-to-configuration switch`));
    const plain = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 's1']);
    assert.equal(plain.code, 3);
    assert.match(plain.stdout, /ROLLBACK FAILED|rollback-failed/);
  });

  test('a builder whose pinned host key does not match is refused', async () => {
    const s1 = ctx.lab.hosts.find((h) => h.name === 's1')!;
    const s2 = ctx.lab.hosts.find((h) => h.name === 's2')!;
    const wrongKey = (await readFile(`${s2.dir}/ssh_host_ed25519_key.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
    await configure(Object.fromEntries(NAMES.map((n) => [n, { name: `pinned-${nonce}` }])));
    const file = await ctx.lab.writeFleet({
      nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-pinned.yaml`, defaults: { buildHost: 'b' },
      extra: { builders: { b: { host: 'root@127.0.0.1', port: s1.port, systems: ['x86_64-linux'], sshOptions: ['-i', ctx.lab.key, '-o', 'IdentitiesOnly=yes'], publicHostKey: Buffer.from(wrongKey).toString('base64') } } },
    });
    const before = await stateOf('s3');
    const run = await runFleet(['-f', file, 'apply', '--on', 's3', '--json']);
    assert.equal(run.code, 1);
    assert.deepEqual(outcomesOf(run), { s3: 'failed' });
    assert.match(nodeDoneText(run, 's3'), /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
    assert.deepEqual(await stateOf('s3'), before);
  });

  test('buildHost: builders: the deployer\'s Nix spreads the builds over both builders, then copies from here', async () => {
    // Three distinct systems, two builders with one job each: Nix's scheduler must use both, and never build here.
    await writeHive(ctx.hive, Object.fromEntries(NAMES.map((n) => [n, { name: `spread-${n}-${nonce}`, buildSeconds: 1 }])), ctx.lab.witness);
    const builder = (host: string) => ({ host, systems: ['x86_64-linux'], maxJobs: 1 });
    const file = await ctx.lab.writeFleet({
      nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-builders.yaml`, defaults: { buildHost: 'builders' },
      extra: { builders: { b2: builder('s2'), b3: builder('s3') } },
    });
    const witnessBefore = (await readWitness(ctx.lab)).length;
    const run = await runFleet(['-f', file, 'apply', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), { s1: 'activated', s2: 'activated', s3: 'activated' });
    const builtOn = (await readWitness(ctx.lab)).slice(witnessBefore).map((l) => l.split(' ')[0]);
    assert.equal(builtOn.length, 3, `three builds: ${builtOn.join(', ')}`);
    assert.deepEqual([...new Set(builtOn)].sort(), ['s2', 's3'], 'both builders built, the deployer none');
    const outs = await evalOutPaths(ctx.hive);
    for (const n of NAMES) assert.equal((await stateOf(n)).current, outs[n]);
  });

  test('a build host that cannot reach the target: the closure is relayed through the deployer', async () => {
    const s1 = ctx.lab.hosts.find((h) => h.name === 's1')!;
    // From inside any lab host (its own /run), the target's alias leads to a dead port; from here it works.
    const relayConfig = `${ctx.lab.dir}/ssh_config_relay`;
    await writeFile(relayConfig, `Match exec "test -e /run/fleet-lab/sshd.pid"\n  Port 9\n\n${await readFile(ctx.lab.sshConfig, 'utf8')}`);
    await configure(Object.fromEntries(NAMES.map((n) => [n, { name: `relay-${nonce}` }])));
    const file = await ctx.lab.writeFleet({
      nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-relay.yaml`, defaults: { sshConfig: relayConfig, buildHost: 'b' },
      extra: { builders: { b: { host: 'root@127.0.0.1', port: s1.port, systems: ['x86_64-linux'], sshOptions: ['-i', ctx.lab.key, '-o', 'IdentitiesOnly=yes', '-o', `UserKnownHostsFile=${ctx.lab.knownHosts}`] } } },
    });
    const witnessBefore = (await readWitness(ctx.lab)).length;
    const run = await runFleet(['-f', file, 'apply', '--on', 's2', '--json', '--verbose']);
    assert.equal(run.code, 0, `${run.stderr}\n${run.stdout}`);
    const out = await outPathOf('s2');
    assert.deepEqual((await readWitness(ctx.lab)).slice(witnessBefore), [`s1 relay-${nonce}`], 'built on the build host only');
    assert.equal((await execa('nix-store', ['--check-validity', out], { reject: false, env: NIX_ENV })).exitCode, 0, 'the closure passed through the deployer');
    assert.equal((await stateOf('s2')).current, out);
    const logs = run.events.flatMap((e) => (e.type === 'log' ? [e] : []));
    assert.ok(logs.some((l) => l.node === 's2' && l.line.includes(`activated ${out}`)), '--verbose streams the activation output');
  });

  test('NIX_SSHOPTS reaches fleet\'s own ssh and Nix\'s copies', async () => {
    await configure(Object.fromEntries(NAMES.map((n) => [n, { name: `sshopts-${nonce}` }])));
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-nosshconfig.yaml`, defaults: { sshConfig: undefined } });
    assert.doesNotMatch(await readFile(file, 'utf8'), /sshConfig/);
    const without = await runFleet(['-f', file, 'apply', '--on', 's2', '--json']);
    assert.equal(without.code, 1, 'the bare host alias does not resolve without the lab ssh_config');
    const run = await runFleet(['-f', file, 'apply', '--on', 's2', '--json'], { NIX_SSHOPTS: `-F ${ctx.lab.sshConfig}` });
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await stateOf('s2')).current, await outPathOf('s2'));
  });

  test('rollback-all after another run took an earlier wave\'s node: that node is not rolled back (locked), it keeps the other run\'s system', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-waves.yaml`, extra: { rollout: { waves: [1, 1], onFailure: 'rollback-all', pause: '15s' } } });
    await configure({ s1: { name: `wave1-${nonce}` }, s2: { name: `wave2-${nonce}`, variant: 'fail-halfway' }, s3: { name: `base-${nonce}` } });
    const a = spawnFleet(['-f', file, 'apply', '--on', 's1,s2', '--json']);
    // In the pause after wave 1 (s1 activated by A), run B takes s1 over and deploys its own system.
    let b: Promise<FleetRun> | undefined;
    let outsB: Record<string, string> | undefined;
    a.stdout!.on('data', (chunk: Buffer) => {
      if (b || !/"type":"wave-done","wave":1,/.test(chunk.toString())) return;
      b = (async () => {
        await configure({ s1: { name: `other-run-${nonce}` }, s2: { name: `base-${nonce}` }, s3: { name: `base-${nonce}` } });
        outsB = await evalOutPaths(ctx.hive);
        return runFleet(['-f', ctx.fleetFile, 'apply', '--on', 's1', '--json', '--break-lock']);
      })();
    });
    const runA = await finishedRun(a);
    assert.ok(b, 'wave 1 was done before wave 2');
    assert.deepEqual(outcomesOf(await b), { s1: 'activated' }, 'B deployed s1 inside A\'s pause');
    assert.deepEqual(outcomesOf(runA), { s1: 'locked', s2: 'rolled-back' });
    assert.match(nodeDoneText(runA, 's1'), /rolled back with the rest of the rollout: wave 2 failed .*; this run's lock (was taken over by|is gone).*; not rolled back/);
    const s1 = await readSystemState(ctx.lab, 's1');
    assert.deepEqual([s1.current, s1.profile], [outsB!.s1, outsB!.s1], 's1 runs B\'s system: A did not touch it');
  });

  test('run dirs: a node keeps the newest 5 (this run\'s among them) and any still in use; older ones go', async () => {
    const now = Math.floor(Date.now() / 1000);
    // Six finished runs and one whose activation never finished, all older than the next one.
    const plant = ['rm -rf /run/fleet/[!l]*/s3', 'for i in 1 2 3 4 5 6; do d=/run/fleet/old-$i/s3; mkdir -p $d; : > $d/activate.log; echo done > $d/activate.status; touch -d @$((T + i)) $d; done',
      'mkdir -p /run/fleet/busy/s3; : > /run/fleet/busy/s3/activate.log; touch -d @$T /run/fleet/busy/s3'].join('; ');
    assert.equal((await ctx.lab.exec('s3', ['sh', '-c', `T=${now - 600}; ${plant}`])).exitCode, 0);
    await configure({ s1: { name: `base-${nonce}` }, s2: { name: `base-${nonce}` }, s3: { name: `dirs-${nonce}` } });
    const run = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 's3', '--json']);
    assert.deepEqual(outcomesOf(run), { s3: 'activated' }, run.stderr);
    const left = (await ctx.lab.exec('s3', ['sh', '-c', 'ls -d /run/fleet/*/s3'])).stdout.split('\n').sort();
    assert.deepEqual(left, ['busy', 'old-3', 'old-4', 'old-5', 'old-6', run.events[0]!.run].map((r) => `/run/fleet/${r}/s3`).sort());
    assert.equal((await ctx.lab.exec('s3', ['test', '-e', '/run/fleet/old-1'])).exitCode, 1, 'an emptied run\'s dir goes with it');
  });

  test('a directory in the lock\'s place: the node fails saying so, untouched, and nothing is written into the directory', async () => {
    const lock = '/run/fleet/locks/nix-var-nix-profiles-system';
    assert.equal((await ctx.lab.exec('s2', ['sh', '-c', `rm -f ${lock}; mkdir -p ${lock}`])).exitCode, 0);
    try {
      const before = await readSystemState(ctx.lab, 's2');
      await configure({ s1: { name: `base-${nonce}` }, s2: { name: `lockdir-${nonce}` }, s3: { name: `base-${nonce}` } });
      const run = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 's2', '--json']);
      assert.equal(run.code, 1, run.stderr);
      assert.deepEqual(outcomesOf(run), { s2: 'failed' });
      assert.match(nodeDoneText(run, 's2'), new RegExp(`cannot take the lock ${lock}: ${lock} is not a lock \\(a directory or file is in its place: remove it\\)`));
      assert.deepEqual(await readSystemState(ctx.lab, 's2'), before, 'not activated');
      assert.equal((await ctx.lab.exec('s2', ['ls', '-A', lock])).stdout, '', 'no stray symlink left in it');
    } finally {
      await ctx.lab.exec('s2', ['rm', '-rf', lock]);
    }
  });

  test('a second Ctrl+C quits at once: exit 3 naming the nodes left mid-activation, no ssh left behind', async () => {
    await configure({ s1: { name: `quit-${nonce}`, variant: 'hang' }, s2: { name: `base-${nonce}` }, s3: { name: `base-${nonce}` } });
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-quit.yaml`, nodes: { s1: { activationTimeout: '3s' } } });
    const { result: r, sent } = await interruptDuringActivation(['-f', file, 'apply', '--on', 's1', '--json'], 2);
    assert.ok(sent, String(r.stderr));
    assert.equal(r.exitCode, 3, String(r.stderr));
    assert.match(String(r.stderr), /quit while activating s1: their state is unknown/);
    // A client whose master just closed may take a moment to notice: poll, bounded.
    let left = '';
    const gone = async () => !(left = (await execa('pgrep', ['-f', `^ssh .*${ctx.lab.sshConfig}`], { reject: false })).stdout.trim());
    await eventually(gone, { timeoutMs: 3_000 }); // asserted below, with their pids
    assert.equal(left, '', 'the ssh master and its clients are gone');
  });
});
