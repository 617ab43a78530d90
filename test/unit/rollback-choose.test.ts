// fleet rollback's choice of generation: only from the node's own records and generations, never a guess.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { lockName } from '../../src/agent/lock.js';
import type { EventBody } from '../../src/events.js';
import { probeAndPlan, type PrepareOptions } from '../../src/prepare/prepare.js';
import { chooseRollback, standingDeploys } from '../../src/rollback/choose.js';
import { rollbackSource } from '../../src/rollback/source.js';
import { rollbackChoice } from '../../src/cli/commands/rollback.js';
import type { DeployRecord } from '../../src/records/record.js';
import type { Host } from '../../src/transport/host.js';
import type { HostPool } from '../../src/transport/pool.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';

const P = '/nix/var/nix/profiles/system';
const sys = (n: number) => `/nix/store/${String(n).repeat(32).slice(0, 32)}-nixos-system-${n}`;
const rec = (kind: DeployRecord['kind'], run: string, generation: number, before?: number, profile = P): DeployRecord => ({
  v: 1, kind, run, time: '2026-11-21T10:00:00.000Z', goal: 'switch', profile, toplevel: sys(generation), profileLink: `system-${generation}-link`, generation,
  ...(before !== undefined ? { before: { generation: before, profileLink: `system-${before}-link`, profileTarget: sys(before), currentSystem: sys(before) } } : {}),
  fleetVersion: '0.1.0', by: 'ci@deployer', on: 'all', rev: 'abc',
});
const gens = new Map([1, 2, 3, 4].map((n) => [n, sys(n)]));

test('last: the generation before the latest deploy still standing; each rollback record undoes one', () => {
  const records = [rec('deploy', 'a', 2, 1), rec('deploy', 'b', 3, 2), rec('deploy', 'c', 4, 3)];
  assert.deepEqual(chooseRollback(records, P, gens, { kind: 'last' }), { ok: true, generation: 3, system: sys(3), why: 'the generation it ran before run c' });
  const once = [...records, rec('rollback', 'r1', 3)];
  assert.deepEqual(standingDeploys(once).map((r) => r.run), ['a', 'b']);
  assert.equal((chooseRollback(once, P, gens, { kind: 'last' }) as { generation: number }).generation, 2, 'one further back');
});

test('refusals: nothing recorded, everything undone, nothing before the first deploy, a vanished or changed generation', () => {
  const refusal = (t: ReturnType<typeof chooseRollback>) => (t.ok ? '' : t.refusal);
  assert.equal(refusal(chooseRollback([], P, gens, { kind: 'last' })), 'no fleet deploy is recorded on this node: nothing to go back to (use --to GEN to name a generation)');
  assert.equal(refusal(chooseRollback([rec('deploy', 'a', 2, 1), rec('rollback', 'r', 1)], P, gens, { kind: 'last' })), 'every recorded fleet deploy of this node was rolled back already (use --to GEN to name a generation)');
  assert.equal(refusal(chooseRollback([rec('deploy', 'a', 1)], P, gens, { kind: 'last' })), 'before fleet\'s deploy of run a the node had no profile generation to go back to');
  assert.equal(refusal(chooseRollback([rec('deploy', 'a', 6, 5)], P, gens, { kind: 'last' })), `generation 5 of ${P} no longer exists on the node (garbage-collected?)`);
  const moved = new Map([[1, sys(4)]]);
  assert.equal(refusal(chooseRollback([rec('deploy', 'a', 2, 1)], P, moved, { kind: 'last' })), `generation 1 of ${P} now holds ${sys(4)}, not ${sys(1)} as recorded`);
  assert.equal(refusal(chooseRollback([rec('deploy', 'a', 2, 1)], P, gens, { kind: 'run', run: 'zz' })), 'no record of a fleet deploy of run zz on this node');
  const boot = { ...rec('deploy', 'b', 2, 1), generation: undefined };
  assert.equal(refusal(chooseRollback([boot], P, gens, { kind: 'run', run: 'b' })), 'run b left no profile generation on this node (goal switch)');
});

test('--to and --to-run; records of another profile are not this one\'s', () => {
  assert.deepEqual(chooseRollback([], P, gens, { kind: 'generation', generation: 2 }), { ok: true, generation: 2, system: sys(2), why: 'generation 2 (--to)' });
  assert.deepEqual(chooseRollback([rec('deploy', 'a', 3, 2)], P, gens, { kind: 'run', run: 'a' }), { ok: true, generation: 3, system: sys(3), why: 'what run a deployed' });
  assert.equal(chooseRollback([rec('deploy', 'a', 3, 2, '/nix/var/nix/profiles/other')], P, gens, { kind: 'last' }).ok, false);
  assert.deepEqual(rollbackChoice({}), { kind: 'last' });
  assert.deepEqual(rollbackChoice({ to: 4 }), { kind: 'generation', generation: 4 });
  assert.deepEqual(rollbackChoice({ toRun: 'x' }), { kind: 'run', run: 'x' });
});

test('the source asks each target once (lock, state, records, generations) and the plan asks it nothing more', async () => {
  // The real agent on this machine: a profile with two generations, its lock directory moved into the temporary one.
  const dir = mkdtempSync(join(tmpdir(), 'fleet-rollback-'));
  const profile = join(dir, 'profile');
  for (const n of [1, 2]) {
    mkdirSync(join(dir, `sys-${n}`));
    symlinkSync(join(dir, `sys-${n}`), `${profile}-${n}-link`);
  }
  symlinkSync('profile-2-link', profile);
  mkdirSync(join(dir, 'locks'));
  symlinkSync('run=gone by=bob@ci pid=7 since=1 expires=2', join(dir, 'locks', lockName(profile))); // expired: taken over
  const commands: string[][] = [];
  const host: Host = {
    label: 'r1', isLocal: false, connect: async () => {}, close: async () => {}, closeSync: () => {}, runFresh: async () => assert.fail('no fresh connection'),
    run: async (argv) => {
      commands.push(argv);
      const r = await execa(argv[0]!, argv.slice(1).map((a) => a.replace('/run/fleet/locks/', `${dir}/locks/`)), { reject: false });
      return { argv, exitCode: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr, failed: r.exitCode !== 0, timedOut: false, canceled: false, message: '' };
    },
  };
  const node = resolvedNode('r1', { profile, stateDir: join(dir, 'state') });
  const events: EventBody[] = [];
  const options: PrepareOptions = {
    goal: 'switch', force: false, showTrace: false, run: async () => assert.fail('nothing is evaluated'), pool: { targetOf: () => targetOver(host, node), limits: { probes: 32, keepIdle: 10 }, keepsMasters: () => true, bestConnectMs: () => undefined } as unknown as HostPool,
    emit: (e) => events.push(e), lock: { op: 'take', identity: { run: 'now', by: 'alice@laptop', pid: 11 } },
  };
  const evaluated = await rollbackSource({ kind: 'generation', generation: 1 }).resolve({ builders: {} } as never, [node], options);
  assert.deepEqual(evaluated.failures, []);
  assert.equal(commands.length, 1, 'one round trip');
  const prepared = await probeAndPlan({ builders: {} } as never, evaluated, options);
  assert.equal(commands.length, 1, 'the plan asks the target nothing more');
  assert.deepEqual(prepared.failures, []);
  const [planned] = prepared.plan.nodes;
  assert.deepEqual(planned!.to, { system: join(dir, 'sys-1'), generation: 1 });
  assert.deepEqual(planned!.copy, { kind: 'none', reason: 'present' }, 'a generation\'s system is on the target already');
  assert.deepEqual([planned!.from?.profileTarget, planned!.from?.generation], [join(dir, 'sys-2'), 2]);
  assert.deepEqual(Object.keys(planned!.from!).filter((k) => ['records', 'generations', 'bootChanged'].includes(k)), [], 'what the node runs, not what it keeps');
  assert.deepEqual(prepared.states.r1?.lock, { state: 'taken' }, 'this run\'s lock now');
  const details = events.flatMap((e) => (e.type === 'node-phase' ? [e.detail] : []));
  assert.match(details[0] ?? '', /^took over the expired lock of run gone \(bob@ci, pid 7\) since /);
  assert.deepEqual(details.slice(1), ['back to generation 1: generation 1 (--to)', 'connecting'], 'the takeover is reported once, when it happens');
});
