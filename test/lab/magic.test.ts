// Magic rollback on light lab hosts (the agent detaches with setsid): a system that refuses new SSH
// connections is reverted by the node itself; only the run's own token confirms; a killed fleet leaves the
// watchdogs to revert, an interrupted one still confirms what it activated. Checked on the hosts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { countGenerations, readActivations, readSystemState, type StandInSpec } from '../../lab/index.js';
import { runDir } from '../../src/agent/client.js';
import { eventually, waitFor } from '../poll.js';
import { configureHive, labAgent, requireLabCapable, useDeployedLab } from './support.js';
import { nodeDoneText, outcomesOf, parseEvents, runFleet, spawnFleet } from './run-fleet.js';

const NAMES = ['m1', 'm2'];

describe('magic rollback on light hosts', { skip: requireLabCapable() }, () => {
  const nonce = randomBytes(4).toString('hex');
  const ctx = useDeployedLab({ before, after }, NAMES, `base-${nonce}`); // generation 1 everywhere, by fleet
  const configure = (specs: Record<string, StandInSpec>) => configureHive(ctx.lab, ctx.hive, specs);
  const generations = (host: string) => countGenerations(ctx.lab, host);
  const activations = (host: string) => readActivations(ctx.lab, host);
  /** The content of a file the agent writes on the host, once it is there (bounded wait). */
  const waitForFile = async (host: string, file: string) => {
    let text = '';
    await waitFor(`${host}: ${file}`, async () => {
      const r = await ctx.lab.exec(host, ['cat', file]);
      text = r.stdout.trim();
      return r.exitCode === 0;
    });
    return text;
  };

  test('a system that refuses new SSH connections: the confirmation cannot get through, the node reverts by itself, the profile never moved', async () => {
    const before = await readSystemState(ctx.lab, 'm1');
    const gens = await generations('m1');
    const outs = await configure({ m1: { name: `cut-${nonce}`, variant: 'cut-ssh' }, m2: { name: `base-${nonce}` } });
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-cut.yaml`, defaults: { confirmTimeout: '3s', connectTimeout: '2s' } });
    const run = await runFleet(['-f', file, 'apply', '--on', 'm1', '--json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(outcomesOf(run), { m1: 'rolled-back' });
    assert.match(nodeDoneText(run, 'm1'), /the confirmation did not arrive within 3s \(a new SSH connection failed: .*\); the node's watchdog rolled it back to system-1-link/);
    assert.deepEqual(await readSystemState(ctx.lab, 'm1'), before, 'back on exactly the recorded system');
    assert.equal(await generations('m1'), gens, 'no generation was ever added: the profile never moved');
    const log = await activations('m1');
    assert.deepEqual(log.slice(-2), [`test ${outs.m1}`, `switch ${before.current}`], 'live with test, then the recorded system re-activated');
    // The old system's activation brought sshd back: a new fleet process (a new connection) gets in.
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'plan', 'switch', '--on', 'm1', '--json'])).code, 0, 'new connections work again');
    // The same system without the watchdog: nothing brings the node back.
    const lost = await runFleet(['-f', file, 'apply', '--on', 'm1', '--json', '--no-magic-rollback']);
    assert.deepEqual(outcomesOf(lost), { m1: 'activated' }, 'the old master does not notice anything wrong');
    assert.equal((await readSystemState(ctx.lab, 'm1')).current, outs.m1, 'without magic rollback it stays on the broken system');
    const refused = await runFleet(['-f', file, 'plan', 'switch', '--on', 'm1', '--json']);
    assert.notEqual(refused.code, 0, 'and no new connection gets in');
    await ctx.lab.exec('m1', ['sh', '-c', 'kill -CONT "$(cat /run/fleet-lab/sshd.pid)"']);
    await configure({ m1: { name: `base-${nonce}` }, m2: { name: `base-${nonce}` } });
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'm1', '--json'])).code, 0);
  });

  test('a watchdog armed with one token is not confirmed by another; its own token confirms and moves the boot default', async () => {
    const outs = await configure({ m1: { name: `base-${nonce}` }, m2: { name: `tok-${nonce}` } });
    assert.equal((await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'm2', '--json'])).code, 0);
    const recorded = await readSystemState(ctx.lab, 'm2');
    assert.equal(recorded.current, outs.m2);
    const base = outs.m1!; // in m2's store since the first deploy
    const arm = (run: string, token: string) => {
      const agent = labAgent(ctx.lab, 'm2', { id: run });
      return agent.activate({ outPath: base, goal: 'switch', setProfile: true, checkSystem: true, systemd: false, waitSeconds: 30, watchdog: { seconds: 3, token } }).then((r) => ({ agent, r }));
    };

    const wrongDir = runDir(`wrong-${nonce}`, 'm2');
    const wrong = await arm(`wrong-${nonce}`, 'token-of-this-run');
    assert.deepEqual(wrong.r.report?.status, { kind: 'done' }, 'live: the activation\'s report came back with the call');
    assert.equal((await wrong.agent.confirm('token-of-another-run', { timeoutMs: 15_000 })).report?.status, undefined, 'refused at once, no verdict');
    assert.equal(await waitForFile('m2', `${wrongDir}/confirm.status`), 'expired');
    assert.match((await ctx.lab.exec('m2', ['cat', `${wrongDir}/confirm.log`])).stdout, /ignored a confirmation that does not carry this run's token/);
    assert.deepEqual(await readSystemState(ctx.lab, 'm2'), recorded, 'reverted to exactly what it recorded');

    const rightDir = runDir(`right-${nonce}`, 'm2');
    const right = await arm(`right-${nonce}`, 'token-of-this-run');
    assert.deepEqual(right.r.report?.status, { kind: 'done' });
    const reply = await right.agent.confirm('token-of-this-run', { timeoutMs: 15_000 });
    assert.deepEqual(reply.report?.status, { kind: 'done' }, 'the verdict comes back on the confirmation\'s own connection');
    assert.equal(await waitForFile('m2', `${rightDir}/confirm.status`), 'done');
    const now = await readSystemState(ctx.lab, 'm2');
    assert.equal(now.current, base);
    assert.equal(now.profile, base, 'confirmed: the profile moved');
    assert.equal(now.link, `system-${Number(/system-(\d+)-link/.exec(recorded.link!)![1]) + 1}-link`);
  });

  test('fleet killed (SIGKILL) before it could confirm: the node reverts on its own', async () => {
    const outs = await configure({ m1: { name: `base-${nonce}` }, m2: { name: `killed-${nonce}`, variant: 'slow' } });
    const file = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-kill.yaml`, defaults: { confirmTimeout: '3s' } });
    const before = await readSystemState(ctx.lab, 'm2');
    let killed = false;
    // Killed once the agent on the host has started the switch (its own file says so).
    const startedDirs = async () => (await ctx.lab.exec('m2', ['sh', '-c', 'ls -d /run/fleet/*/m2/switch-started 2>/dev/null'])).stdout.trim().split('\n').filter(Boolean);
    const earlier = new Set(await startedDirs());
    const child = spawnFleet(['-f', file, 'apply', '--on', 'm2', '--json']);
    const started = async () => (await startedDirs()).some((d) => !earlier.has(d));
    const killer = eventually(started, { timeoutMs: 15_000, everyMs: 50 }).then((seen) => {
      if (seen) killed = child.kill('SIGKILL');
    });
    await child.catch(() => {});
    await killer;
    assert.ok(killed, 'fleet was killed while m2 activated');
    // slow: the switch takes 3 s, then the 3 s window; the node is on its own.
    const reverted = async () => {
      const log = await activations('m2');
      return log.at(-2) === `test ${outs.m2}` && log.at(-1) === `switch ${before.current}`;
    };
    assert.ok(await eventually(reverted, { timeoutMs: 20_000 }), `the new system went live, then the recorded one was re-activated: ${(await activations('m2')).slice(-3).join(', ')}`);
    assert.deepEqual(await readSystemState(ctx.lab, 'm2'), before, 'and the watchdog put back exactly the recorded system');
  });

  /** Run A applies m2 with `fleetFile` and is SIGKILLed once m2's switch started: its run dir there (A's watchdog's). */
  async function killedWhileActivating(fleetFile: string): Promise<string> {
    const startedDirs = async () => (await ctx.lab.exec('m2', ['sh', '-c', 'ls -d /run/fleet/*/m2/switch-started 2>/dev/null'])).stdout.trim().split('\n').filter(Boolean);
    const earlier = new Set(await startedDirs());
    const a = spawnFleet(['-f', fleetFile, 'apply', '--on', 'm2', '--json', '--break-lock']);
    let aDir: string | undefined;
    const killer = eventually(async () => {
      aDir = (await startedDirs()).find((d) => !earlier.has(d))?.replace(/\/switch-started$/, '');
      return aDir !== undefined;
    }, { timeoutMs: 15_000, everyMs: 50 }).then((seen) => seen && a.kill('SIGKILL'));
    await a.catch(() => {});
    assert.ok(await killer, 'run A was killed while m2 activated');
    return aDir!;
  }

  test('a stale watchdog never undoes the next run: fleet SIGKILLed in its window, another run breaks the lock and deploys, the old watchdog stands down', async () => {
    await configure({ m1: { name: `base-${nonce}` }, m2: { name: `stale-a-${nonce}`, variant: 'slow' } });
    // A window long enough for run B to deploy inside it.
    const fileA = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-stale.yaml`, defaults: { confirmTimeout: '20s' } });
    const aDir = await killedWhileActivating(fileA);
    assert.equal(await waitForFile('m2', `${aDir}/activate.status`), 'done', 'A\'s system went live; its watchdog waits for a confirmation that never comes');
    // Run B: the README's advice for a dead run's lock.
    const outs = await configure({ m1: { name: `base-${nonce}` }, m2: { name: `stale-b-${nonce}` } });
    const b = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'm2', '--json', '--break-lock']);
    assert.deepEqual(outcomesOf(b), { m2: 'activated' }, b.stderr);
    const afterB = await readSystemState(ctx.lab, 'm2');
    assert.deepEqual([afterB.current, afterB.profile], [outs.m2, outs.m2]);
    // A's window closes: its watchdog decides, and must leave B's deploy alone.
    const verdict = await waitForFile('m2', `${aDir}/confirm.status`);
    assert.deepEqual(await readSystemState(ctx.lab, 'm2'), afterB, 'the node still runs B\'s system, as its profile and records say');
    assert.equal(verdict, 'stood-down lock');
    assert.equal((await ctx.lab.exec('m2', ['test', '-e', `${aDir}/rollback.status`])).exitCode, 1, 'A\'s watchdog rolled nothing back');
  });

  test('lockTimeout shorter than confirmTimeout: a killed run\'s lock lasts until its watchdog decided; the next apply finds the node locked, then the node reverts', async () => {
    const before = await readSystemState(ctx.lab, 'm2');
    await configure({ m1: { name: `base-${nonce}` }, m2: { name: `short-lock-${nonce}`, variant: 'slow' } });
    const fileA = await ctx.lab.writeFleet({ nixFile: ctx.hive, path: `${ctx.lab.dir}/fleet-short-lock.yaml`, defaults: { confirmTimeout: '15s', lockTimeout: '2s' } });
    const aDir = await killedWhileActivating(fileA);
    assert.equal(await waitForFile('m2', `${aDir}/activate.status`), 'done');
    // Past A's lockTimeout by the host's own clock: without the watchdog's hold, its lock would have expired.
    const live = Number((await ctx.lab.exec('m2', ['stat', '-c', '%Y', `${aDir}/activate.status`])).stdout.trim());
    await waitFor('2 s past A\'s activation on m2\'s clock', async () => Number((await ctx.lab.exec('m2', ['date', '+%s'])).stdout.trim()) > live + 2);
    const b = await runFleet(['-f', ctx.fleetFile, 'apply', '--on', 'm2', '--json']);
    assert.deepEqual(outcomesOf(b), { m2: 'locked' }, 'the node is still A\'s: its watchdog has not decided');
    assert.match(nodeDoneText(b, 'm2'), new RegExp(`locked by run ${aDir!.split('/')[3]}`));
    assert.equal(await waitForFile('m2', `${aDir}/confirm.status`), 'expired', 'no confirmation came: A\'s watchdog reverted');
    assert.deepEqual(await readSystemState(ctx.lab, 'm2'), before, 'back on what A found');
  });

  test('Ctrl+C while a node activates: it is still confirmed (boot default moved), exit 130', async () => {
    const outs = await configure({ m1: { name: `base-${nonce}` }, m2: { name: `int-${nonce}`, variant: 'slow' } });
    // The run killed above left m2's lock behind (it expires in lockTimeout): take it over.
    const child = spawnFleet(['-f', ctx.fleetFile, 'apply', '--on', 'm2', '--json', '--break-lock']);
    let sent = false;
    child.stdout!.on('data', (chunk: Buffer) => {
      if (!sent && /"node":"m2","phase":"activate"/.test(chunk.toString())) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    const r = await child;
    assert.ok(sent);
    assert.equal(r.exitCode, 130, String(r.stderr));
    const events = parseEvents(String(r.stdout));
    assert.ok(events.some((e) => e.type === 'node-phase' && e.node === 'm2' && e.phase === 'confirm'), 'it went on to confirm');
    const state = await readSystemState(ctx.lab, 'm2');
    assert.equal(state.current, outs.m2);
    assert.equal(state.profile, outs.m2, 'confirmed: the boot default moved');
    // The watchdog's own verdict: confirmed, and it has exited (nothing reverts the node later).
    const dir = runDir(events[0]!.run, 'm2');
    assert.equal(await waitForFile('m2', `${dir}/confirm.status`), 'done');
    assert.equal((await ctx.lab.exec('m2', ['test', '-e', `${dir}/rollback.status`])).exitCode, 1, 'no rollback ran');
    assert.equal((await readSystemState(ctx.lab, 'm2')).current, outs.m2);
  });
});
