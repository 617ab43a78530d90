// `fleet rollback` on a light lab: back on exactly the generation a node ran before its last fleet deploy
// (from the records on the target), a second one goes one further back, --to and --to-run, refusals when no
// record says where to go. Checked on the hosts: profile links, /run/current-system, records, and the commands
// each target ran (one probe before the activation, as apply).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { evalOutPaths, PROFILE, readSystemState, stateDirOf, type StandInSpec } from '../../lab/index.js';
import { lockPath } from '../../src/agent/lock.js';
import type { EventOf } from '../../src/events.js';
import { parseRecord, type DeployRecord } from '../../src/records/record.js';
import { nodeDoneText, outcomesOf, runFleet, type FleetRun } from './run-fleet.js';
import { configureHive, requireLabCapable, useDeployedLab } from './support.js';

const NODES = ['b1', 'b2', 'b3'];

describe('fleet rollback on a 3-node lab', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NODES, `base-${nonce}`); // generation 1 everywhere, by fleet
  const systems: Record<string, string> = {};
  const configure = (specs: Record<string, StandInSpec>) => configureHive(ctx.lab, ctx.hive, specs);
  const recordsOn = async (node: string): Promise<DeployRecord[]> => {
    const r = await ctx.lab.exec(node, ['cat', `${stateDirOf(ctx.lab.hosts.find((h) => h.name === node)!)}/records`]);
    return r.stdout.split('\n').filter(Boolean).map((l) => parseRecord(l)!).filter(Boolean);
  };
  // sshd (LogLevel VERBOSE) logs one "Starting session" per command, over the master or not.
  const commandsOn = async (node: string) => (await readFile(`${ctx.lab.hosts.find((h) => h.name === node)!.dir}/sshd.log`, 'utf8')).split('\n').filter((l) => l.includes('Starting session: command')).length;
  /** The run, and how many commands it ran on `node`. */
  const counted = async (node: string, args: string[]): Promise<{ run: FleetRun; commands: number }> => {
    const before = await commandsOn(node);
    const run = await runFleet(['-f', ctx.fleetFile, ...args]);
    return { run, commands: (await commandsOn(node)) - before };
  };
  const phases = (run: FleetRun, node: string) => run.events.flatMap((e) => (e.type === 'node-phase' && e.node === node ? [e.detail ?? ''] : []));
  const stateOf = async (node: string) => {
    const run = await runFleet(['-f', ctx.fleetFile, 'status', '--json', '--on', node]);
    return run.events.find((e): e is EventOf<'status'> => e.type === 'status' && e.node === node)?.state;
  };

  before(async () => {
    systems.base = (await evalOutPaths(ctx.hive)).b1!;
    const v2 = await configure(Object.fromEntries(NODES.map((n) => [n, { name: `v2-${nonce}` }])));
    systems.v2 = v2.b1!;
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--json'])).code, 0); // generation 2
    const v3 = await configure({ b1: { name: `v3-${nonce}` }, b2: { name: `v2-${nonce}` }, b3: { name: `v2-${nonce}` } });
    systems.v3 = v3.b1!;
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'b1', '--json'])).code, 0); // b1: generation 3
  });

  test('back on exactly the generation it ran before its last deploy, recorded; status says outdated; a second one goes further back', async () => {
    assert.deepEqual(await readSystemState(ctx.lab, 'b1'), { current: systems.v3, link: 'system-3-link', profile: systems.v3 });
    const run = await runFleet(['-f', ctx.fleetFile, 'rollback', '--on', 'b1', '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), { b1: 'activated' });
    assert.deepEqual(await readSystemState(ctx.lab, 'b1'), { current: systems.v2, link: 'system-2-link', profile: systems.v2 }, 'generation 2 itself, not a new one');
    const last = (await recordsOn('b1')).at(-1)!;
    assert.deepEqual([last.kind, last.run, last.toplevel, last.generation], ['rollback', run.events[0]!.run, systems.v2, 2]);
    assert.equal(await stateOf('b1'), 'outdated', 'runs an earlier fleet deploy, not the desired system');

    const again = await runFleet(['-f', ctx.fleetFile, 'rollback', '--on', 'b1', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(await readSystemState(ctx.lab, 'b1'), { current: systems.base, link: 'system-1-link', profile: systems.base }, 'one further back');

    // Generation 1 was fleet's first deploy: there was nothing before it.
    const { run: third, commands } = await counted('b1', ['rollback', '--on', 'b1', '--json']);
    assert.equal(third.code, 1);
    assert.equal(commands, 2, 'one probe (lock, state, records, generations), then the lock released');
    assert.deepEqual(outcomesOf(third), { b1: 'failed' });
    assert.match(nodeDoneText(third, 'b1'), /refused: before fleet's deploy of run \S+ the node had no profile generation to go back to/);
    assert.deepEqual(await readSystemState(ctx.lab, 'b1'), { current: systems.base, link: 'system-1-link', profile: systems.base }, 'untouched');
  });

  test('--to GEN and --to-run RUN_ID go to exactly that generation, taking over an expired lock; as many commands as apply', async () => {
    const v2Run = (await recordsOn('b2')).find((r) => r.kind === 'deploy' && r.toplevel === systems.v2)!.run;
    const gone = 'v=1 run=gone by=bob@ci pid=7 since=1 expires=2';
    assert.equal((await ctx.lab.exec('b2', ['sh', '-c', 'mkdir -p "${1%/*}" && ln -s "$2" "$1"', 'sh', lockPath(PROFILE), gone])).exitCode, 0);
    const to = await runFleet(['-f', ctx.fleetFile, 'rollback', '--on', 'b2', '--to', '1', '--json']);
    assert.equal(to.code, 0, to.stderr);
    assert.equal(phases(to, 'b2').filter((d) => d.startsWith('took over the expired lock of run gone (bob@ci, pid 7) since ')).length, 1, phases(to, 'b2').join(' | '));
    assert.deepEqual(await readSystemState(ctx.lab, 'b2'), { current: systems.base, link: 'system-1-link', profile: systems.base });
    const { run: toRun, commands } = await counted('b2', ['rollback', '--on', 'b2', '--to-run', v2Run, '--json']);
    assert.equal(toRun.code, 0, toRun.stderr);
    assert.deepEqual(await readSystemState(ctx.lab, 'b2'), { current: systems.v2, link: 'system-2-link', profile: systems.v2 });
    // Its system is on b2 already: apply asks once (the probe), then activates as the rollback did.
    const forced = await counted('b2', ['apply', '--on', 'b2', '--force', '--json']);
    assert.equal(forced.run.code, 0, forced.run.stderr);
    assert.equal(commands, forced.commands, 'one probe before the activation, as apply: no second read of the target');
    const missing = await runFleet(['-f', ctx.fleetFile, 'rollback', '--on', 'b2', '--to', '9', '--json']);
    assert.equal(missing.code, 1);
    assert.match(nodeDoneText(missing, 'b2'), /refused: generation 9 of \/nix\/var\/nix\/profiles\/system no longer exists on the node/);
  });

  test('a node fleet never deployed (no records) is refused, untouched', async () => {
    await ctx.lab.exec('b3', ['rm', '-f', `${stateDirOf(ctx.lab.hosts.find((h) => h.name === 'b3')!)}/records`]);
    const before = await readSystemState(ctx.lab, 'b3');
    const run = await runFleet(['-f', ctx.fleetFile, 'rollback', '--on', 'b3', '--json']);
    assert.equal(run.code, 1);
    assert.match(nodeDoneText(run, 'b3'), /refused: no fleet deploy is recorded on this node: nothing to go back to/);
    assert.deepEqual(await readSystemState(ctx.lab, 'b3'), before);
  });
});
