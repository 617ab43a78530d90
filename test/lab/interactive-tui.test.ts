// `fleet apply -i` in a real terminal (tmux) against light lab hosts, checked on the hosts: the plan review, y
// deploys wave by wave, n leaves every host untouched, p pauses between waves until r, a aborts with every host on
// its old or its new generation; the terminal is given back each time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';
import { labNixEnv, readSystemState, snapshotHost, type StandInSpec } from '../../lab/index.js';
import { startTmux, type TmuxSession } from '../tmux.js';
import { FLEET_BIN } from './run-fleet.js';
import { configureHive, requireLabCapable, useDeployedLab } from './support.js';

const NODES = ['t1', 't2', 't3'];
const WAVE_2 = ['t2', 't3'];
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// Generous: evaluation, builds and SSH on a shared machine; never a measurement.
const DEADLINE_MS = 90_000;
const TERMINAL_BACK = { canonical: true, echo: true, cursorVisible: true };

describe('fleet apply -i in tmux on a 3-node lab (waves 1,100%)', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NODES, `base-${nonce}`, { packages: [{ name: 'hello-2.10' }] });
  const sessions: TmuxSession[] = [];
  // A test that failed midway leaves its fleet running: Ctrl+C lets it release the hosts' locks before the next test.
  afterEach(async () => {
    for (const s of sessions.splice(0)) {
      if (s.exitCode() === undefined) await s.sendKeys('C-c').then(() => s.waitForExit(DEADLINE_MS)).catch(() => {});
      await s.close();
    }
  });

  /** Every node gets a new system (another hello: a real package change); `variant` per node (slow: a 3 s activation). */
  const prepare = async (tag: string, variants: Partial<Record<string, StandInSpec['variant']>> = {}) => {
    const specs = Object.fromEntries(NODES.map((n): [string, StandInSpec] => [n, { name: `${tag}-${nonce}`, packages: [{ name: 'hello-2.12' }], ...(variants[n] ? { variant: variants[n] } : {}) }]));
    const outs = await configureHive(ctx.lab, ctx.hive, specs);
    const before = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await snapshotHost(ctx.lab, n)] as const)));
    return { outs, before };
  };
  const fleetI = async (args: string[], env: Record<string, string> = {}) => {
    const tmux = await startTmux({
      command: [process.execPath, '--import', 'tsx', FLEET_BIN, '-f', ctx.fleetFile, ...args],
      cwd: ROOT, env: { ...labNixEnv, ...env }, width: 160, height: 50,
    });
    sessions.push(tmux);
    return tmux;
  };
  const applyI = (env: Record<string, string> = {}) => fleetI(['apply', '-i', '--waves', '1,100%'], env);
  const runsNew = async (host: string, out: string) => {
    const s = await readSystemState(ctx.lab, host);
    return s.current === out && s.profile === out;
  };
  /** The review, once every node's diff is there. */
  const reviewed = (tmux: TmuxSession) => tmux.waitForScreen(new RegExp(`^${NODES.length} diffs of ${NODES.length} ready`, 'm'), DEADLINE_MS);

  test('the plan review shows waves, from → to and each node\'s diff; y deploys wave by wave; the hosts run the new systems; exit 0', async () => {
    const { outs, before } = await prepare('yes', { t1: 'slow', t2: 'slow', t3: 'slow' });
    const tmux = await applyI();
    const review = await reviewed(tmux);
    assert.match(review, /^wave 1 · 1 node · may fail 0$/m);
    assert.match(review, /^wave 2 · 2 nodes · may fail 0$/m);
    for (const n of NODES) {
      const gen = /system-(\d+)-link/.exec(before[n]!.link!)![1];
      assert.match(review, new RegExp(`^[ ▸] ${n} +gen ${gen} → new +.*switch needed$`, 'm'), `${n}: from its generation to a new one`);
    }
    // hello 2.10 → 2.12: one package changed on every node (the hosts' stores are checked after the deploy).
    assert.equal(review.split('\n').filter((l) => /build on local · copy from local · diff: 1 changed\b/.test(l)).length, NODES.length);
    assert.deepEqual(await Promise.all(NODES.map((n) => snapshotHost(ctx.lab, n))), NODES.map((n) => before[n]), 'reviewing changed nothing');

    await tmux.sendKeys('y');
    await tmux.waitForScreen(/^wave 1 of 2 +running/m, DEADLINE_MS);
    const second = await tmux.waitForScreen(/^wave 2 of 2 +running/m, DEADLINE_MS);
    assert.match(second, /^wave 1 of 2 +passed/m);
    assert.ok(await runsNew('t1', outs.t1!), 't1 (wave 1) runs its new system while wave 2 runs');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 0);
    const result = await tmux.capture();
    assert.match(result, /^3 nodes: 3 activated$/m);
    assert.match(result, /^2 waves: 2 passed$/m);
    assert.match(result, /^exit code 0 after /m);
    for (const n of NODES) assert.ok(await runsNew(n, outs[n]!), `${n} runs its new system`);
    for (const n of NODES) {
      const closure = (await ctx.lab.exec(n, ['nix-store', '--query', '--requisites', outs[n]!])).stdout;
      assert.match(closure, /-hello-2\.12$/m, `${n}'s store holds the new system with hello 2.12`);
    }
    assert.deepEqual(await tmux.modesAfterExit(), TERMINAL_BACK);
  });

  test('n at the review: exit 0, every host exactly as it was, the terminal given back (with CI=true exported in the shell)', async () => {
    const { outs, before } = await prepare('no');
    // A person at a terminal whose shell exports CI: the review must still be drawn (ink alone would draw only at exit).
    const tmux = await applyI({ CI: 'true' });
    await reviewed(tmux);
    await tmux.sendKeys('n');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 0);
    assert.match(await tmux.capture(), /^3 nodes: 3 skipped$/m);
    for (const n of NODES) {
      assert.deepEqual(await snapshotHost(ctx.lab, n), before[n], `${n} untouched`);
      assert.equal((await ctx.lab.exec(n, ['nix-store', '--check-validity', outs[n]!])).exitCode, 1, `nothing copied to ${n}`);
    }
    assert.deepEqual(await tmux.modesAfterExit(), TERMINAL_BACK);
  });

  test('p while wave 1 runs pauses before wave 2 (its hosts untouched) until r; then every host runs its new system', async () => {
    const { outs, before } = await prepare('pause', { t1: 'slow' });
    const tmux = await applyI();
    await reviewed(tmux);
    await tmux.sendKeys('y');
    await tmux.waitForScreen(/^wave 1 of 2 +running/m, DEADLINE_MS);
    await tmux.sendKeys('p');
    const paused = await tmux.waitForScreen(/^paused before wave 2 /m, DEADLINE_MS);
    assert.match(paused, /^wave 1 of 2 +passed/m);
    assert.ok(await runsNew('t1', outs.t1!), 't1 deployed before the pause');
    for (const n of WAVE_2) assert.deepEqual(await snapshotHost(ctx.lab, n), before[n], `${n} (wave 2) untouched while paused`);
    await tmux.sendKeys('r');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 0);
    assert.match(await tmux.capture(), /^3 nodes: 3 activated$/m);
    for (const n of NODES) assert.ok(await runsNew(n, outs[n]!), `${n} runs its new system`);
    assert.deepEqual(await tmux.modesAfterExit(), TERMINAL_BACK);
  });

  test('a while wave 2 activates asks, then aborts as Ctrl+C does: exit 130, every host on its old or its new generation', async () => {
    const { outs, before } = await prepare('abort', { t2: 'slow', t3: 'slow' });
    const tmux = await applyI();
    await reviewed(tmux);
    await tmux.sendKeys('y');
    await tmux.waitForScreen((s) => /^wave 2 of 2 +running/m.test(s) && /^[ ▸] t[23] +activating/m.test(s), DEADLINE_MS);
    await tmux.sendKeys('a');
    await tmux.waitForScreen(/abort\? nothing new starts/, DEADLINE_MS);
    await tmux.sendKeys('y');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 130);
    assert.match(await tmux.capture(), /^interrupted; exit code 130 after /m);
    for (const n of NODES) {
      const s = await readSystemState(ctx.lab, n);
      const onNew = s.current === outs[n] && s.profile === outs[n];
      const onOld = s.current === before[n]!.current && s.profile === before[n]!.profile;
      assert.ok(onNew || onOld, `${n} is on its old or its new generation: ${JSON.stringify(s)}`);
    }
    assert.ok(await runsNew('t1', outs.t1!), 't1 (wave 1, done before the abort) keeps its new system');
    assert.deepEqual(await tmux.modesAfterExit(), TERMINAL_BACK);
  });

  test('fleet rollback -i: the review shows the generation it goes back to; y puts the node back on its previous system', async () => {
    const { outs } = await prepare('forward');
    const forward = await applyI();
    await reviewed(forward);
    await forward.sendKeys('y');
    assert.equal(await forward.waitForExit(DEADLINE_MS), 0);
    const deployed = await readSystemState(ctx.lab, 't1');
    assert.equal(deployed.current, outs.t1);
    const gen = Number(/system-(\d+)-link/.exec(deployed.link!)![1]);

    const tmux = await fleetI(['rollback', '-i', '--on', 't1']);
    const review = await tmux.waitForScreen(/^1 diff of 1 ready/m, DEADLINE_MS);
    assert.match(review, /^fleet rollback/m);
    assert.match(review, new RegExp(`^[ ▸] t1 +gen ${gen} → gen ${gen - 1} `, 'm'));
    // Nothing to build or copy: both systems are on the target, whose store the diff is read from.
    assert.match(review, /no build · already on target · diff: \d+ (added|removed|changed)\b/);
    await tmux.sendKeys('y');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 0);
    const back = await readSystemState(ctx.lab, 't1');
    assert.equal(back.link, `system-${gen - 1}-link`, 't1 is back on the generation before');
    assert.notEqual(back.current, outs.t1);
    assert.equal(back.current, back.profile);
    assert.deepEqual(await tmux.modesAfterExit(), TERMINAL_BACK);
  });

  test('Ctrl+C twice while wave 2 activates quits at once as without -i (exit 3, naming the nodes mid-activation), the terminal given back', async () => {
    await prepare('quit', { t2: 'slow', t3: 'slow' });
    const tmux = await applyI();
    await reviewed(tmux);
    await tmux.sendKeys('y');
    await tmux.waitForScreen((s) => /^[ ▸] t2 +activating/m.test(s) && /^[ ▸] t3 +activating/m.test(s), DEADLINE_MS);
    await tmux.sendKeys('C-c');
    await tmux.waitForScreen(/^fleet: Ctrl\+C: starting nothing new/m, DEADLINE_MS);
    await tmux.sendKeys('C-c');
    assert.equal(await tmux.waitForExit(DEADLINE_MS), 3);
    assert.match(await tmux.capture(), /^fleet: quit while activating (t2, t3|t3, t2): their state is unknown/m);
    assert.deepEqual(await tmux.modesAfterExit(), TERMINAL_BACK);
  });
});
