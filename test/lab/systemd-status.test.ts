// Deploy records and `fleet status` on systemd lab hosts: records written through sudo by a non-root user after
// the magic-rollback confirmation, read unprivileged from /var/lib/fleet; a boot deploy is pending-reboot
// until the host really reboots (lab.reboot), then in-sync.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { evalOutPaths, readSystemState, writeHive } from '../../lab/index.js';
import type { EventOf } from '../../src/events.js';
import { parseRecord } from '../../src/records/record.js';
import { requireSystemdLabCapable, useSystemdLab } from './support.js';
import { runFleet } from './run-fleet.js';

const NODES = ['r1', 'r2'];

describe('deploy records and fleet status on systemd lab hosts', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const nonce = randomBytes(4).toString('hex');
  let hive: string;
  let fleetFile: string;
  const configure = (version: Record<string, string>) => writeHive(hive, Object.fromEntries(NODES.map((n) => [n, { name: `rec-${version[n] ?? 'v1'}-${nonce}` }])), ctx.lab.witness);
  const status = async () => {
    const run = await runFleet(['-f', fleetFile, 'status', '--json']);
    assert.equal(run.code, 0, run.stderr);
    return Object.fromEntries(run.events.filter((e): e is EventOf<'status'> => e.type === 'status').map((e) => [e.node, e]));
  };

  before(async () => {
    hive = `${ctx.lab.dir}/hive.nix`;
    fleetFile = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-status.yaml`, defaults: { user: 'deploy' } });
  });

  test('as user deploy, magic rollback on: /var/lib/fleet/records written through sudo after the confirmation, status in-sync', async () => {
    await configure({});
    const applied = await runFleet(['-f', fleetFile, 'apply', '--json', '-m', 'systemd hosts']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.ok(applied.events.some((e) => e.type === 'node-phase' && e.phase === 'confirm'), 'magic rollback confirmed');
    const outs = await evalOutPaths(hive);
    for (const node of NODES) {
      const file = await ctx.lab.exec(node, ['cat', '/var/lib/fleet/records']);
      assert.equal(file.exitCode, 0, file.stderr);
      const records = file.stdout.trim().split('\n').map((l) => parseRecord(l));
      assert.equal(records.length, 1);
      const sys = await readSystemState(ctx.lab, node);
      assert.deepEqual([records[0]!.toplevel, records[0]!.profileLink, records[0]!.message, records[0]!.rev], [outs[node], sys.link, 'systemd hosts', 'unknown'], 'the lab dir is no git repository: unknown');
      const mode = await ctx.lab.exec(node, ['stat', '-c', '%U %a', '/var/lib/fleet/records']);
      assert.equal(mode.stdout.trim(), 'root 644', 'written as root, readable by status without sudo');
    }
    const states = await status();
    assert.deepEqual(Object.values(states).map((s) => s.state), ['in-sync', 'in-sync']);
  });

  test('apply boot and no reboot: pending-reboot; after a real reboot: in-sync', async () => {
    await configure({ r1: 'v2' });
    const applied = await runFleet(['-f', fleetFile, 'apply', 'boot', '--on', 'r1', '--json']);
    assert.equal(applied.code, 0, applied.stderr);
    const pending = await status();
    assert.equal(pending.r1!.state, 'pending-reboot');
    assert.equal(pending.r1!.lastDeploy?.goal, 'boot');
    assert.equal(pending.r2!.state, 'in-sync');
    await ctx.lab.reboot('r1');
    const after = await status();
    assert.equal(after.r1!.state, 'in-sync');
    assert.equal(after.r1!.system?.bootedSystem, (await evalOutPaths(hive)).r1, 'booted into it');
  });
});
