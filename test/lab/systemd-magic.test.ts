// Magic rollback on systemd lab hosts (the agent runs as a transient unit): a system that cuts the network for
// good, one whose sshd refuses new connections, and a reboot inside the window. Every assertion reads the hosts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { countGenerations, readSystemState, type StandInSpec } from '../../lab/index.js';
import { runDir } from '../../src/agent/client.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { finishedRun, nodeDoneText, outcomesOf, runFleet, spawnFleet, type FleetRun } from './run-fleet.js';

const NODES = ['g1', 'g2', 'g3'];

describe('magic rollback on systemd hosts', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const nonce = randomBytes(4).toString('hex');
  let hive: string;
  let fleetFile: string;
  const configure = (specs: Record<string, StandInSpec>) => configureHive(ctx.lab, hive, Object.fromEntries(NODES.map((n) => [n, specs[n] ?? { name: `base-${nonce}` }])));
  const generations = (host: string) => countGenerations(ctx.lab, host);
  /** Deploys `spec` to `host` alone: the run fails, the host is back on exactly what it ran and the profile never moved. */
  const revertedDeploy = async (host: string, spec: StandInSpec): Promise<FleetRun> => {
    const before = await readSystemState(ctx.lab, host);
    const gens = await generations(host);
    await configure({ [host]: spec });
    const run = await runFleet(['-f', fleetFile, 'apply', '--on', host, '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { [host]: 'rolled-back' });
    assert.deepEqual(await readSystemState(ctx.lab, host), before, 'exactly the recorded generation and system');
    assert.equal(await generations(host), gens, 'the profile never moved');
    return run;
  };
  /** When the agent wrote a file of this run on the host (epoch seconds, the host's clock). */
  const writtenAt = async (host: string, runId: string, file: string) => Number((await ctx.lab.exec(host, ['stat', '-c', '%Y', `${runDir(runId, host)}/${file}`])).stdout.trim());

  before(async () => {
    hive = `${ctx.lab.dir}/hive.nix`;
    await configure({});
    fleetFile = await ctx.lab.writeFleet({ nixFile: hive, defaults: { confirmTimeout: '5s', connectTimeout: '2s' } });
    const base = await runFleet(['-f', fleetFile, 'apply', '--json']);
    assert.equal(base.code, 0, base.stderr);
  });

  test('a system that cuts the network for good: the host reverts by itself within confirmTimeout, the profile never moved', async () => {
    const run = await revertedDeploy('g1', { name: `cutnet-${nonce}`, variant: 'cut-net' });
    assert.match(nodeDoneText(run, 'g1'), /the confirmation did not arrive within 5s .*the node's watchdog rolled it back to system-1-link/);
    const runId = run.events[0]!.run;
    const live = await writtenAt('g1', runId, 'activate.status');
    const reverted = await writtenAt('g1', runId, 'rollback.status');
    assert.ok(reverted - live >= 5 && reverted - live <= 5 + 5, `reverted ${reverted - live}s after going live (window 5s)`);
    assert.equal((await ctx.lab.exec('g1', ['sh', '-c', 'ip -o link show eth0 | grep -c "state UP"'])).stdout.trim(), '1', 'the old system brought the link back');
    // The transient unit says what it runs, in the journal: test, and boot only once confirmed.
    const journal = (await ctx.lab.exec('g1', ['sh', '-c', 'journalctl --sync; journalctl -o cat --no-pager -u "$1"', 'sh', `fleet-${runId}-g1-activate.service`])).stdout;
    assert.match(journal, /switch-to-configuration test, then nix-env --set and switch-to-configuration boot once confirmed; back to what \/run\/fleet\/\S+\/before records unless fleet confirms within 5s/, journal);
  });

  test('a system whose sshd refuses new connections (open ones go on): the confirmation fails, the host reverts', async () => {
    const run = await revertedDeploy('g2', { name: `cutssh-${nonce}`, variant: 'cut-ssh' });
    assert.match(nodeDoneText(run, 'g2'), /the confirmation did not arrive within 5s \(a new SSH connection failed: .*\); the node's watchdog rolled it back/);
    assert.equal((await runFleet(['-f', fleetFile, 'plan', '--on', 'g2', '--json'])).code, 0, 'new connections work again');
  });

  test('a reboot inside the window: the host comes up on the old system', async () => {
    const before = await readSystemState(ctx.lab, 'g3');
    const gens = await generations('g3');
    // cut-ssh keeps the window open (no confirmation gets in) until the reboot.
    const outs = await configure({ g3: { name: `reboot-${nonce}`, variant: 'cut-ssh' } });
    const file = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-reboot.yaml`, defaults: { confirmTimeout: '60s', connectTimeout: '2s' } });
    const child = spawnFleet(['-f', file, 'apply', '--on', 'g3', '--json']);
    let rebooting: Promise<void> | undefined;
    let liveBeforeReboot: string | undefined;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (rebooting || !/"node":"g3","phase":"confirm"/.test(chunk.toString())) return;
      rebooting = (async () => {
        liveBeforeReboot = (await readSystemState(ctx.lab, 'g3')).current;
        await ctx.lab.reboot('g3');
      })();
    });
    const r = await finishedRun(child);
    await rebooting;
    assert.ok(rebooting, 'rebooted inside the window');
    assert.equal(liveBeforeReboot, outs.g3, 'the new system was live when the host rebooted');
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(outcomesOf(r), { g3: 'rolled-back' });
    assert.match(nodeDoneText(r, 'g3'), /restarted within its 60s window, before the confirmation; it came back on system-1-link/);
    const after = await readSystemState(ctx.lab, 'g3');
    assert.deepEqual(after, before, 'up on the old system, profile untouched');
    assert.equal(await generations('g3'), gens);
    assert.equal((await ctx.lab.exec('g3', ['readlink', '/run/booted-system'])).stdout.trim(), before.current);
  });
});
