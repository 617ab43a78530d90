// Early builds against the plan (pure logic: a fake local host stands in for Nix).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResolvedFleet, ResolvedNode } from '../../src/config/types.js';
import { earlyBuilds, startBuilds, type BuildRun } from '../../src/build/builds.js';
import type { EventBody } from '../../src/events.js';
import { GOALS } from '../../src/goal.js';
import { createPlan } from '../../src/plan/plan.js';
import type { Host } from '../../src/transport/host.js';
import type { HostPool } from '../../src/transport/pool.js';
import type { CommandResult, RunOptions } from '../../src/transport/run.js';
import { waitFor } from '../poll.js';
import { resolvedNode } from '../resolved-node.js';

const result = (extra: Partial<CommandResult>): CommandResult => ({ argv: [], exitCode: 0, stdout: '', stderr: '', failed: false, timedOut: false, canceled: false, message: '', ...extra });

/** A deployer whose store has nothing, whose realisations run until cancelled. */
function fakeLocal(realised: string[][]): Host {
  return {
    label: 'local', isLocal: true, connect: async () => {}, close: async () => {}, closeSync: () => {},
    runFresh: async () => result({}),
    run: async (argv: string[], options?: RunOptions) => {
      if (argv[0] === 'nix-copy-closure') return result({});
      if (argv.includes('--check-validity')) return result({ stdout: argv.filter((a) => a.startsWith('/nix/store/o-')).join('\n') });
      realised.push(argv.filter((a) => a.endsWith('.drv')));
      await new Promise<void>((resolve) => options?.signal?.addEventListener('abort', () => resolve(), { once: true }));
      return result({ failed: true, canceled: true, exitCode: undefined, message: 'canceled' });
    },
  };
}

test('builds the plan does not need are cancelled (announced ones say so) or restarted with only what it needs', async () => {
  const events: EventBody[] = [];
  const realised: string[][] = [];
  const local = fakeLocal(realised);
  const pool = { local, forNode: () => ({ ...local, label: 'b', isLocal: false, copyTarget: { dest: 'root@b', sshOpts: [] } }) } as unknown as HostPool;
  const nodes = [{ name: 'a' }, { name: 'b' }] as ResolvedNode[];
  const stop = new AbortController();
  const run: BuildRun = {
    fleet: { builders: {} } as unknown as ResolvedFleet, nodes: new Map(nodes.map((n) => [n.name, n])),
    run: pool.local.run, pool, emit: (e) => events.push(e), stop,
  };
  const outOf = new Map([['/nix/store/d-a.drv', '/nix/store/o-a'], ['/nix/store/d-b.drv', '/nix/store/o-b']]);
  const everything = { id: 'local', location: { kind: 'local' as const }, drvPaths: ['/nix/store/d-a.drv', '/nix/store/d-b.drv'], nodes: ['a', 'b'] };
  const builds = startBuilds(run, { useSubstitutes: false }, [everything, { ...everything, id: 'node:b', location: { kind: 'node', node: 'b' }, nodes: ['b'] }], outOf);
  await waitFor('both realisations to start', () => realised.length >= 2);
  // The plan: only b changed, and only on the deployer.
  builds.keepOnly({ builds: [{ ...everything, drvPaths: ['/nix/store/d-b.drv'], nodes: ['b'] }] });
  await waitFor('the restarted realisation', () => realised.length >= 3);
  assert.deepEqual(realised.at(-1), ['/nix/store/d-b.drv'], 'restarted with the plan\'s derivations only');
  stop.abort();
  await builds.settled();
  const done = events.filter((e) => e.type === 'build-done');
  assert.deepEqual(done.find((e) => e.type === 'build-done' && e.build === 'node:b'), { type: 'build-done', build: 'node:b', ok: false, error: 'cancelled: the plan needs none of its outputs' });
  assert.equal(done.filter((e) => e.type === 'build-done' && e.build === 'local').length, 1, 'the superseded build reports nothing; its successor reports once');
});

test('earlyBuilds: every evaluated node\'s system on its build location, as a forced plan that knows no target builds them, for every goal', () => {
  const builder = { name: 'big', host: { host: 'big.example' }, systems: [], maxJobs: 4, speedFactor: 1, supportedFeatures: [], mandatoryFeatures: [], sshOptions: [], connectTimeoutMs: 10_000 };
  const nodes = [
    resolvedNode('a'), resolvedNode('b', { buildHost: { kind: 'builder', name: 'big' } }), resolvedNode('c'), resolvedNode('d', { buildHost: { kind: 'target' } }),
    resolvedNode('e', { buildHost: { kind: 'builders' } }), resolvedNode('f', { buildHost: { kind: 'host', spec: { user: 'u', host: 'h.example', port: 2 } } }),
    resolvedNode('g', { buildHost: { kind: 'builder', name: 'big' } }),
  ];
  // c shares a's system; g's failed to evaluate.
  const evals = Object.fromEntries(['a', 'b', 'a', 'd', 'e', 'f'].map((s, i) => [nodes[i]!.name, { drvPath: `/nix/store/d-${s}.drv`, outPath: `/nix/store/o-${s}` }]));
  const early = earlyBuilds({ nodes, evals });
  assert.deepEqual(early.map((j) => [j.id, j.drvPaths, j.nodes]), [
    ['local', ['/nix/store/d-a.drv'], ['a', 'c']], ['builder:big', ['/nix/store/d-b.drv'], ['b']], ['node:d', ['/nix/store/d-d.drv'], ['d']],
    ['builders', ['/nix/store/d-e.drv'], ['e']], ['host:u@h.example:2', ['/nix/store/d-f.drv'], ['f']],
  ]);
  for (const goal of GOALS) assert.deepEqual(early, createPlan({ goal, force: true, nodes, builders: { big: builder }, evals, targets: {} }).builds, goal);
});

/** A deployer like fakeLocal whose realisation of exactly one derivation succeeds at once. */
function fakeLocalOneQuick(realised: string[][]): Host {
  const slow = fakeLocal(realised);
  return {
    ...slow,
    run: async (argv: string[], options?: RunOptions) => {
      const drvs = argv.filter((a) => a.endsWith('.drv'));
      if (argv.includes('--realise') && drvs.length === 1) {
        realised.push(drvs);
        return result({});
      }
      return slow.run(argv, options);
    },
  };
}

function chunkRun(local: Host, events: EventBody[], stop: AbortController): BuildRun {
  return { fleet: { builders: {} } as unknown as ResolvedFleet, nodes: new Map(), run: local.run, pool: { local } as unknown as HostPool, emit: (e) => events.push(e), stop };
}

const localJob = (drvPaths: string[], nodes: string[]) => ({ id: 'local', location: { kind: 'local' as const }, drvPaths, nodes });
/** An evaluated chunk: these nodes (built on the deployer), each on the system named for it or for itself. */
const chunk = (names: string[], systemOf: Record<string, string> = {}) => ({
  nodes: names.map((n) => resolvedNode(n)),
  evals: Object.fromEntries(names.map((n) => [n, { drvPath: `/nix/store/d-${systemOf[n] ?? n}.drv`, outPath: `/nix/store/o-${systemOf[n] ?? n}` }])),
});

test('chunk by chunk: a derivation already building on a location is awaited, not built again; a new one starts a build of its own (<id>#2)', async () => {
  const events: EventBody[] = [];
  const realised: string[][] = [];
  const stop = new AbortController();
  const builds = startBuilds(chunkRun(fakeLocal(realised), events, stop), { useSubstitutes: false }, [], new Map());
  const [a, b] = ['/nix/store/d-a.drv', '/nix/store/d-b.drv'];
  builds.add(chunk(['a', 'b']));
  await waitFor('the first chunk\'s build', () => realised.length === 1);
  // The second chunk: c shares a's system, d is new.
  const d = '/nix/store/d-d.drv';
  builds.add(chunk(['c', 'd'], { c: 'a' }));
  await waitFor('the second chunk\'s build', () => realised.length === 2);
  builds.add(chunk(['e', 'f', 'g'], { e: 'a', f: 'b', g: 'd' })); // everything already building: nothing starts
  assert.deepEqual(realised, [[a, b], [d]], 'each derivation realised once');
  assert.deepEqual(events.flatMap((e) => (e.type === 'build-start' ? [[e.build, e.drvPaths, e.nodes]] : [])), [['local', [a, b], ['a', 'b']], ['local#2', [d], ['d']]], 'c waits for the first build: not named by the second');
  stop.abort();
  await builds.settled();
  assert.deepEqual(events.flatMap((e) => (e.type === 'build-done' ? [e.build] : [])).sort(), ['local', 'local#2']);
});

test('a build restarted with fewer derivations (keepOnly): a node waiting for one it still makes gets the restarted build\'s result', async () => {
  const events: EventBody[] = [];
  const realised: string[][] = [];
  const stop = new AbortController();
  const builds = startBuilds(chunkRun(fakeLocalOneQuick(realised), events, stop), { useSubstitutes: false }, [], new Map());
  const [a, b, c, c2] = ['/nix/store/d-a.drv', '/nix/store/d-b.drv', '/nix/store/d-c.drv', '/nix/store/d-c2.drv'];
  builds.add(chunk(['a', 'b']));
  builds.add(chunk(['c', 'c2']));
  await waitFor('both builds', () => realised.length === 2);
  const waiting = builds.result('local', b)!;
  // Known so far: a is up to date, b needed, c's node not planned yet (still wanted).
  builds.keepOnly({ builds: [localJob([b, c, c2], ['b', 'c', 'c2'])] });
  const r = await waiting;
  assert.equal(r.ok, true, 'the restarted build made b');
  assert.ok(r.built.has('/nix/store/o-b'));
  assert.deepEqual(realised, [[a, b], [c, c2], [b]], 'only the first build restarted');
  builds.keepOnly({ builds: [localJob([b], ['b'])] }); // c's nodes planned: nothing to build for them
  await builds.settled();
  assert.deepEqual(events.flatMap((e) => (e.type === 'build-done' ? [[e.build, e.ok]] : [])), [['local', true], ['local#2', false]]);
  assert.equal(events.find((e) => e.type === 'build-done' && e.build === 'local#2' && e.error)?.type, 'build-done');
  assert.equal(builds.result('local', c), undefined, 'no build makes c any more');
});

test('keepOnly leaves a build that has ended alone: nothing is realised again for what it made', async () => {
  const events: EventBody[] = [];
  const realised: string[][] = [];
  const slow = fakeLocal(realised);
  const quick: Host = { ...slow, run: async (argv: string[], options?: RunOptions) => (argv.includes('--realise') ? (realised.push(argv.filter((a) => a.endsWith('.drv'))), result({})) : slow.run(argv, options)) };
  const builds = startBuilds(chunkRun(quick, events, new AbortController()), { useSubstitutes: false }, [], new Map());
  builds.add(chunk(['a', 'b']));
  const a = await builds.result('local', '/nix/store/d-a.drv');
  assert.equal(a?.ok, true);
  builds.keepOnly({ builds: [localJob(['/nix/store/d-a.drv'], ['a'])] }); // b turned out up to date
  await builds.settled();
  assert.deepEqual(realised, [['/nix/store/d-a.drv', '/nix/store/d-b.drv']], 'no second realisation of a');
  assert.equal((await builds.result('local', '/nix/store/d-a.drv'))?.ok, true);
  assert.deepEqual(events.map((e) => e.type), ['build-start', 'build-done']);
});
