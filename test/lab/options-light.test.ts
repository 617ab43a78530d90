// Fleet-file keys and flags added with staged rollouts, magic rollback and deploy records, checked on light lab
// hosts: `fleet plan --waves/--max-failures`, `fleet diff boot`, `allowApplyAll: false` for `fleet rollback`,
// a deploy record that cannot be written, `magicRollback: false` in the file and `--confirm-timeout` over the
// file's `confirmTimeout`. Every assertion reads the hosts (system, profile, generations, activation log, run dir).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { readLocks, readSystemState, snapshotHost, type StandInSpec } from '../../lab/index.js';
import { runDir } from '../../src/agent/client.js';
import type { EventOf } from '../../src/events.js';
import { configureHive, requireLabCapable, useDeployedLab } from './support.js';
import { nodeDoneText, outcomesOf, planOf, runFleet } from './run-fleet.js';

const NODES = ['o1', 'o2', 'o3'];

describe('rollout, diff, rollback and magic-rollback options on light hosts', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NODES, `base-${nonce}`); // generation 1 everywhere, by fleet
  /** Every node on `base` unless said otherwise; returns the out paths. */
  const configure = (specs: Record<string, Partial<StandInSpec>> = {}) =>
    configureHive(ctx.lab, ctx.hive, Object.fromEntries(NODES.map((n) => [n, { name: `base-${nonce}`, ...specs[n] }])));
  const snapshots = async () => Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, { ...(await snapshotHost(ctx.lab, n)), locks: await readLocks(ctx.lab, n) }] as const)));
  const holds = async (node: string, path: string) => (await ctx.lab.exec(node, ['nix-store', '--check-validity', path])).exitCode === 0;

  test('plan --waves 1,100% --max-failures 1: the waves as text and in --json plan.waves; nothing built, copied, locked or activated', async () => {
    const outs = await configure(Object.fromEntries(NODES.map((n) => [n, { name: `planned-${nonce}` }])));
    const before = await snapshots();
    const witness = await readFile(ctx.lab.witness, 'utf8');
    const text = await runFleet(['-f', ctx.fleetFile, 'plan', '--waves', '1,100%', '--max-failures', '1']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /\nwaves:\n {2}1: 1 node\(s\), may fail 1: o1\n {2}2: 2 node\(s\), may fail 1: o2, o3\n/, text.stdout);
    const json = await runFleet(['-f', ctx.fleetFile, 'plan', '--waves', '1,100%', '--max-failures', '1', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(planOf(json).waves, [{ nodes: ['o1'], maxFailures: 1 }, { nodes: ['o2', 'o3'], maxFailures: 1 }]);
    assert.deepEqual(await snapshots(), before, 'no host changed (system, profile, generations, activations, locks)');
    assert.equal(await readFile(ctx.lab.witness, 'utf8'), witness, 'nothing was built');
    for (const n of NODES) assert.equal(await holds(n, outs[n]!), false, `${n}: nothing copied`);
  });

  test('fleet rollback without --on where the fleet sets allowApplyAll: false: exit 2, named, nothing touched; with --on it goes back', async () => {
    // o3 gets a second fleet deploy: its records name a generation to go back to.
    const outs = await configure({ o3: { name: `second-${nonce}` } });
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'o3', '--json'])).code, 0);
    assert.equal((await readSystemState(ctx.lab, 'o3')).current, outs.o3);
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-guarded.yaml`, extra: { allowApplyAll: false } });
    const before = await snapshots();
    const refused = await runFleet(['-f', file, 'rollback', '--json']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(refused.stderr, `fleet: ${file} sets allowApplyAll: false: name the nodes with --on (for example --on '*' to mean all of them)`);
    assert.equal(refused.stdout, '', 'no event: nothing started');
    assert.deepEqual(await snapshots(), before, 'no host changed');
    const named = await runFleet(['-f', file, 'rollback', '--on', 'o3', '--json']);
    assert.equal(named.code, 0, named.stderr);
    assert.deepEqual(outcomesOf(named), { o3: 'activated' });
    assert.equal((await readSystemState(ctx.lab, 'o3')).current, before.o1!.current, 'o3 back on the base system');
  });

  test('plan, diff and status print an evaluation error from the fleet\'s Nix without its control characters (a title, a screen clear, C1 controls)', async () => {
    const evil = `${ctx.lab.dir}/evil.nix`;
    // Raw ESC, BEL and the C1 controls U+009B (CSI) and U+0085 in the Nix string: they reach Nix's error message.
    await writeFile(evil, `{ o1 = throw "evil \u001b]0;owned\u0007 \u001b[2J \u009b2J \u0085 end"; }\n`);
    const file = await ctx.lab.writeFleet({ nixFile: evil, path: `${ctx.lab.dir}/fleet-evil.yaml` });
    const before = await snapshots();
    for (const command of ['plan', 'diff', 'status']) {
      const r = await runFleet(['-f', file, command, '--on', 'o1']);
      assert.equal(r.code, 1, `${command}: ${r.stderr}`);
      assert.match(r.stderr, /^error: .*evil .*end/m, `${command} names the error`);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(r.stderr, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, `${command}: no control character but newlines on stderr`);
    }
    assert.deepEqual(await snapshots(), before, 'no host changed');
  });

  test('fleet diff boot compares with the profile (the next boot), diff (switch) with the running system', async () => {
    // o2: `apply boot` of `next` leaves it running base, booting next; then the fleet wants `third`.
    const next = await configure({ o2: { name: `next-${nonce}` } });
    const booted = await runFleet(['-f', ctx.fleetFile, 'apply', 'boot', '--on', 'o2', '--json']);
    assert.equal(booted.code, 0, booted.stderr);
    const state = await readSystemState(ctx.lab, 'o2');
    assert.equal(state.profile, next.o2, 'o2 boots next');
    assert.notEqual(state.current, next.o2, 'o2 still runs base');
    const third = await configure({ o2: { name: `third-${nonce}` } });
    const before = await snapshots();
    const systemsOf = (run: Awaited<ReturnType<typeof runFleet>>) => {
      assert.equal(run.code, 0, run.stderr);
      const diffs = run.events.filter((e): e is EventOf<'diff'> => e.type === 'diff');
      return diffs.find((d) => d.nodes.includes('o2'))!.systems.o2!;
    };
    const boot = systemsOf(await runFleet(['-f', ctx.fleetFile, 'diff', 'boot', '--on', 'o2', '--json']));
    assert.deepEqual([boot.from, boot.to], [next.o2, third.o2], 'boot: from the profile');
    const sw = systemsOf(await runFleet(['-f', ctx.fleetFile, 'diff', '--on', 'o2', '--json']));
    assert.deepEqual([sw.from, sw.to], [state.current, third.o2], 'switch: from /run/current-system');
    assert.deepEqual(await snapshots(), before, 'diff changed no host');
  });

  test('a deploy record that cannot be written (stateDir is a file): `fleet: warning: …`, exit 0, the host runs the new system', async () => {
    const blocked = `${ctx.lab.dir}/o1-state-is-a-file`;
    await writeFile(blocked, 'not a directory\n');
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-norecord.yaml`, nodes: { o1: { stateDir: blocked } } });
    const outs = await configure({ o1: { name: `unrecorded-${nonce}` } });
    const run = await runFleet(['-f', file, 'apply', '--on', 'o1', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), { o1: 'activated' });
    assert.match(run.stderr, new RegExp(`^fleet: warning: o1: the deploy record could not be written to ${blocked}/records \\(.*cannot create ${blocked}.*\\); fleet status will not know of this deploy$`, 'm'));
    const state = await readSystemState(ctx.lab, 'o1');
    assert.deepEqual([state.current, state.profile], [outs.o1, outs.o1], 'the deploy itself stands');
    assert.equal(await readFile(blocked, 'utf8'), 'not a directory\n');
  });

  test('magicRollback: false on a node in the fleet file: no watchdog armed, a system that refuses new SSH connections stays', async () => {
    const outs = await configure({ o1: { name: `cut-${nonce}`, variant: 'cut-ssh' } });
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-nomagic.yaml`, defaults: { confirmTimeout: '3s', connectTimeout: '2s' }, nodes: { o1: { magicRollback: false } } });
    const gens = (await snapshotHost(ctx.lab, 'o1')).generations;
    const run = await runFleet(['-f', file, 'apply', '--on', 'o1', '--json']);
    try {
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(outcomesOf(run), { o1: 'activated' });
      const dir = runDir(run.events[0]!.run, 'o1');
      // The agent's own files: a watchdog gets a window and a token; this activation got neither.
      assert.equal((await ctx.lab.exec('o1', ['sed', '-n', '6p', `${dir}/params`])).stdout.trim(), '0', 'no confirmation window (params: the window is its 6th value)');
      assert.equal((await ctx.lab.exec('o1', ['ls', dir])).stdout.split('\n').filter((f) => /^(token|confirm\.log|confirm\.status)$/.test(f)).length, 0, 'no watchdog files');
      const after = await snapshotHost(ctx.lab, 'o1');
      assert.deepEqual([after.current, after.profile, after.generations], [outs.o1, outs.o1, gens + 1], 'on its new system, made the boot default at once');
      assert.equal(after.activations.at(-1), `switch ${outs.o1}`, 'switched directly (no test-then-confirm), never reverted');
      assert.notEqual((await runFleet(['-f', file, 'plan', '--on', 'o1', '--json'])).code, 0, 'and indeed no new connection gets in');
    } finally {
      await ctx.lab.exec('o1', ['sh', '-c', 'kill -CONT "$(cat /run/fleet-lab/sshd.pid)"']);
    }
    await configure();
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'o1', '--json'])).code, 0, 'o1 back on base');
  });

  test('--confirm-timeout 3s over the file\'s confirmTimeout 60s: the unconfirmable node reverts after the flag\'s window', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-confirm60.yaml`, defaults: { confirmTimeout: '60s', connectTimeout: '2s' } });
    // o3: running and booting base again since the rollback above.
    const before = await snapshotHost(ctx.lab, 'o3');
    const outs = await configure({ o3: { name: `cut3-${nonce}`, variant: 'cut-ssh' } });
    const run = await runFleet(['-f', file, 'apply', '--on', 'o3', '--json', '--confirm-timeout', '3s']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { o3: 'rolled-back' });
    assert.match(nodeDoneText(run, 'o3'), /the confirmation did not arrive within 3s \(a new SSH connection failed: .*\); the node's watchdog rolled it back to system-\d+-link/);
    const after = await snapshotHost(ctx.lab, 'o3');
    assert.deepEqual({ ...after, activations: before.activations }, before, 'back on exactly its recorded system and profile');
    assert.deepEqual(after.activations.slice(before.activations.length), [`test ${outs.o3}`, `switch ${before.current}`], 'live with test, then reverted by the watchdog');
    assert.equal((await runFleet(['-f', file, 'plan', '--on', 'o3', '--json'])).code, 0, 'new connections work again');
  });
});
