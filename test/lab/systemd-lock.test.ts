// The per-target lock on systemd lab hosts: two applies at once, a stale lock, --break-lock, fleet plan, and
// runs that fail or are interrupted. A run is held at a known point by a build that waits for a gate file
// (the probe has taken its locks by then). Every check reads the hosts: /run/fleet/locks, links, stores.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { readLocks, readSystemState, type StandInSpec } from '../../lab/index.js';
import { parseLockRecord } from '../../src/agent/lock.js';
import { readEventLines, type FleetEvent } from '../../src/events.js';
import { lockedReason } from '../../src/lock/text.js';
import type { LockHolder } from '../../src/target/state.js';
import { waitFor } from '../poll.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { finishedRun, interruptDuringActivation, nodeDoneText, outcomesOf, planOf, runFleet, spawnFleet, type FleetRun } from './run-fleet.js';

const NODES = ['h1', 'h2', 'h3'];
const LOCK = '/run/fleet/locks/nix-var-nix-profiles-system';
const LOCK_WAIT = { timeoutMs: 120_000, everyMs: 200 }; // a condition to reach, never a duration to assert

describe('per-target lock on systemd lab hosts', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const nonce = randomBytes(4).toString('hex');
  let n = 0;
  const lab = () => ctx.lab;
  const state = (host: string) => readSystemState(lab(), host);

  /** A hive and a fleet file of their own (runs at once must not share them); returns the fleet file and out paths. */
  const fleetWith = async (specs: Record<string, StandInSpec>, defaults: Record<string, unknown> = {}) => {
    const i = ++n;
    const hive = `${lab().dir}/hive-lock-${i}.nix`;
    const outs = await configureHive(lab(), hive, Object.fromEntries(NODES.map((h) => [h, specs[h] ?? { name: `idle-${nonce}` }])));
    const file = await lab().writeFleet({ nixFile: hive, path: `${lab().dir}/fleet-lock-${i}.yaml`, defaults });
    return { file, outs };
  };
  const system = (tag: string, extra: Partial<StandInSpec> = {}): StandInSpec => ({ name: `${tag}-${nonce}`, ...extra });
  const gatePath = () => `${lab().dir}/gate-${nonce}-${++n}`;

  /** The lock record on a host, or undefined when there is none. */
  const lockOf = async (host: string): Promise<string | undefined> => {
    const r = await lab().exec(host, ['readlink', LOCK]);
    return r.exitCode === 0 ? r.stdout.trim() : undefined;
  };
  const holderOn = async (host: string): Promise<LockHolder> => {
    const rec = await lockOf(host);
    const h = rec ? parseLockRecord(rec) : undefined;
    assert.ok(h, `a lock record on ${host}: ${rec}`);
    return h;
  };
  /** Whatever is in /run/fleet/locks (a lock, a temporary link): nothing may stay after a run. */
  const locksLeft = async (host: string) => (await readLocks(lab(), host)).split('\n').filter(Boolean);
  const assertNoLocks = async (...hosts: string[]) => {
    for (const h of hosts) assert.deepEqual(await locksLeft(h), [], `no lock left on ${h}`);
  };
  const hasValid = async (host: string, path: string) => (await lab().exec(host, ['nix-store', '--check-validity', path])).exitCode === 0;
  /**
   * Starts run A (apply `file` on `hosts`), held by its gated build once its probe has taken their locks; runs
   * `meanwhile` with the holder of the last one, then opens the gate and returns A's finished run.
   */
  const whileAHolds = async (gate: string, file: string, hosts: string[], meanwhile: (holder: LockHolder) => Promise<void>): Promise<FleetRun> => {
    const runA = spawnFleet(['-f', file, 'apply', '--on', hosts.join(','), '--json']);
    try {
      await waitFor(`run A to hold the locks of ${hosts.join(', ')}`, async () => (await Promise.all(hosts.map(lockOf))).every(Boolean), LOCK_WAIT);
      await meanwhile(await holderOn(hosts.at(-1)!));
    } finally {
      await writeFile(gate, '');
    }
    return finishedRun(runA);
  };
  const runIdOf = (events: FleetEvent[]) => events[0]?.run;
  const phases = (run: FleetRun, node: string) => run.events.filter((e) => e.type === 'node-phase' && e.node === node).map((e) => (e.type === 'node-phase' ? e.detail : ''));

  before(async () => {
    const base = await fleetWith({});
    const r = await runFleet(['-f', base.file, 'apply', '--json']);
    assert.equal(r.code, 0, r.stderr);
    await assertNoLocks(...NODES);
  });

  test('two applies at once on overlapping nodes: the later run leaves the held node alone (locked, exit 1) and deploys the others', async () => {
    const gate = gatePath();
    const a = await fleetWith({ h1: system('a1', { buildGate: gate }), h2: system('a2', { buildGate: gate }) });
    const b = await fleetWith({ h2: system('b2'), h3: system('b3') });
    const h2Before = await state('h2');
    // A's probe has taken both locks; its build waits for the gate.
    const doneA = await whileAHolds(gate, a.file, ['h1', 'h2'], async (holder) => {
      const runB = await runFleet(['-f', b.file, 'apply', '--on', 'h2,h3', '--json']);
      assert.equal(runB.code, 1, runB.stderr);
      assert.deepEqual(outcomesOf(runB), { h2: 'locked', h3: 'activated' });
      const lockedText = nodeDoneText(runB, 'h2');
      for (const part of [holder.run, `${holder.by}, pid ${holder.pid}`, 'since ']) assert.ok(lockedText.includes(part), `${part} in ${lockedText}`);
      assert.deepEqual(planOf(runB).nodes.find((x) => x.name === 'h2')?.lock, { state: 'held', holder }, 'the plan names the holder');
      assert.equal(planOf(runB).nodes.find((x) => x.name === 'h2')?.reason, lockedReason({ state: 'held', holder }));

      // h2 untouched by B: same system and profile, B's system never copied, A's lock as it was.
      assert.deepEqual(await state('h2'), h2Before);
      assert.equal(await hasValid('h2', b.outs.h2!), false, 'B copied nothing to h2');
      assert.equal((await holderOn('h2')).run, holder.run);
      assert.equal((await state('h3')).current, b.outs.h3, 'B deployed h3');
      assert.equal((await state('h3')).profile, b.outs.h3);
      await assertNoLocks('h3');
    });
    assert.equal(doneA.code, 0, doneA.stderr);
    assert.deepEqual(outcomesOf(doneA), { h1: 'activated', h2: 'activated' });
    for (const h of ['h1', 'h2']) {
      const s = await state(h);
      assert.deepEqual([s.current, s.profile], [a.outs[h], a.outs[h]], `${h} runs A's system`);
    }
    await assertNoLocks(...NODES);
  });

  test('a stale lock (its run killed with SIGKILL, expiry passed) is taken over by the next apply, which says whose it was', async () => {
    const gate = gatePath();
    const a = await fleetWith({ h1: system('stale-a', { buildGate: gate }) }, { lockTimeout: '3s' });
    const runA = spawnFleet(['-f', a.file, 'apply', '--on', 'h1', '--json']);
    let holder: LockHolder;
    try {
      await waitFor('run A to hold h1\'s lock', async () => !!(await lockOf('h1')), LOCK_WAIT);
      holder = await holderOn('h1');
      runA.kill('SIGKILL');
      await runA;
      assert.equal((await holderOn('h1')).run, holder.run, 'a killed run leaves its lock behind');
      const expires = (await holderOn('h1')).expires;
      await waitFor('the lock to expire by h1\'s clock', async () => Number((await lab().exec('h1', ['date', '+%s'])).stdout.trim()) >= expires, LOCK_WAIT);
    } finally {
      await writeFile(gate, ''); // A's orphaned build may finish
    }
    const b = await fleetWith({ h1: system('stale-b') });
    const runB = await runFleet(['-f', b.file, 'apply', '--on', 'h1', '--json']);
    assert.equal(runB.code, 0, runB.stderr);
    assert.deepEqual(outcomesOf(runB), { h1: 'activated' });
    const took = phases(runB, 'h1').find((d) => d.startsWith('took over'));
    assert.ok(took?.startsWith(`took over the expired lock of run ${holder.run} (${holder.by}, pid ${holder.pid}) since `), `${took}`);
    assert.deepEqual(planOf(runB).nodes[0]?.lock?.holder?.run, holder.run);
    assert.equal((await state('h1')).current, b.outs.h1);
    await assertNoLocks('h1');
  });

  test('--break-lock takes over a live lock and names its holder; the run that lost it then does not activate', async () => {
    const gate = gatePath();
    const a = await fleetWith({ h3: system('break-a', { buildGate: gate }) });
    const b = await fleetWith({ h3: system('break-b') });
    const doneA = await whileAHolds(gate, a.file, ['h3'], async (holder) => {
      const refused = await runFleet(['-f', b.file, 'apply', '--on', 'h3', '--json']);
      assert.deepEqual([refused.code, outcomesOf(refused)], [1, { h3: 'locked' }], 'without --break-lock: locked');

      const runB = await runFleet(['-f', b.file, 'apply', '--on', 'h3', '--break-lock', '--json']);
      assert.equal(runB.code, 0, runB.stderr);
      assert.deepEqual(outcomesOf(runB), { h3: 'activated' });
      assert.ok(
        phases(runB, 'h3').some((d) => d.startsWith(`took over the lock of run ${holder.run} (${holder.by}, pid ${holder.pid}) since `) && d.endsWith('(--break-lock)')),
        phases(runB, 'h3').join('\n'),
      );
      assert.equal((await state('h3')).current, b.outs.h3);
      await assertNoLocks('h3');
    });
    assert.equal(doneA.code, 1, doneA.stderr);
    assert.deepEqual(outcomesOf(doneA), { h3: 'locked' });
    assert.match(nodeDoneText(doneA, 'h3'), /this run's lock is gone .*not activated/);
    assert.equal((await state('h3')).current, b.outs.h3, 'A did not activate over B');
    await assertNoLocks('h3');
  });

  test('fleet plan shows a held lock and neither takes nor changes one', async () => {
    const gate = gatePath();
    const a = await fleetWith({ h2: system('plan-a', { buildGate: gate }) });
    const p = await fleetWith({ h1: system('plan-p'), h2: system('plan-p') });
    const doneA = await whileAHolds(gate, a.file, ['h2'], async (holder) => {
      const plan = await runFleet(['-f', p.file, 'plan', '--on', 'h1,h2', '--json']);
      assert.equal(plan.code, 0, plan.stderr);
      const entry = planOf(plan).nodes.find((x) => x.name === 'h2')!;
      assert.deepEqual([entry.lock, entry.activate], [{ state: 'held', holder }, false]);
      assert.equal(planOf(plan).nodes.find((x) => x.name === 'h1')!.lock, undefined);
      const text = await runFleet(['-f', p.file, 'plan', '--on', 'h1,h2']);
      assert.ok(text.stdout.includes(lockedReason({ state: 'held', holder })), text.stdout);
      const after = await holderOn('h2');
      assert.deepEqual([after.run, after.by, after.pid, after.since], [holder.run, holder.by, holder.pid, holder.since], 'the holder\'s lock unchanged');
      await assertNoLocks('h1', 'h3');
    });
    assert.equal(doneA.code, 0, doneA.stderr);
    await assertNoLocks(...NODES);
  });

  test('no lock stays behind after a failed run (rolled back) or an interrupted one (Ctrl+C)', async () => {
    const failing = await fleetWith({ h1: system('lock-fail', { variant: 'fail-halfway' }) });
    const failed = await runFleet(['-f', failing.file, 'apply', '--on', 'h1', '--json']);
    assert.equal(failed.code, 1, failed.stderr);
    assert.deepEqual(outcomesOf(failed), { h1: 'rolled-back' });
    await assertNoLocks('h1');

    const slow = await fleetWith({ h1: system('lock-int', { variant: 'slow' }), h2: system('lock-int', { variant: 'slow' }) });
    const { result, sent } = await interruptDuringActivation(['-f', slow.file, 'apply', '--on', 'h1,h2', '--parallel', '1', '--json']);
    assert.ok(sent, 'Ctrl+C was sent during an activation');
    assert.equal(result.exitCode, 130, String(result.stderr));
    const events = readEventLines(String(result.stdout));
    assert.ok(runIdOf(events));
    await assertNoLocks(...NODES);
  });
});
