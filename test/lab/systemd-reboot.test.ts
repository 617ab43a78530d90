// Reboots with a deadline on systemd lab hosts (issue 22 §2), which reboot for real (the container's systemd asks
// nspawn for a new boot): apply boot|switch --reboot comes back on the new system, fleet reboot on the boot default,
// a host that never comes back is reported as such (exit 3), a health check that fails after the reboot goes back
// through a second reboot, and waves gate on reboots. Every claim is read on the hosts: their boot ids and boot list,
// /run/booted-system, /run/current-system, the profile, the lock directory, the journal's unit start times.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { readLocks, readSystemState } from '../../lab/index.js';
import type { EventOf, FleetEvent } from '../../src/events.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { nodeDoneText, outcomesOf, runFleet, summaryOf, type FleetRun } from './run-fleet.js';

const NODES = ['b1', 'b2', 'b3', 'gone'];
const BOOT_ID = '/proc/sys/kernel/random/boot_id';

const eventsOf = <T extends FleetEvent['type']>(run: FleetRun, type: T) => run.events.filter((e): e is EventOf<T> => e.type === type);
const indexOf = (run: FleetRun, match: (e: FleetEvent) => boolean, what: string) => {
  const i = run.events.findIndex(match);
  assert.ok(i >= 0, `no event: ${what}`);
  return i;
};

describe('reboots with a deadline on systemd hosts', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const nonce = randomBytes(4).toString('hex');
  let hive: string;
  let file: string;
  let n = 0;

  /** Every node gets a new system (its name says the step; `bad` ones fail the health check); returns the out paths. */
  const configure = (bad: string[] = []) => {
    const step = ++n;
    return configureHive(ctx.lab, hive, Object.fromEntries(NODES.map((node) => [node, { name: `s${step}-${node}-${bad.includes(node) ? 'bad' : 'ok'}-${nonce}` }])));
  };
  const read = async (host: string, argv: string[]) => (await ctx.lab.exec(host, argv)).stdout.trim();
  const bootId = (host: string) => read(host, ['cat', BOOT_ID]);
  const booted = (host: string) => read(host, ['readlink', '/run/booted-system']);
  /** When the host's current boot began: its boot unit made /run/booted-system then (epoch seconds, microseconds). */
  const bootTime = async (host: string) => Number(await read(host, ['stat', '-c', '%.6Y', '/run/booted-system']));
  /** When the run's activation unit of the node started, by the host's journal. */
  const activationStart = async (host: string, run: FleetRun) => {
    await ctx.lab.exec(host, ['journalctl', '--sync']);
    const line = await read(host, ['sh', '-c', `journalctl -q --no-pager -o short-unix -u 'fleet-${run.events[0]!.run}-${host}-activate.service' | head -1`]);
    return Number(line.split(' ')[0]);
  };

  before(async () => {
    hive = `${ctx.lab.dir}/hive.nix`;
    // One health check that fails on a system named bad; plenty of checks ride the master reopened after the reboot.
    file = await ctx.lab.writeFleet({
      nixFile: hive,
      defaults: { healthChecks: [{ name: 'not-bad', command: ['sh', '-c', '! readlink /run/current-system | grep -q -- -bad-'], timeout: '5s', retries: 0 }] },
    });
    await configure();
    const base = await runFleet(['-f', file, 'apply', '--json', '--on', '!gone']);
    assert.equal(base.code, 0, base.stderr);
  });

  test('apply boot --reboot: each node comes back with a new boot id on the new system (booted and current), healthy; its lock released', async () => {
    const outs = await configure();
    const ids = { b1: await bootId('b1'), b2: await bootId('b2') };
    const run = await runFleet(['-f', file, 'apply', 'boot', '--reboot', '--json', '--on', 'b1,b2']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), { b1: 'activated', b2: 'activated' });
    for (const node of ['b1', 'b2'] as const) {
      assert.notEqual(await bootId(node), ids[node], `${node}: a new boot`);
      assert.ok((await read(node, ['journalctl', '--list-boots', '--no-pager'])).includes(ids[node].replaceAll('-', '')), `${node}: the old boot is in its boot list`);
      assert.equal(await booted(node), outs[node], `${node}: /run/booted-system`);
      const state = await readSystemState(ctx.lab, node);
      assert.deepEqual([state.current, state.profile], [outs[node], outs[node]], `${node}: /run/current-system and the profile`);
      assert.equal(await readLocks(ctx.lab, node), '', `${node}: no lock left (taken again after the reboot, released at the end)`);
      const phases = eventsOf(run, 'node-phase').filter((e) => e.node === node).map((e) => e.phase);
      assert.deepEqual(phases.slice(phases.indexOf('verify')), ['verify', 'reboot', 'reboot', 'reboot', 'health'], `${node}: rebooted after the activation, checked after the reboot`);
      assert.ok(eventsOf(run, 'health').some((e) => e.node === node && e.ok), `${node}: its health check passed after the reboot`);
    }
  });

  test('switch --reboot (magic rollback first): confirmed, then rebooted into the new system', async () => {
    const outs = await configure();
    const id = await bootId('b3');
    const run = await runFleet(['-f', file, 'apply', '--reboot', '--json', '--on', 'b3']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(indexOf(run, (e) => e.type === 'node-phase' && e.node === 'b3' && e.phase === 'confirm', 'confirm') < indexOf(run, (e) => e.type === 'node-phase' && e.node === 'b3' && e.phase === 'reboot', 'reboot'));
    assert.notEqual(await bootId('b3'), id);
    assert.deepEqual([await booted('b3'), (await readSystemState(ctx.lab, 'b3')).current], [outs.b3, outs.b3]);
  });

  test('the SSH master dies with the reboot and is opened again: the calls after it ride it (sshd\'s own log of the new boot)', async () => {
    // Five checks: with the probe, the lock's release and the poll that saw the new boot id, 8 calls after the reboot.
    const checks = Array.from({ length: 5 }, (_v, i) => ({ name: `c${i}`, command: ['true'] }));
    const many = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-checks.yaml`, defaults: { healthChecks: checks } });
    const run = await runFleet(['-f', many, 'reboot', '--json', '--on', 'b2']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(eventsOf(run, 'health').filter((e) => e.ok).length, 5);
    await ctx.lab.exec('b2', ['journalctl', '--sync']);
    const logins = (await read('b2', ['sh', '-c', 'journalctl -b 0 -t sshd -o cat -q --no-pager | grep -c "Accepted publickey" || true']));
    // The first poll of the new boot connects on its own while the master is opened again; the rest ride the master.
    assert.ok(Number(logins) >= 1 && Number(logins) <= 3, `${logins} SSH logins in the new boot for 8 calls`);
  });

  test('a health check that fails after the reboot: the old generation is the boot entry again and the node reboots into it', async () => {
    const before = await readSystemState(ctx.lab, 'b1');
    const outs = await configure(['b1']);
    const id = await bootId('b1');
    const run = await runFleet(['-f', file, 'apply', 'boot', '--reboot', '--json', '--on', 'b1']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { b1: 'rolled-back' });
    assert.match(nodeDoneText(run, 'b1'), new RegExp(`health check \`not-bad\` failed: exit 1; rolled back to ${before.link} \\(${before.profile}\\) and rebooted into it`));
    assert.equal(eventsOf(run, 'node-phase').filter((e) => e.node === 'b1' && e.phase === 'reboot' && e.detail.startsWith('rebooting')).length, 2, 'two reboots');
    assert.ok((await read('b1', ['journalctl', '--list-boots', '--no-pager'])).includes(id.replaceAll('-', '')));
    assert.deepEqual(await readSystemState(ctx.lab, 'b1'), before, 'back on exactly its old generation');
    assert.equal(await booted('b1'), before.current, 'and booted on it');
    assert.notEqual(before.current, outs.b1);
  });

  test('waves gate on reboots: the next wave activates only after the previous wave came back (events, and the hosts\' boot and unit times)', async () => {
    await configure();
    const run = await runFleet(['-f', file, 'apply', 'boot', '--reboot', '--json', '--on', 'b1,b2,b3', '--waves', '1']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(eventsOf(run, 'wave-start').map((e) => e.nodes), [['b1'], ['b2'], ['b3']]);
    const back = (node: string) => indexOf(run, (e) => e.type === 'node-phase' && e.node === node && e.phase === 'reboot' && e.detail.startsWith('back on'), `${node} back`);
    const activates = (node: string) => indexOf(run, (e) => e.type === 'node-phase' && e.node === node && e.phase === 'activate', `${node} activates`);
    assert.ok(back('b1') < activates('b2') && back('b2') < activates('b3'), 'events: each wave activates after the previous wave is back');
    // The hosts' own clocks (one machine clock): b2's activation unit started after b1's new boot began, b3's after b2's.
    for (const [earlier, later] of [['b1', 'b2'], ['b2', 'b3']] as const) {
      const [bootedAt, startedAt] = [await bootTime(earlier), await activationStart(later, run)];
      assert.ok(bootedAt > 0 && startedAt > bootedAt, `${later} activated at ${startedAt}, after ${earlier} booted at ${bootedAt}`);
    }
  });

  test('fleet reboot: every node reboots onto its boot default and passes its checks; a host that never comes back: unreachable-after-reboot, exit 3', async () => {
    // `gone` powers off instead of rebooting (its reboot.target is poweroff.target): nspawn then ends for good.
    const deployed = await runFleet(['-f', file, 'apply', 'boot', '--json', '--on', 'gone']);
    assert.equal(deployed.code, 0, deployed.stderr);
    const setup = await ctx.lab.exec('gone', ['sh', '-c', 'ln -sf /lib/systemd/system/poweroff.target /etc/systemd/system/reboot.target && systemctl daemon-reload']);
    assert.equal(setup.exitCode, 0, setup.stderr);
    const ids = Object.fromEntries(await Promise.all(['b2', 'b3', 'gone'].map(async (h) => [h, await bootId(h)] as const)));
    const defaults = Object.fromEntries(await Promise.all(['b2', 'b3'].map(async (h) => [h, (await readSystemState(ctx.lab, h)).profile] as const)));
    const run = await runFleet(['-f', file, 'reboot', '--json', '--on', 'b2,b3,gone', '--reboot-timeout', '15s']);
    assert.equal(run.code, 3, run.stderr);
    assert.deepEqual(outcomesOf(run), { b2: 'rebooted', b3: 'rebooted', gone: 'unreachable-after-reboot' });
    assert.equal(summaryOf(run).command, 'reboot');
    for (const node of ['b2', 'b3']) {
      assert.notEqual(await bootId(node), ids[node], `${node}: a new boot`);
      assert.deepEqual([await booted(node), (await readSystemState(ctx.lab, node)).current], [defaults[node], defaults[node]], `${node}: on its boot default`);
      assert.ok(eventsOf(run, 'health').some((e) => e.node === node && e.ok), `${node}: checked after the reboot`);
    }
    assert.match(nodeDoneText(run, 'gone'), new RegExp(`did not come back within 15s of its reboot \\(--reboot-timeout\\); last: .*Its state is unknown: check its console.*\`fleet exec --on gone -- cat ${BOOT_ID}\` \\(it was ${ids.gone} before the reboot\\)`));
    assert.equal(ctx.lab.pid1('gone'), undefined, 'the host is down for good (no systemd in its cgroup)');
  });
});
