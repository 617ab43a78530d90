// Streaming evaluation into apply, the logic without Nix or hosts (src/deploy/stream.ts): which runs deploy chunk by
// chunk, how parts are taken (builds at once, plans per part, builds trimmed to what is still wanted), how they add up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Builds } from '../../src/build/builds.js';
import type { ResolvedFleet } from '../../src/config/types.js';
import { NodeError } from '../../src/errors.js';
import type { Evaluated } from '../../src/evaluate/evaluate.js';
import { mergeParts, streamsDeploy, takeParts, wantedBuilds, type Probed } from '../../src/deploy/stream.js';
import type { BuildJob, Plan } from '../../src/plan/types.js';
import type { PrepareOptions } from '../../src/prepare/prepare.js';
import { resolvedNode } from '../resolved-node.js';

const nodes = ['a', 'b', 'c', 'd'].map((n) => resolvedNode(n));
const evalOf = (name: string, system = name) => ({ drvPath: `/nix/store/d-${system}.drv`, outPath: `/nix/store/o-${system}` });
/** One evaluated part: these nodes evaluated (c shares a's system), those failed. */
function part(names: string[], failed: string[] = []): Evaluated {
  return {
    selected: nodes, nodes: nodes.filter((n) => names.includes(n.name)),
    evals: Object.fromEntries(names.map((n) => [n, evalOf(n, n === 'c' ? 'a' : n)])),
    failures: failed.map((n) => new NodeError(n, 'evaluate', 'error: broken')),
  };
}

test('streamsDeploy: only a run that waits for nothing else deploys chunk by chunk (not fail-fast, not staged, no review)', () => {
  const review = { review: async () => true };
  assert.equal(streamsDeploy({ failFast: false, staged: false }), true);
  assert.equal(streamsDeploy({ failFast: true, staged: false }), false, 'fail-fast: no target touched before the evaluation is clean');
  assert.equal(streamsDeploy({ failFast: false, staged: true }), false, 'waves: the whole selection');
  assert.equal(streamsDeploy({ failFast: false, staged: false, review }), false, '-i: the whole plan is reviewed');
});

test('wantedBuilds: what the planned parts need, and all that the parts not planned yet may need', () => {
  const planned: BuildJob[] = [{ id: 'local', location: { kind: 'local' }, drvPaths: ['/nix/store/d-b.drv'], nodes: ['b'] }];
  const wanted = wantedBuilds(planned, [part(['c', 'd'])]);
  assert.deepEqual(wanted.map((j) => [j.id, j.drvPaths, j.nodes]), [['local', ['/nix/store/d-b.drv'], ['b']], ['local', ['/nix/store/d-a.drv', '/nix/store/d-d.drv'], ['c', 'd']]]);
  assert.deepEqual(wantedBuilds(planned, []), planned);
});

test('mergeParts: the parts as one evaluation, nodes in fleet-file order whatever order the chunks ended in', () => {
  const p1 = part(['c', 'a']);
  const p2 = part(['b'], ['d']);
  const probed = (states: string[]): Probed => ({ states: Object.fromEntries(states.map((n) => [n, { hasOut: false } as never])), failures: [] });
  const all = mergeParts(nodes, [{ evaluated: p2, probed: probed(['b']) }, { evaluated: p1, probed: probed(['a', 'c']) }]);
  assert.deepEqual(all.evaluated.nodes.map((n) => n.name), ['a', 'b', 'c']);
  assert.deepEqual(Object.keys(all.evaluated.evals).sort(), ['a', 'b', 'c']);
  assert.deepEqual(all.evaluated.failures.map((f) => f.node), ['d']);
  assert.deepEqual(Object.keys(all.probed.states).sort(), ['a', 'b', 'c']);
  assert.equal(all.evaluated.states, undefined, 'no source states: none invented');
});

/** Builds that only record what they were asked. */
function recordingBuilds(): Builds & { added: string[][]; kept: string[][] } {
  const added: string[][] = [];
  const kept: string[][] = [];
  return {
    added, kept,
    add: (part) => void added.push(part.nodes.map((n) => part.evals[n.name]!.drvPath).sort()),
    keepOnly: (plan) => void kept.push(plan.builds.flatMap((j) => j.drvPaths).sort()),
    result: () => undefined,
    settled: async () => {},
    hostOf: () => { throw new Error('no host'); },
  };
}

const prepare = { goal: 'build', force: false, showTrace: false, emit: () => {} } as unknown as PrepareOptions; // build asks no target
const fleet = { builders: {} } as unknown as ResolvedFleet;

test('takeParts, streamed: a part is built and planned (and its nodes handed on) before the next part is evaluated', async () => {
  const builds = recordingBuilds();
  const log: string[] = [];
  let planned = () => {};
  const firstPlanned = new Promise<void>((resolve) => (planned = resolve));
  async function* evaluation(): AsyncGenerator<Evaluated> {
    log.push('part 1 evaluated');
    yield part(['a', 'b']);
    // The second chunk ends only once the first one's plan went on (no streaming: never; the guard ends the wait).
    const guard = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
    await Promise.race([firstPlanned, guard]);
    log.push('part 2 evaluated');
    yield part(['c', 'd']);
  }
  const registered: Probed[] = [];
  const parts = await takeParts({
    fleet, evaluation: evaluation(), builds, prepare, stop: new AbortController(), buildsEarly: true,
    register: (p) => void registered.push(p),
    onPlan: async (plan: Plan) => {
      log.push(`plan ${plan.nodes.map((n) => n.name).join(',')}`);
      planned();
    },
  });
  assert.deepEqual(log, ['part 1 evaluated', 'plan a,b', 'part 2 evaluated', 'plan c,d']);
  assert.deepEqual(builds.added, [['/nix/store/d-a.drv', '/nix/store/d-b.drv'], ['/nix/store/d-a.drv', '/nix/store/d-d.drv']], 'each part, as it came');
  // After part 1's plan, part 2 (if already evaluated) still wants its builds; at the end, the two plans' builds.
  assert.deepEqual(builds.kept.at(-1), ['/nix/store/d-a.drv', '/nix/store/d-a.drv', '/nix/store/d-b.drv', '/nix/store/d-d.drv']);
  assert.deepEqual(parts.map((p) => p.evaluated.nodes.map((n) => n.name)), [['a', 'b'], ['c', 'd']]);
  assert.equal(registered.length, 4, 'per part: its evaluation failures at once, then its probe');
});

test('takeParts: an evaluation failure is registered as soon as its part comes, before its targets are asked; without onPlan nothing is handed on', async () => {
  const builds = recordingBuilds();
  const seen: string[] = [];
  const parts = await takeParts({
    fleet, evaluation: [part(['a'], ['b'])], builds, prepare, stop: new AbortController(), buildsEarly: false,
    register: (p) => void seen.push(p.failures.map((f) => f.node).join(',') || '-'),
  });
  assert.deepEqual(seen, ['b', 'b'], 'the failure first alone, then with the probe\'s answer');
  assert.deepEqual(builds.added, [], 'a source whose systems are on the targets builds nothing early');
  assert.equal(parts.length, 1);
});

test('takeParts: a part whose evaluation throws stops the run, and the nodes already handed on end before the error', async () => {
  const stop = new AbortController();
  let ended = false;
  async function* evaluation(): AsyncGenerator<Evaluated> {
    yield part(['a']);
    await new Promise((resolve) => setImmediate(resolve));
    throw new Error('a bug');
  }
  await assert.rejects(takeParts({
    fleet, evaluation: evaluation(), builds: recordingBuilds(), prepare, stop, buildsEarly: true, register: () => {},
    onPlan: async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      ended = true;
    },
  }), /a bug/);
  assert.equal(stop.signal.aborted, true);
  assert.equal(ended, true, 'the deploy of part 1 ended before the error came out');
});
