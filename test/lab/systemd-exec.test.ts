// fleet exec as the `deploy` user on systemd lab hosts (issue 22 §1): --sudo runs the command through sudo as
// activation does (deploy: no password; deploy-pw: the password from FLEET_SUDO_PASSWORD_FILE, on stdin only), and
// the bounds hold under sudo too: --timeout and Ctrl+C leave nothing of a root command on the host (checked in the
// host's own process table).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { EventOf, FleetEvent } from '../../src/events.js';
import { requireSystemdLabCapable, useSystemdLab } from './support.js';
import { finishedRun, interruptAfterLines, runFleet, spawnFleet } from './run-fleet.js';

const eventsOf = <T extends FleetEvent['type']>(events: FleetEvent[], type: T) => events.filter((e): e is EventOf<T> => e.type === type);

describe('fleet exec on systemd hosts, as deploy', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: ['x1', 'x2'] });
  const nonce = randomBytes(3).toString('hex');
  let deploy: string;
  let deployPw: string;
  let pwFile: string;

  before(async () => {
    const hive = `${ctx.lab.dir}/hive.nix`;
    await writeFile(hive, '{ }\n');
    deploy = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-deploy.yaml`, defaults: { user: ctx.lab.users.deploy } });
    deployPw = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-deploy-pw.yaml`, defaults: { user: ctx.lab.users.deployPw } });
    pwFile = `${ctx.lab.dir}/sudo-password`;
    await writeFile(pwFile, `${ctx.lab.sudoPassword}\n`, { mode: 0o600 });
  });

  /** The host's own process table: lines matching `pattern` (a regex that does not match itself). */
  const processes = async (host: string, pattern: string) => (await ctx.lab.exec(host, ['sh', '-c', `pgrep -af '${pattern}' || true`])).stdout.trim();
  const outputOf = (events: FleetEvent[]) => Object.fromEntries(eventsOf(events, 'exec-output').map((e) => [e.node, e.line]));

  test('without --sudo the command runs as deploy; with it as root, through sudo (in the host\'s journal)', async () => {
    const plain = await runFleet(['-f', deploy, 'exec', '--json', '--', 'id', '-un']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.deepEqual(outputOf(plain.events), { x1: 'deploy', x2: 'deploy' });
    const sudo = await runFleet(['-f', deploy, 'exec', '--json', '--sudo', '--', 'sh', '-c', `id -un; echo ${nonce} > /root/exec-${nonce}`]);
    assert.equal(sudo.code, 0, sudo.stderr);
    assert.deepEqual(outputOf(sudo.events), { x1: 'root', x2: 'root' });
    for (const host of ['x1', 'x2']) {
      assert.equal((await ctx.lab.exec(host, ['cat', `/root/exec-${nonce}`])).stdout.trim(), nonce, `${host}: root wrote the file`);
      await ctx.lab.exec(host, ['journalctl', '--sync']);
      const journal = (await ctx.lab.exec(host, ['journalctl', '-t', 'sudo', '-o', 'cat', '-q', '--no-pager'])).stdout;
      assert.match(journal, new RegExp(`deploy : .*USER=root ; COMMAND=/usr/bin/sh -c .*${nonce}`), `${host}: sudo ran it`);
    }
  });

  test('deploy-pw: the password from FLEET_SUDO_PASSWORD_FILE goes on stdin only; without it sudo refuses and the node says so', async () => {
    const withPw = await runFleet(['-f', deployPw, 'exec', '--json', '--sudo', '--on', 'x1', '--', 'id', '-u'], { FLEET_SUDO_PASSWORD_FILE: pwFile });
    assert.equal(withPw.code, 0, withPw.stderr);
    assert.deepEqual(outputOf(withPw.events), { x1: '0' });
    assert.ok(!withPw.stdout.includes(ctx.lab.sudoPassword), 'the password is in no event');
    const without = await runFleet(['-f', deployPw, 'exec', '--json', '--sudo', '--on', 'x1', '--', 'id', '-u']);
    assert.equal(without.code, 1);
    const [done] = eventsOf(without.events, 'exec-done');
    assert.equal(done!.outcome, 'failed');
    assert.match(done!.error!, /^did not start \(exit 1\): sudo: a (terminal is required|password is required)/);
  });

  test('--sudo --timeout: a root command that ignores SIGTERM is killed on the host; nothing of it is left', async () => {
    const seconds = 88000 + Math.floor(Math.random() * 400);
    const run = await runFleet(['-f', deploy, 'exec', '--json', '--sudo', '--timeout', '1s', '--', 'sh', '-c', `trap "" TERM; sleep ${seconds}`]);
    assert.equal(run.code, 1, run.stderr);
    for (const e of eventsOf(run.events, 'exec-done')) assert.equal(e.outcome, 'timed-out', JSON.stringify(e));
    for (const host of ['x1', 'x2']) assert.equal(await processes(host, `slee[p] ${seconds}`), '', `${host}: the command is gone`);
  });

  test('--sudo, Ctrl+C: the root commands end on the hosts (their process table), exit 130', async () => {
    const seconds = 89000 + Math.floor(Math.random() * 400);
    const child = spawnFleet(['-f', deploy, 'exec', '--json', '--sudo', '--', 'sh', '-c', `echo "up ${nonce}"; sleep ${seconds}`]);
    interruptAfterLines(child, ['"type":"exec-output"', `up ${nonce}`], 2);
    const run = await finishedRun(child);
    assert.equal(run.code, 130, run.stderr);
    assert.deepEqual(eventsOf(run.events, 'exec-done').map((e) => e.outcome), ['interrupted', 'interrupted']);
    for (const host of ['x1', 'x2']) assert.equal(await processes(host, `slee[p] ${seconds}`), '', `${host}: nothing left running`);
  });
});
