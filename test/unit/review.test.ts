// The plan review of `apply -i` (src/deploy/review.ts): once decided, it no longer waits for builds, and a diff
// whose build ends after the decision is neither read nor shown (the run goes on without it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResolvedFleet, ResolvedNode } from '../../src/config/types.js';
import type { BuildResult } from '../../src/build/build.js';
import type { Builds } from '../../src/build/builds.js';
import { createRunContext } from '../../src/deploy/context.js';
import { reviewPlan } from '../../src/deploy/review.js';
import { createSteering } from '../../src/deploy/steering.js';
import type { EventBody } from '../../src/events.js';
import type { Plan } from '../../src/plan/types.js';
import type { Host } from '../../src/transport/host.js';
import type { HostPool } from '../../src/transport/pool.js';

/** Settled once everything queued so far has run, or still waiting. */
async function stateOf<T>(p: Promise<T>): Promise<T | 'waiting'> {
  return Promise.race([p, new Promise<'waiting'>((resolve) => setImmediate(() => resolve('waiting')))]);
}

void test('approved while a build runs: the review ends at once; the build ending later reads and shows no diff', async () => {
  const events: EventBody[] = [];
  const asked: string[][] = [];
  const host = { label: 'a', isLocal: false, run: async (argv: string[]) => { asked.push(argv); throw new Error('no host in this test'); } } as unknown as Host;
  const pool = { local: host, forNode: () => host, limits: { probes: 32, keepIdle: 10 }, keepsMasters: () => true, bestConnectMs: () => undefined } as unknown as HostPool;
  const run = createRunContext({
    id: 'r', fleet: { builders: {} } as unknown as ResolvedFleet, nodes: [{ name: 'a' } as ResolvedNode],
    run: host.run, pool, emit: (e) => events.push(e), signal: new AbortController().signal,
  });
  let finishBuild: (r: BuildResult) => void = () => {};
  const build = new Promise<BuildResult>((resolve) => (finishBuild = resolve));
  const builds = { result: () => build, hostOf: () => host, keepOnly: () => {}, settled: () => build } as unknown as Builds;
  const plan: Plan = { goal: 'switch', builds: [], nodes: [{ name: 'a', drvPath: '/nix/store/d-a.drv', outPath: '/nix/store/o-a', to: { system: '/nix/store/o-a' }, buildJob: 'local', copy: { kind: 'from-local' }, activate: true, reason: 'changed' } as Plan['nodes'][number]] };
  const steering = createSteering();

  const review = reviewPlan(run, 'switch', plan, builds, steering);
  assert.equal(await stateOf(review), 'waiting');
  steering.send({ type: 'approve' });
  assert.equal(await stateOf(review), true, 'the approval does not wait for the build');
  assert.deepEqual(events.filter((e) => e.type === 'review'), [{ type: 'review', state: 'waiting' }, { type: 'review', state: 'approved' }]);

  finishBuild({ ok: true, built: new Set(['/nix/store/o-a']), started: true, canceled: false, log: [] } as unknown as BuildResult);
  await stateOf(build);
  assert.deepEqual(asked, [], 'no closure read after the decision');
  assert.deepEqual(events.filter((e) => e.type === 'diff' || e.type === 'log'), []);
});
