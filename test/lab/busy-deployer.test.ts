// A deployer too busy to make new SSH connections quickly (issue 19 §2): an ssh wrapper lets new connections (a
// master's start, a confirmation's own connection) through one at a time, 1.5 s each, while sessions over a master
// stay quick: magic rollback's confirmations then queue behind each other. fleet must admit activations only as
// their confirmations fit in the window, so that no healthy node is rolled back by its own watchdog. Checked on
// the hosts: each one's profile and /run/current-system are its new system, and no re-activation of the old one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { readActivations, readSystemState } from '../../lab/index.js';
import { configureHive, requireLabCapable, useDeployedLab } from './support.js';
import { outcomesOf, runFleet } from './run-fleet.js';

const NAMES = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'];
const SLOW_SECONDS = 1.5;
const WINDOW = '6s';

describe('a deployer too busy for quick new connections', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NAMES, `base-${nonce}`);
  let path = '';
  let fleetFile = '';

  before(async () => {
    const realSsh = (await execa('sh', ['-c', 'command -v ssh'])).stdout.trim();
    const dir = `${ctx.lab.dir}/slow-ssh`;
    await execa('mkdir', ['-p', dir]);
    // New connections only: a master (ControlMaster=yes) or a connection of its own (-S none); a session over a
    // master (-S <socket>) and `-O exit` go straight through.
    await writeFile(`${dir}/ssh`, `#!/bin/sh
case " $* " in
*" ControlMaster=yes "*|*" -S none "*) flock "${dir}/lock" sleep ${SLOW_SECONDS} ;;
esac
exec ${realSsh} "$@"
`);
    await chmod(`${dir}/ssh`, 0o755);
    path = `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`;
    fleetFile = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-busy.yaml`, defaults: { confirmTimeout: WINDOW } });
  });

  test(`new connections one at a time, ${SLOW_SECONDS} s each, a ${WINDOW} window: every node activated and confirmed, none rolled back`, async (t) => {
    const befores = await Promise.all(NAMES.map((n) => readSystemState(ctx.lab, n)));
    const outs = await configureHive(ctx.lab, ctx.hive, Object.fromEntries(NAMES.map((n) => [n, { name: `busy-${nonce}` }])));
    const activationsBefore = await Promise.all(NAMES.map((n) => readActivations(ctx.lab, n)));
    const run = await runFleet(['-f', fleetFile, 'apply', '--json'], { PATH: path });
    t.diagnostic(`exit ${run.code}: ${JSON.stringify(outcomesOf(run))}`);
    const wrong: string[] = [];
    for (const [i, node] of NAMES.entries()) {
      const state = await readSystemState(ctx.lab, node);
      const activations = (await readActivations(ctx.lab, node)).slice(activationsBefore[i]!.length);
      if (state.current !== outs[node] || state.profile !== outs[node]) wrong.push(`${node}: runs ${state.current}, profile ${state.profile}`);
      // A watchdog's rollback re-activates the recorded system: `switch <old>` after `test <new>`.
      if (activations.some((a) => a === `switch ${befores[i]!.current}`)) wrong.push(`${node}: rolled back by its watchdog (${activations.join(', ')})`);
    }
    assert.deepEqual(wrong, [], run.stderr.slice(-3000));
    assert.deepEqual(outcomesOf(run), Object.fromEntries(NAMES.map((n) => [n, 'activated'])));
    assert.equal(run.code, 0);
  });
});
