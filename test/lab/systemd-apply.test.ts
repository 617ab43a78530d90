// `fleet apply` against systemd lab hosts: activation under systemd-run, sudo users through the nix-daemon, IPv6 and
// port host specs, boot + reboot. Every assertion reads the hosts themselves (journal, store, links).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { readSystemState, type StandInSpec, type SystemState } from '../../lab/index.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab, type SystemdLab } from './support.js';
import { nodeDoneText, outcomesOf, planOf, runFleet, summaryOf } from './run-fleet.js';

const NODES = ['n1', 'n2', 'n3', 'n4'];

/** Every activation unit (fleet-<run>-<node>-activate) PID 1 started on host: unit name, system and what it runs, from
 *  its "Started" line (the unit's description: `fleet: <system>: <what it runs>`). */
async function switchUnits(lab: SystemdLab, host: string): Promise<{ unit: string; out: string; runs: string }[]> {
  const journal = (await lab.exec(host, ['journalctl', '-o', 'cat', '--no-pager', '_PID=1'])).stdout;
  return [...journal.matchAll(/^Started (fleet-[\w-]+-activate)\.service - fleet: (\/nix\/store\/[^\s:]+): (.+)\.$/gm)].map((m) => ({
    unit: m[1]!, out: m[2]!, runs: m[3]!,
  }));
}

/** What an activation unit runs for each goal (magic rollback on: switch and test go live with `test` first). */
const RUNS: Record<string, RegExp> = {
  'dry-activate': /^switch-to-configuration dry-activate$/,
  test: /^switch-to-configuration test; back to what \/run\/fleet\/\S+\/before records unless fleet confirms within \d+s$/,
  boot: /^nix-env --set, then switch-to-configuration boot$/,
  switch: /^switch-to-configuration test, then nix-env --set and switch-to-configuration boot once confirmed; back to what \/run\/fleet\/\S+\/before records unless fleet confirms within \d+s$/,
};

const journal = async (lab: SystemdLab, host: string, args: string[]) => (await lab.exec(host, ['journalctl', '-o', 'cat', '--no-pager', ...args])).stdout;

describe('fleet apply on systemd lab hosts', { skip: requireSystemdLabCapable() }, () => {
  // n4's nix-daemon does not trust deploy: the copy-refused case.
  const ctx = useSystemdLab({ before, after }, { hosts: NODES, trustedUsers: { n4: ['root'] } });
  const nonce = randomBytes(4).toString('hex');
  let hive: string;
  let n = 0;
  /** A fresh system per call (its own name), for the given nodes; others keep a fixed spec. */
  const configure = (specs: Record<string, Omit<StandInSpec, 'nonce'>>) =>
    configureHive(ctx.lab, hive, Object.fromEntries(NODES.map((node) => [node, { name: 'idle', ...specs[node], nonce }])));
  const fresh = (variant?: StandInSpec['variant']) => ({ name: `s${++n}-${nonce}`, ...(variant ? { variant } : {}) });
  const state = (host: string) => readSystemState(ctx.lab, host);

  before(() => {
    hive = `${ctx.lab.dir}/hive.nix`;
  });

  test('switch, test, boot and dry-activate each run under systemd-run: one transient unit per run in the target\'s journal', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-goals.yaml` });
    const apply = async (goal: string) => {
      const system = fresh();
      const out = (await configure({ n1: system })).n1!;
      const units = await switchUnits(ctx.lab, 'n1');
      const run = await runFleet(['-f', file, 'apply', goal, '--on', 'n1', '--json']);
      assert.equal(run.code, 0, `${goal}: ${run.stderr}`);
      const added = (await switchUnits(ctx.lab, 'n1')).filter((u) => !units.some((v) => v.unit === u.unit));
      assert.deepEqual(added.map((u) => u.out), [out], `${goal}: one activation unit, of the new system`);
      assert.match(added[0]!.runs, RUNS[goal]!, `${goal}: the unit says what it runs`);
      return out;
    };
    const before0: SystemState = await state('n1');
    await apply('dry-activate');
    assert.deepEqual(await state('n1'), before0, 'dry-activate changed nothing');
    const tested = await apply('test');
    assert.deepEqual(await state('n1'), { ...before0, current: tested }, 'test: live system only, profile untouched');
    const booted = await apply('boot');
    assert.deepEqual(await state('n1'), { current: tested, link: 'system-1-link', profile: booted }, 'boot: profile only');
    const switched = await apply('switch');
    assert.deepEqual(await state('n1'), { current: switched, link: 'system-2-link', profile: switched });
  });

  test('a switch that fails half-way is rolled back exactly (profile generation and /run/current-system)', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-root.yaml` });
    const good = (await configure({ n2: fresh() })).n2!;
    assert.equal((await runFleet(['-f', file, 'apply', '--on', 'n2', '--json'])).code, 0);
    const previous = await state('n2');
    assert.equal(previous.current, good);
    await configure({ n2: fresh('fail-halfway') });
    const run = await runFleet(['-f', file, 'apply', '--on', 'n2', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(outcomesOf(run).n2, 'rolled-back', nodeDoneText(run, 'n2'));
    assert.deepEqual(await state('n2'), previous);
    assert.equal((await ctx.lab.exec('n2', ['readlink', '/nix/var/fleet-lab/boot-default'])).stdout.trim(), good, 'boots the old system too');
  });

  test('as user deploy: sudo on the target, closure copied through the nix-daemon, a failed switch rolled back exactly', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-deploy.yaml`, defaults: { user: 'deploy' } });
    const out = (await configure({ n3: fresh() })).n3!;
    const daemonBefore = (await journal(ctx.lab, 'n3', ['-u', 'nix-daemon.service'])).split('\n').length;
    const run = await runFleet(['-f', file, 'apply', '--on', 'n3', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(outcomesOf(run).n3, 'activated');
    assert.deepEqual(await state('n3'), { current: out, link: 'system-1-link', profile: out });
    assert.equal((await ctx.lab.exec('n3', ['stat', '-c', '%U', out])).stdout.trim(), 'root', 'the daemon wrote the path');
    const daemonLog = (await journal(ctx.lab, 'n3', ['-u', 'nix-daemon.service'])).split('\n').slice(daemonBefore - 1).join('\n');
    assert.match(daemonLog, /accepted connection from pid \d+, user deploy/);
    assert.match(await journal(ctx.lab, 'n3', ['-t', 'sudo']), /deploy : .*USER=root ; COMMAND=/, 'activation went through sudo');
    assert.ok((await switchUnits(ctx.lab, 'n3')).some((u) => u.out === out && RUNS.switch!.test(u.runs)), 'under systemd-run');

    const previous = await state('n3');
    await configure({ n3: fresh('fail-halfway') });
    const failed = await runFleet(['-f', file, 'apply', '--on', 'n3', '--json']);
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal(outcomesOf(failed).n3, 'rolled-back', nodeDoneText(failed, 'n3'));
    assert.deepEqual(await state('n3'), previous);
  });

  test('hosts given as "[v6]", "deploy@[v6]" and an IPv4 address with a port', async () => {
    const [h1, h2, h3] = ['n1', 'n2', 'n3'].map((name) => ctx.lab.hosts.find((h) => h.name === name)!);
    const file = await ctx.lab.writeFleet({
      nixFile: hive,
      path: `${ctx.lab.dir}/fleet-forms.yaml`,
      nodes: { n1: { host: `[${h1!.v6}]` }, n2: { host: `deploy@[${h2!.v6}]` }, n3: { host: h3!.v4, port: h3!.altPort } },
    });
    const system = fresh();
    const outs = await configure({ n1: system, n2: system, n3: system });
    const run = await runFleet(['-f', file, 'apply', '--on', 'n1,n2,n3', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), { n1: 'activated', n2: 'activated', n3: 'activated' });
    for (const node of ['n1', 'n2', 'n3']) assert.equal((await state(node)).current, outs[node], node);
    const sshd = async (host: string) => journal(ctx.lab, host, ['-t', 'sshd']);
    assert.match(await sshd('n1'), new RegExp(`Connection from ${ctx.lab.subnet.gateway6} port \\d+ on ${h1!.v6} port 22`));
    assert.match(await sshd('n2'), new RegExp(`Accepted publickey for deploy from ${ctx.lab.subnet.gateway6} `));
    assert.match(await sshd('n3'), new RegExp(`Connection from ${ctx.lab.subnet.gateway4.replaceAll('.', '\\.')} port \\d+ on ${h3!.v4.replaceAll('.', '\\.')} port ${h3!.altPort}`));
  });

  test('boot, then a reboot: the host comes up on the new system and fleet plan sees it up to date', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-boot.yaml` });
    const out = (await configure({ n2: fresh() })).n2!;
    const running = (await state('n2')).current;
    const booted = await runFleet(['-f', file, 'apply', 'boot', '--on', 'n2', '--json']);
    assert.equal(booted.code, 0, booted.stderr);
    assert.deepEqual([(await state('n2')).current, (await state('n2')).profile], [running, out], 'boot: the running system stays until a reboot');
    const n2Plan = async () => {
      const r = await runFleet(['-f', file, 'plan', '--on', 'n2', '--json']);
      assert.equal(r.code, 0, r.stderr);
      return planOf(r).nodes.find((x) => x.name === 'n2')!;
    };
    assert.equal((await n2Plan()).activate, true, 'before the reboot, n2 does not run the new system yet');
    await ctx.lab.reboot('n2');
    assert.equal((await state('n2')).current, out, 'up on the new system');
    assert.equal((await ctx.lab.exec('n2', ['readlink', '/run/booted-system'])).stdout.trim(), out);
    assert.equal((await n2Plan()).activate, false, 'fleet plan: up to date');
  });

  test('deploy without trusted-users on the target: the copy is refused, nothing is activated', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-untrusted.yaml`, defaults: { user: 'deploy' } });
    const previous = await state('n4');
    const out = (await configure({ n4: fresh() })).n4!;
    const run = await runFleet(['-f', file, 'apply', '--on', 'n4', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(outcomesOf(run).n4, 'failed');
    assert.match(nodeDoneText(run, 'n4'), /lacks a valid signature/, 'Nix\'s own reason is shown');
    assert.deepEqual(await state('n4'), previous);
    assert.notEqual((await ctx.lab.exec('n4', ['nix-store', '--check-validity', out])).exitCode, 0, 'nothing was imported');
  });

  test('deploy without trusted-users: the failure names the fix (trusted-users, or deploy as root)', async () => {
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-untrusted.yaml`, defaults: { user: 'deploy' } });
    await configure({ n4: fresh() });
    const run = await runFleet(['-f', file, 'apply', '--on', 'n4', '--json']);
    assert.equal(run.code, 1, run.stderr);
    const error = summaryOf(run).nodes.n4?.error ?? '';
    assert.match(error, /add `deploy` to `trusted-users` in the target's \/etc\/nix\/nix\.conf/);
    assert.match(error, /or deploy as root/);
  });
});
