// Staged rollouts on systemd lab hosts (issue 10): waves in order, health checks against a real service the stand-in
// system runs (fixtures/nix/system.nix `web`), failure budgets and what a failed wave rolls back. Every assertion
// reads the hosts: /run/current-system, the profile, the activation logs in /nix/var/fleet-lab, unit fleet-lab-web.
// The pure wave arithmetic ("20%" of 10 nodes, [1, 5, "20%"] on 23 nodes) is in test/unit/rollout-waves.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { readSystemState, readWebService, type StandInSpec, type SystemState } from '../../lab/index.js';
import type { FleetEvent } from '../../src/events.js';
import { configureHive, requireSystemdLabCapable, useSystemdLab } from './support.js';
import { nodeDoneText, outcomesOf, planOf, runFleet, summaryOf, type FleetRun } from './run-fleet.js';

// File order r1..r6; r4 is the canary, so the order selector (not file order) puts it first.
const NODES = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
const WAVES = [['r4'], ['r1', 'r2'], ['r3', 'r5', 'r6']];
const STATE = '/nix/var/fleet-lab';
const HEALTH_URL = 'http://{host}:8080/cgi-bin/health';

/** The service check of the wave tests: the unit the stand-in system starts. */
const SERVICE_CHECK = { name: 'web', command: ['systemctl', 'is-active', '--quiet', 'fleet-lab-web'], timeout: '5s', retries: 1, interval: '1s' };

interface Activation {
  t: number; // epoch seconds on the host (one clock for every lab host)
  goal: string;
  out: string;
}

/** What a test compares to say a host was not touched: its system, profile, activation log and service. */
interface HostSnapshot extends SystemState {
  log: string;
  service: string;
}

const eventsOf = <T extends FleetEvent['type']>(run: FleetRun, type: T) => run.events.filter((e): e is Extract<FleetEvent, { type: T }> => e.type === type);
const indexOf = (run: FleetRun, match: (e: FleetEvent) => boolean, what: string) => {
  const i = run.events.findIndex(match);
  assert.ok(i >= 0, `no event: ${what}`);
  return i;
};
const phaseAt = (run: FleetRun, node: string, phase: string) =>
  indexOf(run, (e) => e.type === 'node-phase' && e.node === node && e.phase === phase, `${node} ${phase}`);
const waveEdge = (run: FleetRun, type: 'wave-start' | 'wave-done', wave: number) => indexOf(run, (e) => e.type === type && e.wave === wave, `${type} ${wave}`);

describe('staged rollouts on systemd hosts', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: NODES });
  const nonce = randomBytes(4).toString('hex');
  let hive: string;
  let rolloutFile: string;
  let n = 0;
  let started = 0;

  /** Every node gets a brand-new system (web: ok unless said otherwise); returns the out paths. */
  const configure = (specs: Record<string, Partial<StandInSpec>> = {}) => {
    const step = ++n;
    return configureHive(ctx.lab, hive, Object.fromEntries(NODES.map((node) => [node, { name: `s${step}-${node}-${nonce}`, web: 'ok', ...specs[node] } satisfies StandInSpec])));
  };
  const read = async (host: string, argv: string[]) => (await ctx.lab.exec(host, argv)).stdout.trim();
  const service = (host: string) => readWebService(ctx.lab, host);
  const snapshot = async (host: string): Promise<HostSnapshot> => ({
    ...(await readSystemState(ctx.lab, host)),
    log: await read(host, ['cat', `${STATE}/activation.log`]),
    service: await service(host),
  });
  const snapshots = async () => Object.fromEntries(await Promise.all(NODES.map(async (h) => [h, await snapshot(h)] as const)));
  const activations = async (host: string): Promise<Activation[]> =>
    (await read(host, ['cat', `${STATE}/activation-times.log`])).split('\n').filter(Boolean).map((line) => {
      const [t, goal, out] = line.split(' ');
      return { t: Number(t), goal: goal!, out: out! };
    });
  /** When the host went live on out (switch or test: magic rollback tests first): the first such line. */
  const wentLive = (list: Activation[], out: string) => list.find((a) => a.out === out && (a.goal === 'test' || a.goal === 'switch'))?.t;
  const requests = async (host: string) => (await read(host, ['sh', '-c', `cat ${STATE}/web-requests.log 2>/dev/null || true`])).split('\n').filter(Boolean);
  const rollout = (args: string[]) => runFleet(['-f', rolloutFile, 'apply', '--json', ...args]);

  before(async () => {
    started = Date.now();
    hive = `${ctx.lab.dir}/hive.nix`;
    rolloutFile = await ctx.lab.writeFleet({
      nixFile: hive,
      path: `${ctx.lab.dir}/fleet-rollout.yaml`,
      tags: { r4: ['canary'] },
      extra: { rollout: { waves: [1, 2, '100%'], order: ['tag:canary'] } },
      defaults: { confirmTimeout: '10s', connectTimeout: '5s', healthChecks: [SERVICE_CHECK, { name: 'health', http: HEALTH_URL, expectBody: 'ok', timeout: '2s', retries: 3, interval: '1s' }] },
    });
    // The starting state: every host on a system whose service answers (not staged).
    const outs = await configure();
    const plain = await ctx.lab.writeFleet({ nixFile: hive, path: `${ctx.lab.dir}/fleet-plain.yaml` });
    const base = await runFleet(['-f', plain, 'apply', '--json']);
    assert.equal(base.code, 0, base.stderr);
    for (const node of NODES) assert.equal(await service(node), outs[node], `${node}: the base system's service runs`);
  });
  after(() => console.error(`# systemd-rollout: ${((Date.now() - started) / 1000).toFixed(1)} s from lab up to the last test`));

  test('6 nodes, waves [1, 2, "100%"], order [tag:canary]: the canary alone, then 2, then 3 (events and the hosts\' activation times)', async () => {
    const outs = await configure();
    const times = Object.fromEntries(await Promise.all(NODES.map(async (h) => [h, (await activations(h)).length] as const)));
    const run = await rollout([]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(outcomesOf(run), Object.fromEntries(NODES.map((node) => [node, 'activated'])));
    assert.deepEqual(planOf(run).waves?.map((w) => w.nodes), WAVES, 'the plan');
    assert.deepEqual(eventsOf(run, 'wave-start').map((e) => e.nodes), WAVES, 'wave-start events');
    assert.deepEqual(eventsOf(run, 'wave-done').map((e) => [e.wave, e.failures, e.verdict]), [[1, 0, 'passed'], [2, 0, 'passed'], [3, 0, 'passed']]);
    for (const [i, wave] of WAVES.entries()) {
      for (const node of wave) {
        const at = phaseAt(run, node, 'activate');
        assert.ok(waveEdge(run, 'wave-start', i + 1) < at && at < waveEdge(run, 'wave-done', i + 1), `${node} activates inside wave ${i + 1}`);
      }
    }
    // The hosts' own record: every node of a wave went live after every node of the wave before.
    const live = await Promise.all(WAVES.map((wave) => Promise.all(wave.map(async (node) => {
      const t = wentLive((await activations(node)).slice(times[node]), outs[node]!);
      assert.ok(t !== undefined, `${node}: no activation of its new system in ${STATE}/activation-times.log`);
      return t;
    }))));
    for (let i = 1; i < live.length; i++) {
      assert.ok(Math.max(...live[i - 1]!) < Math.min(...live[i]!), `wave ${i} (${live[i - 1]!.join(', ')}) went live before wave ${i + 1} (${live[i]!.join(', ')})`);
    }
    for (const node of NODES) {
      const s = await snapshot(node);
      assert.deepEqual([s.current, s.profile, s.service], [outs[node], outs[node], outs[node]], `${node}: on its new system, whose service runs`);
    }
  });

  test('copies to wave 3 happen while wave 1 activates (events)', async () => {
    // A canary whose service warms up (two 503s, 1 s apart): wave 1 lasts seconds, long enough to overlap.
    const outs = await configure({ r4: { web: 'flaky' } });
    const run = await rollout([]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(eventsOf(run, 'health').filter((e) => e.node === 'r4' && e.check === 'health').map((e) => e.ok), [false, false, true], 'the canary was slow to pass');
    const wave1Activates = phaseAt(run, 'r4', 'activate');
    const wave1Done = waveEdge(run, 'wave-done', 1);
    for (const node of WAVES[2]!) {
      const copy = phaseAt(run, node, 'copy');
      assert.ok(copy < wave1Activates, `${node} (wave 3) started copying before the canary activated`);
      assert.ok(waveEdge(run, 'wave-done', 2) < phaseAt(run, node, 'activate'), `${node} activated only after wave 2`);
    }
    assert.ok(wave1Activates < wave1Done);
    for (const node of NODES) assert.equal((await readSystemState(ctx.lab, node)).current, outs[node], node);
  });

  /** A rollout where r1 (wave 2) gets a system whose service never comes up; the rest are healthy. */
  const failingWave2 = async (flags: string[], specs: Record<string, Partial<StandInSpec>> = {}) => {
    const before = await snapshots();
    const outs = await configure({ r1: { web: 'down' }, ...specs });
    const run = await rollout(flags);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(eventsOf(run, 'wave-start').map((e) => e.wave).slice(0, 2), [1, 2]);
    assert.match(nodeDoneText(run, 'r1'), /health check `web` failed: exit 3; rolled back to system-\d+-link/, 'the failing check and its last output');
    const r1 = await snapshot('r1');
    assert.deepEqual({ ...r1, log: before.r1!.log }, before.r1, 'r1: back on exactly its old generation, its old service running');
    assert.ok(r1.log.includes(`test ${outs.r1}`), 'r1 did go live on the broken system');
    return { before, outs, run };
  };
  const assertHeldUntouched = (run: FleetRun, before: Record<string, HostSnapshot>, after: Record<string, HostSnapshot>, why: RegExp) => {
    for (const node of WAVES[2]!) {
      assert.equal(outcomesOf(run)[node], 'held', node);
      assert.match(summaryOf(run).nodes[node]!.error ?? '', why, node);
      assert.deepEqual(after[node], before[node], `${node}: untouched (system, profile, activation log, service)`);
      assert.ok(!run.events.some((e) => e.type === 'node-phase' && e.node === node && e.phase === 'activate'), `${node}: no activation`);
    }
  };

  test('a wave-2 node never healthy, maxFailures 0: wave 2 rolled back to its exact generations, wave 3 held and untouched, wave 1 stays new; exit 1', async () => {
    const { before, outs, run } = await failingWave2([]);
    assert.deepEqual(outcomesOf(run), { r1: 'rolled-back', r2: 'rolled-back', r3: 'held', r4: 'activated', r5: 'held', r6: 'held' });
    assert.deepEqual(eventsOf(run, 'wave-done').map((e) => [e.wave, e.failures, e.verdict]), [[1, 0, 'passed'], [2, 1, 'failed']]);
    assert.match(nodeDoneText(run, 'r2'), /rolled back with wave 2 failed \(1 failure, 0 allowed\)/);
    const after = await snapshots();
    assert.deepEqual({ ...after.r2!, log: before.r2!.log }, before.r2, 'r2 (healthy) rolled back with its wave: exact generation, old service');
    assert.ok(after.r2!.log.includes(`test ${outs.r2}`), 'r2 had gone live on its new system');
    assert.deepEqual([after.r4!.current, after.r4!.profile, after.r4!.service], [outs.r4, outs.r4, outs.r4], 'wave 1 stays new');
    assertHeldUntouched(run, before, after, /not started: wave 2 failed \(1 failure, 0 allowed\)/);
  });

  test('the same with maxFailures 1 (--max-failures 1): the rollout goes on to wave 3; exit 1', async () => {
    const { outs, run } = await failingWave2(['--max-failures', '1']);
    assert.deepEqual(outcomesOf(run), { r1: 'rolled-back', r2: 'activated', r3: 'activated', r4: 'activated', r5: 'activated', r6: 'activated' });
    assert.deepEqual(eventsOf(run, 'wave-done').map((e) => [e.wave, e.failures, e.verdict]), [[1, 0, 'passed'], [2, 1, 'passed'], [3, 0, 'passed']]);
    for (const node of ['r2', 'r3', 'r4', 'r5', 'r6']) {
      const s = await snapshot(node);
      assert.deepEqual([s.current, s.profile, s.service], [outs[node], outs[node], outs[node]], node);
    }
  });

  test('--on-failure rollback-all: wave 1 ends on its old generation too, after wave 2 (latest first)', async () => {
    const counts = Object.fromEntries(await Promise.all(NODES.map(async (h) => [h, (await activations(h)).length] as const)));
    const { before, run } = await failingWave2(['--on-failure', 'rollback-all']);
    assert.deepEqual(outcomesOf(run), { r1: 'rolled-back', r2: 'rolled-back', r3: 'held', r4: 'rolled-back', r5: 'held', r6: 'held' });
    assert.match(summaryOf(run).nodes.r4!.error ?? '', /rolled back with the rest of the rollout: wave 2 failed/);
    const after = await snapshots();
    for (const node of ['r2', 'r4']) assert.deepEqual({ ...after[node]!, log: before[node]!.log }, before[node], `${node}: exact old generation, old service`);
    assertHeldUntouched(run, before, after, /not started: wave 2 failed/);
    // On the hosts: the canary went back to its old system after both wave-2 nodes did.
    const back = async (node: string) => wentLive((await activations(node)).slice(counts[node]), before[node]!.current!);
    const [r1, r2, r4] = [await back('r1'), await back('r2'), await back('r4')];
    assert.ok(r1 !== undefined && r2 !== undefined && r4 !== undefined, 'each went live on its old system again');
    assert.ok(r4 > Math.max(r1, r2), `wave 1 rolled back last (r1 ${r1}, r2 ${r2}, r4 ${r4})`);
  });

  test('--on-failure stop: nothing rolled back beyond the failing node, nothing new started', async () => {
    const { before, outs, run } = await failingWave2(['--on-failure', 'stop']);
    assert.deepEqual(outcomesOf(run), { r1: 'rolled-back', r2: 'activated', r3: 'held', r4: 'activated', r5: 'held', r6: 'held' });
    assert.equal(run.events.filter((e) => e.type === 'node-phase' && e.phase === 'rollback').length, 1, 'one rollback: the failing node\'s own');
    const after = await snapshots();
    for (const node of ['r2', 'r4']) assert.deepEqual([after[node]!.current, after[node]!.profile, after[node]!.service], [outs[node], outs[node], outs[node]], `${node} left on its new system`);
    assertHeldUntouched(run, before, after, /not started: wave 2 failed/);
  });

  test('a wave-3 node whose build failed, in a rollout stopped at wave 2: it says so (failed, with the build\'s error), it is not `held`', async () => {
    const { before, run } = await failingWave2([], { r5: { variant: 'fail-build' } });
    assert.deepEqual(outcomesOf(run), { r1: 'rolled-back', r2: 'rolled-back', r3: 'held', r4: 'activated', r5: 'failed', r6: 'held' });
    assert.match(nodeDoneText(run, 'r5'), /does not build \(variant fail-build\)/);
    assert.deepEqual(await snapshot('r5'), before.r5, 'r5: untouched');
  });

  test('HTTP checks from the deployer over IPv4 and IPv6: a flaky service passes on retry, a hanging one is cut off by the timeout', async () => {
    const v6 = (node: string) => `[${ctx.lab.hosts.find((h) => h.name === node)!.v6}]`;
    // One wave whose budget allows every failure: each node stands alone.
    const file = await ctx.lab.writeFleet({
      nixFile: hive,
      path: `${ctx.lab.dir}/fleet-http.yaml`,
      nodes: { r2: { host: v6('r2') }, r5: { host: v6('r5') }, r6: { host: v6('r6') } },
      extra: { rollout: { waves: ['100%'], maxFailures: '100%' } },
      // 2s: a CGI answers in milliseconds, even on a loaded machine; the hanging one never does.
      defaults: { confirmTimeout: '10s', healthChecks: [{ name: 'health', http: HEALTH_URL, expectBody: 'ok', timeout: '2s', retries: 2, interval: '1s' }] },
    });
    const before = await snapshots();
    const asked = Object.fromEntries(await Promise.all(NODES.map(async (h) => [h, (await requests(h)).length] as const)));
    // v4: r1 ok, r3 flaky, r4 hang; v6: r2 ok, r5 flaky, r6 hang.
    const outs = await configure({ r3: { web: 'flaky' }, r5: { web: 'flaky' }, r4: { web: 'hang' }, r6: { web: 'hang' } });
    const run = await runFleet(['-f', file, 'apply', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { r1: 'activated', r2: 'activated', r3: 'activated', r4: 'rolled-back', r5: 'activated', r6: 'rolled-back' });
    const attempts = (node: string) => eventsOf(run, 'health').filter((e) => e.node === node).map((e) => [e.attempt, e.ok, e.detail]);
    for (const node of ['r1', 'r2']) assert.deepEqual(attempts(node), [[1, true, 'HTTP 200']], node);
    for (const node of ['r3', 'r5']) {
      assert.deepEqual(attempts(node), [
        [1, false, 'HTTP 503, expected 200: warming up (request 1)'],
        [2, false, 'HTTP 503, expected 200: warming up (request 2)'],
        [3, true, 'HTTP 200'],
      ], `${node}: healthy on the third attempt`);
    }
    const hung = { r4: `http://${ctx.lab.hosts.find((h) => h.name === 'r4')!.v4}:8080/cgi-bin/health`, r6: `http://${v6('r6')}:8080/cgi-bin/health` };
    for (const [node, url] of Object.entries(hung)) {
      const detail = `timed out after 2s (${url})`;
      assert.deepEqual(attempts(node), [1, 2, 3].map((a) => [a, false, detail]), `${node}: every attempt cut off at the timeout`);
      assert.match(nodeDoneText(run, node), new RegExp(`health check \`health\` failed: timed out after 2s .*rolled back to system-\\d+-link`));
    }
    // The servers' own record: who asked, over which address family, and how often.
    const { gateway4, gateway6 } = ctx.lab.subnet;
    const from = { r1: `[::ffff:${gateway4}]`, r3: `[::ffff:${gateway4}]`, r4: `[::ffff:${gateway4}]`, r2: `[${gateway6}]`, r5: `[${gateway6}]`, r6: `[${gateway6}]` };
    const modes = { r1: 'ok', r2: 'ok', r3: 'flaky', r5: 'flaky', r4: 'hang', r6: 'hang' };
    for (const node of NODES) {
      const seen = (await requests(node)).slice(asked[node]);
      const count = modes[node as keyof typeof modes] === 'ok' ? 1 : 3;
      assert.deepEqual(seen, Array.from({ length: count }, () => `${from[node as keyof typeof from]} ${modes[node as keyof typeof modes]}`), `${node}: requests the service saw`);
    }
    const after = await snapshots();
    for (const node of ['r4', 'r6']) assert.deepEqual({ ...after[node]!, log: before[node]!.log }, before[node], `${node}: back on its old system and service`);
    for (const node of ['r1', 'r2', 'r3', 'r5']) assert.equal(after[node]!.service, outs[node], node);
  });

  test('pause: confirm without a terminal and without --yes: exit 2 before anything changes; --yes goes on', async () => {
    const file = await ctx.lab.writeFleet({
      nixFile: hive,
      path: `${ctx.lab.dir}/fleet-confirm.yaml`,
      extra: { rollout: { waves: [1, '100%'], pause: 'confirm' } },
      defaults: { confirmTimeout: '10s' },
    });
    const before = await snapshots();
    const witness = await readFile(ctx.lab.witness, 'utf8');
    const outs = await configure();
    const run = await runFleet(['-f', file, 'apply', '--json']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /the fleet file sets `rollout\.pause: confirm`, but there is no terminal to ask on; pass --yes to go on without asking/);
    assert.deepEqual(await snapshots(), before, 'no host changed');
    assert.equal(await readFile(ctx.lab.witness, 'utf8'), witness, 'nothing was built');
    for (const node of NODES) assert.notEqual((await ctx.lab.exec(node, ['nix-store', '--check-validity', outs[node]!])).exitCode, 0, `${node}: nothing copied`);

    const yes = await runFleet(['-f', file, 'apply', '--json', '--yes', '--on', 'r6']);
    assert.equal(yes.code, 0, yes.stderr);
    assert.deepEqual(outcomesOf(yes), { r6: 'activated' });
    assert.equal((await readSystemState(ctx.lab, 'r6')).current, outs.r6);
  });
});
