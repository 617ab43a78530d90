// fleet rollback's choice of generation: only from the node's own records and generations, never a guess.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseRollback, standingDeploys } from '../../src/rollback/choose.js';
import { rollbackChoice } from '../../src/cli/commands/rollback.js';
import type { DeployRecord } from '../../src/records/record.js';

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
