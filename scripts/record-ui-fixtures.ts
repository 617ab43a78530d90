// Records the event streams the ink UI's component tests replay: real runs on a light lab, each one's NDJSON
// stdout written unmodified to test/fixtures/ui/<name>.ndjson, and only after the run was checked (exit code,
// outcomes, event types, and the hosts themselves) to be what its name says: a fixture is never a wrong recording.
// Usage (root, like the lab tests): node --import tsx scripts/record-ui-fixtures.ts [name...]   (default: every one)
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { readLocks, readSystemState, snapshotHost as snapshot, writeHive, type Lab, type StandInSpec } from '../lab/index.js';
import { lockPath, parseLockRecord } from '../src/agent/lock.js';
import type { EventOf, FleetEvent, Outcome } from '../src/events.js';
import type { NodeState } from '../src/status/classify.js';
import { waitFor } from '../test/poll.js';
import { finishedRun, runFleet, spawnFleet, type FleetRun } from '../test/lab/run-fleet.js';
import { runSteered, type SteerControl, type SteerHandler } from '../test/lab/steered-run.js';
import { configureHive, requireLabCapable, startDeployedLab, type DeployedLab } from '../test/lab/support.js';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/ui/', import.meta.url));
const PROFILE_LOCK = lockPath('/nix/var/nix/profiles/system');

// Stand-in packages: the new systems change hello, drop libfoo and add openssl, so every diff has all three kinds.
const BASE_PACKAGES = [{ name: 'hello-2.10', bytes: 1000 }, { name: 'libfoo-1.0', bytes: 5000 }, { name: 'glibc-2.37', bytes: 300 }];
const NEW_PACKAGES = [{ name: 'hello-2.12', bytes: 3000 }, { name: 'glibc-2.37', bytes: 300 }, { name: 'openssl-3.0.13', bytes: 8000 }];
const WAVE_NODES = ['canary-1', 'web-1', 'web-2', 'web-3', 'web-4'];
const SMALL_NODES = ['web-1', 'web-2', 'web-3'];

interface Ctx extends DeployedLab {
  nonce: string;
  base: StandInSpec; // what every host runs once the lab is up
  next: StandInSpec; // the same system with other packages
  configure(specs: Record<string, StandInSpec>): Promise<Record<string, string>>;
}

/** A fresh light lab whose hosts run `base` (deployed by fleet), removed after `fn`. */
async function withLab<T>(names: string[], fn: (ctx: Ctx) => Promise<T>): Promise<T> {
  const nonce = randomBytes(4).toString('hex');
  const base: StandInSpec = { name: `ui-${nonce}`, packages: BASE_PACKAGES };
  const d = await startDeployedLab(names, base.name, { packages: BASE_PACKAGES });
  const configure = (specs: Record<string, StandInSpec>) => configureHive(d.lab, d.hive, specs);
  try {
    return await fn({ ...d, nonce, base, next: { name: base.name, packages: NEW_PACKAGES }, configure });
  } finally {
    await d.lab.down();
  }
}

const every = <T>(names: readonly string[], value: T): Record<string, T> => Object.fromEntries(names.map((n) => [n, value]));

async function assertRuns(lab: Lab, host: string, out: string, what: string): Promise<void> {
  const s = await readSystemState(lab, host);
  assert.deepEqual([s.current, s.profile], [out, out], `${host} ${what}: runs ${s.current}, profile ${s.profile}, expected ${out}`);
}

// ---- steering: what the person at `-i` presses, decided from the events ----

/** The plan's nodes that will be activated and have not ended yet (locked ones end before the review). */
function activating(events: readonly FleetEvent[]): string[] {
  const plan = events.find((e): e is EventOf<'plan'> => e.type === 'plan');
  const done = new Set(events.filter((e) => e.type === 'node-done').map((e) => (e as EventOf<'node-done'>).node));
  return (plan?.plan.nodes ?? []).filter((np) => np.activate && !done.has(np.name)).map((np) => np.name);
}

/** At the review: waits until every activating node's closure diff came (what a person reads), then approves or declines. */
function review(decision: 'approve' | 'decline'): SteerHandler {
  let waiting = false;
  let decided = false;
  return (e, c) => {
    if (e.type === 'review' && e.state === 'waiting') waiting = true;
    if (!waiting || decided) return;
    if (e.type === 'log' && e.line.startsWith('diff: ')) throw new Error(`${e.node}: no diff at the review: ${e.line}`);
    const diffed = new Set(c.events.flatMap((x) => (x.type === 'diff' ? x.nodes : [])));
    if (activating(c.events).some((n) => !diffed.has(n))) return;
    decided = true;
    c.send({ type: decision });
  };
}

/** Presses p while wave 1 runs; once the rollout paused before wave 2, runs `whilePaused` (host checks), then r. */
function pauseBeforeWave2(whilePaused: (c: SteerControl) => Promise<void>): SteerHandler {
  return async (e, c) => {
    if (e.type === 'wave-start' && e.wave === 1) c.send({ type: 'pause' });
    if (e.type === 'paused') {
      await whilePaused(c);
      c.send({ type: 'resume' });
    }
  };
}

const steer = (...handlers: SteerHandler[]): SteerHandler => async (e, c) => {
  for (const h of handlers) await h(e, c);
};

// ---- checks every recording passes ----

interface Expected {
  code: number;
  outcomes: Record<string, Outcome>;
  /** Event types the recording must hold (beyond run-start and summary). */
  types: FleetEvent['type'][];
}

function checkRun(name: string, run: { code: number; stdout: string; stderr: string; events: FleetEvent[] }, want: Expected): void {
  const where = `${name}: exit ${run.code}\nstderr:\n${run.stderr}\nlast events:\n${run.stdout.split('\n').slice(-6).join('\n')}`;
  const { events } = run;
  assert.ok(events.length > 0 && run.stdout === events.map((e) => `${JSON.stringify(e)}\n`).join(''), `${name}: stdout is exactly one event per line`);
  assert.deepEqual(new Set(events.map((e) => e.run)).size, 1, `${name}: one run`);
  assert.deepEqual(events.map((e) => e.seq), events.map((_e, i) => i + 1), `${name}: seq 1..n`);
  assert.equal(events[0]!.type, 'run-start', where);
  const summary = events.at(-1)!;
  assert.equal(summary.type, 'summary', where);
  assert.equal(run.code, want.code, where);
  assert.equal(summary.exitCode, want.code, where);
  const outcomes = Object.fromEntries(Object.entries(summary.nodes).map(([n, r]) => [n, r.outcome]));
  assert.deepEqual(outcomes, want.outcomes, where);
  const types = new Set(events.map((e) => e.type));
  const missing = want.types.filter((t) => !types.has(t));
  assert.deepEqual(missing, [], `${name}: event types missing\n${where}`);
}

const ofType = <T extends FleetEvent['type']>(events: readonly FleetEvent[], type: T) => events.filter((e): e is EventOf<T> => e.type === type);

/** Every diff the review showed has changes, and every activated node's diff is among them. */
function checkDiffs(name: string, events: readonly FleetEvent[], nodes: readonly string[]): void {
  const diffs = ofType(events, 'diff');
  for (const d of diffs) assert.ok(d.added.length + d.removed.length + d.changed.length > 0, `${name}: an empty diff for ${d.nodes.join(', ')}`);
  assert.deepEqual(diffs.flatMap((d) => d.nodes).sort(), [...nodes].sort(), `${name}: a diff per reviewed node`);
}

/** The fleet CLI in a child process, its stdout kept byte for byte (runFleet's drops the final newline). */
function recordCli(args: string[]): Promise<FleetRun> {
  return finishedRun(spawnFleet(args, {}, { keepFinalNewline: true }));
}

// ---- the scenarios: each returns the recorded stdout ----

/** 5 nodes, waves 1, 2, 100%: reviewed with diffs, approved, paused before wave 2 (hosts checked there), resumed. */
async function reviewWaves(): Promise<string> {
  return withLab(WAVE_NODES, async (ctx) => {
    const outs = await ctx.configure(every(WAVE_NODES, ctx.next));
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-waves.yaml`, extra: { rollout: { waves: [1, 2, '100%'] } } });
    const before = await readSystemState(ctx.lab, 'web-1');
    const run = await runSteered(file, steer(review('approve'), pauseBeforeWave2(async () => {
      await assertRuns(ctx.lab, 'canary-1', outs['canary-1']!, 'after wave 1');
      for (const n of WAVE_NODES.slice(1)) assert.deepEqual(await readSystemState(ctx.lab, n), before, `${n} untouched while paused`);
    })));
    checkRun('review-waves', run, { code: 0, outcomes: every<Outcome>(WAVE_NODES, 'activated'), types: ['plan', 'review', 'diff', 'wave-start', 'wave-done', 'paused', 'resumed', 'node-phase', 'node-done'] });
    assert.deepEqual(ofType(run.events, 'review').map((e) => e.state), ['waiting', 'approved']);
    assert.deepEqual(ofType(run.events, 'paused').map((e) => [e.wave, e.reason]), [[2, 'requested']]);
    assert.deepEqual(ofType(run.events, 'resumed').map((e) => e.wave), [2]);
    assert.deepEqual(ofType(run.events, 'wave-done').map((e) => e.verdict), ['passed', 'passed', 'passed']);
    assert.deepEqual(ofType(run.events, 'wave-start').map((e) => e.nodes), [['canary-1'], ['web-1', 'web-2'], ['web-3', 'web-4']]);
    checkDiffs('review-waves', run.events, WAVE_NODES);
    for (const n of WAVE_NODES) await assertRuns(ctx.lab, n, outs[n]!, 'after the run');
    return run.stdout;
  });
}

/** Waves 1, 2, 100%, maxFailures 0, rollback-wave: web-1's health check fails in wave 2, so wave 2 is rolled back
 *  (web-2 too, though healthy) and wave 3 is held. Steered: approved at the review, as `-i` runs it. */
async function waveRollback(): Promise<string> {
  return withLab(WAVE_NODES, async (ctx) => {
    const outs = await ctx.configure(every(WAVE_NODES, ctx.next));
    const smoke = { name: 'smoke', command: ['sh', '-c', 'echo "smoke: GET /health answered 503" >&2; exit 1'], retries: 1, interval: '1s' };
    const file = await ctx.lab.writeFleet({
      nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-waves.yaml`,
      extra: { rollout: { waves: [1, 2, '100%'], maxFailures: 0, onFailure: 'rollback-wave' } },
      nodes: { 'web-1': { healthChecks: [smoke] } },
    });
    const before = Object.fromEntries(await Promise.all(WAVE_NODES.map(async (n) => [n, await snapshot(ctx.lab, n)] as const)));
    const run = await runSteered(file, review('approve'));
    checkRun('wave-rollback', run, {
      code: 1,
      outcomes: { 'canary-1': 'activated', 'web-1': 'rolled-back', 'web-2': 'rolled-back', 'web-3': 'held', 'web-4': 'held' },
      types: ['plan', 'review', 'diff', 'wave-start', 'wave-done', 'health', 'node-phase', 'node-done'],
    });
    assert.deepEqual(ofType(run.events, 'wave-done').map((e) => [e.wave, e.verdict]), [[1, 'passed'], [2, 'failed']]);
    assert.deepEqual(ofType(run.events, 'wave-start').map((e) => e.wave), [1, 2]);
    assert.deepEqual(ofType(run.events, 'health').map((e) => [e.node, e.attempt, e.attempts, e.ok]), [['web-1', 1, 2, false], ['web-1', 2, 2, false]]);
    checkDiffs('wave-rollback', run.events, WAVE_NODES);
    await assertRuns(ctx.lab, 'canary-1', outs['canary-1']!, 'after wave 1');
    for (const n of ['web-1', 'web-2']) {
      const s = await readSystemState(ctx.lab, n);
      assert.deepEqual([s.current, s.profile], [before[n]!.current, before[n]!.profile], `${n} rolled back to its base system`);
    }
    for (const n of ['web-3', 'web-4']) assert.deepEqual(await snapshot(ctx.lab, n), before[n], `${n} held: untouched`);
    return run.stdout;
  });
}

/** Another live run (a plain `fleet apply`, held by its gated build) holds web-2's lock: this run leaves web-2 alone
 *  (locked) and deploys web-1 and web-3. */
async function locked(): Promise<string> {
  return withLab(SMALL_NODES, async (ctx) => {
    const outs = await ctx.configure(every(SMALL_NODES, ctx.next));
    const gate = `${ctx.lab.dir}/gate-${ctx.nonce}`;
    const hiveA = `${ctx.lab.dir}/hive-a.nix`;
    await writeHive(hiveA, { ...every(SMALL_NODES, ctx.base), 'web-2': { name: `other-${ctx.nonce}`, buildGate: gate } }, ctx.lab.witness);
    const fileA = await ctx.lab.writeFleet({ nixFile: hiveA, path: `${ctx.lab.dir}/fleet-a.yaml` });
    const runA = spawnFleet(['-f', fileA, 'apply', '--on', 'web-2', '--json']);
    let stdout: string;
    try {
      await waitFor('the other run to hold web-2\'s lock', async () => (await ctx.lab.exec('web-2', ['readlink', PROFILE_LOCK])).exitCode === 0, { timeoutMs: 120_000, everyMs: 200 });
      const holder = parseLockRecord((await ctx.lab.exec('web-2', ['readlink', PROFILE_LOCK])).stdout);
      const before = await snapshot(ctx.lab, 'web-2');
      const run = await runSteered(ctx.fleetFile, review('approve'));
      checkRun('locked', run, { code: 1, outcomes: { 'web-1': 'activated', 'web-2': 'locked', 'web-3': 'activated' }, types: ['plan', 'review', 'diff', 'node-phase', 'node-done'] });
      assert.equal(ofType(run.events, 'plan')[0]!.plan.nodes.find((np) => np.name === 'web-2')?.lock?.holder?.run, holder?.run, 'the plan names the holder');
      checkDiffs('locked', run.events, ['web-1', 'web-3']);
      assert.deepEqual(await snapshot(ctx.lab, 'web-2'), before, 'web-2 untouched');
      assert.equal((await ctx.lab.exec('web-2', ['nix-store', '--check-validity', outs['web-2']!])).exitCode, 1, 'nothing copied to web-2');
      assert.equal(parseLockRecord((await ctx.lab.exec('web-2', ['readlink', PROFILE_LOCK])).stdout)?.run, holder?.run, 'the other run still holds web-2');
      for (const n of ['web-1', 'web-3']) await assertRuns(ctx.lab, n, outs[n]!, 'after the run');
      stdout = run.stdout;
    } finally {
      await writeFile(gate, '');
    }
    const doneA = await finishedRun(runA);
    assert.equal(doneA.code, 0, `the other run: ${doneA.stderr}`);
    return stdout;
  });
}

/** web-1 ran a system that goes live once only; its new system fails half-way, so its rollback fails: exit 3.
 *  web-2 is deployed (--keep-going: the failure does not stop it), web-3 is unchanged. */
async function rollbackFailed(): Promise<string> {
  return withLab(SMALL_NODES, async (ctx) => {
    await ctx.configure({ ...every(SMALL_NODES, ctx.base), 'web-1': { name: `once-${ctx.nonce}`, variant: 'once', packages: BASE_PACKAGES } });
    const once = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'web-1', '--json']);
    assert.equal(once.code, 0, once.stderr);
    const outs = await ctx.configure({ 'web-1': { name: `bad-${ctx.nonce}`, variant: 'fail-halfway', packages: NEW_PACKAGES }, 'web-2': ctx.next, 'web-3': ctx.base });
    const web3 = await snapshot(ctx.lab, 'web-3');
    const run = await runSteered(ctx.fleetFile, review('approve'), { keepGoing: true });
    checkRun('rollback-failed', run, { code: 3, outcomes: { 'web-1': 'rollback-failed', 'web-2': 'activated', 'web-3': 'unchanged' }, types: ['plan', 'review', 'diff', 'node-phase', 'node-done'] });
    const failed = run.events.find((e): e is EventOf<'node-done'> => e.type === 'node-done' && e.node === 'web-1');
    assert.match(failed?.error ?? '', /ROLLBACK FAILED: .* On web-1 run: nix-env -p /);
    assert.ok((failed?.log ?? []).length > 0, 'the failed switch\'s output comes with it');
    checkDiffs('rollback-failed', run.events, ['web-1', 'web-2']);
    await assertRuns(ctx.lab, 'web-2', outs['web-2']!, 'after the run');
    assert.deepEqual(await snapshot(ctx.lab, 'web-3'), web3, 'web-3 (unchanged) untouched');
    return run.stdout;
  });
}

/** Reviewed with diffs, then declined: every node skipped, exit 0, and no host changed in any way. */
async function declined(): Promise<string> {
  return withLab(SMALL_NODES, async (ctx) => {
    const outs = await ctx.configure(every(SMALL_NODES, ctx.next));
    const before = await Promise.all(SMALL_NODES.map((n) => snapshot(ctx.lab, n)));
    const run = await runSteered(ctx.fleetFile, review('decline'));
    checkRun('declined', run, { code: 0, outcomes: every<Outcome>(SMALL_NODES, 'skipped'), types: ['plan', 'review', 'diff'] });
    assert.deepEqual(ofType(run.events, 'review').map((e) => e.state), ['waiting', 'declined']);
    checkDiffs('declined', run.events, SMALL_NODES);
    assert.deepEqual(await Promise.all(SMALL_NODES.map((n) => snapshot(ctx.lab, n))), before, 'no host changed');
    for (const n of SMALL_NODES) assert.equal((await ctx.lab.exec(n, ['nix-store', '--check-validity', outs[n]!])).exitCode, 1, `nothing copied to ${n}`);
    for (const n of SMALL_NODES) assert.equal(await readLocks(ctx.lab, n), '', `no lock left on ${n}`);
    return run.stdout;
  });
}

/** `fleet status --json` over five states: in-sync, outdated (the fleet file moved on), drifted (switched by hand),
 *  pending-reboot (apply boot), unreachable (sshd stopped). */
async function status(): Promise<string> {
  const nodes = ['web-1', 'web-2', 'web-3', 'web-4', 'db-1'];
  return withLab(nodes, async (ctx) => {
    await ctx.configure({ ...every(nodes, ctx.base), 'web-2': ctx.next, 'web-4': ctx.next });
    const boot = await runFleet(['-f', ctx.fleetFile, 'apply', 'boot', '--on', 'web-4', '--json']);
    assert.equal(boot.code, 0, boot.stderr);
    const byHand = `${ctx.lab.dir}/by-hand.nix`;
    await writeHive(byHand, { 'web-3': { name: `by-hand-${ctx.nonce}` } });
    const built = await ctx.lab.exec('web-3', ['nix-build', '--no-out-link', byHand, '-A', 'web-3']);
    assert.equal(built.exitCode, 0, built.stderr);
    const switched = await ctx.lab.exec('web-3', [`${built.stdout.trim().split('\n').at(-1)!}/bin/switch-to-configuration`, 'switch']);
    assert.equal(switched.exitCode, 0, switched.stderr);
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-status.yaml`, defaults: { connectTimeout: '3s' } });
    const db = ctx.lab.hosts.find((h) => h.name === 'db-1')!;
    // SIGSTOP: connections are accepted and never answered, the slow kind of dead.
    process.kill(db.sshdPid, 'SIGSTOP');
    try {
      const run = await recordCli(['-f', file, 'status', '--json']);
      checkRun('status', run, { code: 1, outcomes: { 'db-1': 'failed' }, types: ['status'] });
      const states = Object.fromEntries(ofType(run.events, 'status').map((e) => [e.node, e.state]));
      const want: Record<string, NodeState> = { 'web-1': 'in-sync', 'web-2': 'outdated', 'web-3': 'drifted', 'web-4': 'pending-reboot', 'db-1': 'unreachable' };
      assert.deepEqual(states, want);
      return run.stdout;
    } finally {
      process.kill(db.sshdPid, 'SIGCONT');
    }
  });
}

const SCENARIOS: Record<string, () => Promise<string>> = {
  'review-waves': reviewWaves,
  'wave-rollback': waveRollback,
  locked,
  'rollback-failed': rollbackFailed,
  declined,
  status,
};

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((n) => !(n in SCENARIOS));
  if (unknown.length > 0) {
    console.error(`record-ui-fixtures: no scenario ${unknown.join(', ')} (scenarios: ${Object.keys(SCENARIOS).join(', ')})`);
    return 2;
  }
  const blocker = requireLabCapable();
  if (blocker) {
    console.error(`record-ui-fixtures: ${blocker}`);
    return 2;
  }
  await mkdir(FIXTURES, { recursive: true });
  for (const name of argv.length > 0 ? argv : Object.keys(SCENARIOS)) {
    const started = Date.now();
    console.error(`# ${name}: recording`);
    const stdout = await SCENARIOS[name]!();
    await writeFile(`${FIXTURES}${name}.ndjson`, stdout);
    console.error(`# ${name}: ${stdout.split('\n').length - 1} events checked, written to test/fixtures/ui/${name}.ndjson (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`record-ui-fixtures: FAILED, nothing written for this scenario:\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return 1;
});
