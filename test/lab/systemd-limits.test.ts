// A health command's timeout on a systemd host reached as a non-root user: the check runs through sudo, which passes
// a signal on to the command alone (checked here: a bound around sudo left the command's child running as root), so
// the deadline must hold inside it too. Checked on the host.
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { readSystemState, type StandInSpec } from '../../lab/index.js';
import { eventually } from '../poll.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { nodeDoneText, outcomesOf, runFleet } from './run-fleet.js';

describe('limits on a systemd host, through sudo', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: ['q1'] });
  const nonce = randomBytes(4).toString('hex');
  let hive: string;
  const configure = (specs: Record<string, StandInSpec>) => configureHive(ctx.lab, hive, specs);

  before(async () => {
    hive = `${ctx.lab.dir}/hive.nix`;
    await configure({ q1: { name: `base-${nonce}` } });
    const base = await runFleet(['-f', await ctx.lab.writeFleet({ nixFile: hive }), 'apply', '--json']);
    assert.equal(base.code, 0, base.stderr);
  });

  test('user deploy: a health command that hangs fails at its timeout, the node is rolled back, and the command and its child (root, by sudo) are gone from the host', { timeout: 180_000 }, async () => {
    const marker = `600.${randomInt(1000, 9999)}`;
    const running = async () => (await ctx.lab.exec('q1', ['pgrep', '-u', 'root', '-x', '-f', `sleep ${marker}`])).stdout.trim();
    await configure({ q1: { name: `hang-${nonce}` } });
    const before = await readSystemState(ctx.lab, 'q1');
    const file = await ctx.lab.writeFleet({
      nixFile: hive, path: `${ctx.lab.dir}/fleet-hang.yaml`, defaults: { user: ctx.lab.users.deploy },
      nodes: { q1: { healthChecks: [{ name: 'hang', command: ['sh', '-c', `sleep ${marker} & wait`], timeout: '3s', retries: 0 }] } },
    });
    const run = await runFleet(['-f', file, 'apply', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { q1: 'rolled-back' });
    assert.match(nodeDoneText(run, 'q1'), /health check `hang` failed: timed out after 3s/);
    assert.deepEqual(await readSystemState(ctx.lab, 'q1'), before, 'back on the system it ran');
    let left = '';
    assert.ok(await eventually(async () => (left = await running()) === '', { timeoutMs: 60_000 }), `sleep ${marker} still runs as root on q1: pid ${left}`);
  });
});
