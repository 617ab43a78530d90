// Every agent command for real: src/agent/agent.sh as fleet embeds it, driven by the agent client over a Target,
// with stand-ins for nix-env, nix-store, systemd-run and the systems (test/agent-sandbox.ts), in a mount namespace
// with its own /run. What the agent leaves is checked in the files and links themselves.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createAgentClient, newConfirmToken, type AgentClient } from '../../src/agent/client.js';
import { lockPath, parseLockRecord, type LockIdentity } from '../../src/agent/lock.js';
import { AgentProtocolError, EXIT, PROTOCOL_VERSION, RUN_DIRS_KEPT } from '../../src/agent/protocol.js';
import { AGENT_SCRIPT } from '../../src/agent/script.js';
import type { ResolvedNode } from '../../src/config/types.js';
import { createSandbox, requireSandbox, type Sandbox } from '../agent-sandbox.js';
import { waitFor } from '../poll.js';

const A: LockIdentity = { run: 'runA', by: 'alice@laptop', pid: 11 };
const B: LockIdentity = { run: 'runB', by: 'bob@ci', pid: 22 };

describe('the agent, command by command', { skip: requireSandbox() }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(() => sb?.close());

  let count = 0;
  /** A fresh node (its own profile, state dir and lock) and run A's client for it. */
  const fresh = (extra: Partial<ResolvedNode> = {}) => {
    const node = sb.node(`n${++count}`, extra);
    return { node, agentOf: (id: LockIdentity, run = id.run) => createAgentClient(sb.target(node), { id: run, lock: id }) };
  };
  const lockOf = async (node: ResolvedNode) => {
    const record = await sb.readlink(lockPath(node.profile));
    return record === undefined ? undefined : parseLockRecord(record);
  };
  /** Takes the node's lock as `id` (the probe's job) and activates `out` with goal switch, magic rollback when `window`. */
  const deploy = async (agent: AgentClient, out: string, window?: number) => {
    const probe = await agent.probe({ outPath: out, lock: 'take' });
    assert.equal(probe.ok && probe.lock?.state, 'taken');
    return agent.activate({ outPath: out, goal: 'switch', setProfile: true, checkSystem: true, systemd: false, waitSeconds: 20, ...(window ? { watchdog: { seconds: window, token: 'tok' } } : {}) });
  };

  test('probe: takes the lock in the same call, reads the state, says whether the system is there; every reply carries the protocol', async () => {
    const { node, agentOf } = fresh();
    const agent = agentOf(A);
    const out = sb.system('probe-a');
    const r = await agent.probe({ outPath: out, lock: 'take' });
    assert.ok(r.ok);
    assert.deepEqual([r.state, r.lock], [{ hasOut: true, systemd: false }, { state: 'taken', expired: false }]);
    assert.match(r.stdout, new RegExp(`^protocol=${PROTOCOL_VERSION}$`, 'm'));
    const record = (await sb.readlink(lockPath(node.profile)))!;
    assert.match(record, /^v=1 run=runA by=alice@laptop pid=11 since=\d+ expires=\d+$/, 'the lock record carries its version');
    const other = await agentOf(B).probe({ outPath: '/nonexistent', lock: 'read' });
    assert.ok(other.ok);
    assert.deepEqual([other.state.hasOut, other.lock?.state, other.lock?.holder?.run], [false, 'held', 'runA']);
    const refused = await agentOf(B).probe({ outPath: out, lock: 'take' });
    assert.deepEqual([refused.ok && refused.lock?.state, (await lockOf(node))?.run], ['held', 'runA'], 'a live lock is not taken');
  });

  test('activate without a watchdog: checks the lock, records what ran, sets the profile, switches, reports in the same call', async () => {
    const { node, agentOf } = fresh();
    const agent = agentOf(A);
    const out = sb.system('plain-a');
    const r = await deploy(agent, out);
    assert.equal(r.started, true);
    assert.deepEqual(r.report?.status, { kind: 'done' });
    assert.deepEqual(r.log, [`activated ${out} (switch)`]);
    assert.deepEqual(r.report?.now, { profileLink: 'system-1-link', generation: 1, profileTarget: out, currentSystem: out });
    assert.deepEqual(r.report?.before, {});
    assert.equal(await sb.readlink('/run/current-system'), out);
    assert.equal(await sb.readlink(node.profile), 'system-1-link');
    assert.equal(await sb.cat(`${agent.dir}/activate.status`), 'done');
    assert.ok(((await lockOf(node))?.expires ?? 0) > 0, 'the lock is still held (renewed)');
  });

  test('activate, rollback and finish refuse when the lock is another run\'s: nothing is changed, the holder is named', async () => {
    const { node, agentOf } = fresh();
    const a = agentOf(A);
    const out = sb.system('locked-a');
    await deploy(a, out);
    const b = agentOf(B);
    assert.equal((await b.probe({ outPath: out, lock: 'break' })).ok, true);
    const again = await a.activate({ outPath: sb.system('locked-b'), goal: 'switch', setProfile: true, checkSystem: true, systemd: false, waitSeconds: 5 });
    assert.deepEqual([again.started, again.failure?.kind], [false, 'lock']);
    assert.equal(again.failure?.kind === 'lock' && again.failure.lock?.holder?.run, 'runB');
    assert.equal(await sb.readlink('/run/current-system'), out, 'not activated');
    const undo = await a.rollback({ systemd: false, waitSeconds: 5 });
    assert.deepEqual([undo.started, undo.failure?.kind], [false, 'lock'], 'a rollback re-checks the lock too');
    assert.equal(await sb.cat(`${a.dir}/rollback.log`), undefined, 'nothing was started');
    const finished = await a.finish({ release: true });
    assert.deepEqual(finished.lock?.state, 'lost');
    assert.equal((await lockOf(node))?.run, 'runB', 'B\'s lock is left alone');
  });

  test('rollback: undoes exactly what the run changed (profile and live system), once, and reports in the same call', async () => {
    const { node, agentOf } = fresh();
    const first = sb.system('rb-first');
    await deploy(agentOf(A, 'run1'), first);
    const agent = agentOf(A, 'run2');
    const second = sb.system('rb-second');
    await deploy(agent, second);
    assert.equal(await sb.readlink(node.profile), 'system-2-link');
    const r = await agent.rollback({ systemd: false, waitSeconds: 20 });
    assert.deepEqual([r.started, r.report?.status], [true, { kind: 'done' }]);
    assert.equal(await sb.readlink(node.profile), 'system-1-link');
    assert.equal(await sb.readlink('/run/current-system'), first);
    assert.deepEqual(sb.log('activations.log').slice(-1), [`switch ${first}`]);
    const twice = await agent.rollback({ systemd: false, waitSeconds: 20 });
    assert.deepEqual(twice.report?.status, { kind: 'done' }, 'claimed already: the first rollback\'s verdict');
    assert.deepEqual(sb.log('activations.log').slice(-1), [`switch ${first}`], 'no second re-activation');
  });

  test('rollback: a profile that pointed at a store path itself (no generation) is pointed there again, without nix-env', async () => {
    const { node, agentOf } = fresh();
    const agent = agentOf(A);
    const old = sb.system('rb-store-old');
    await sb.exec(['ln', '-sfn', old, node.profile]);
    await sb.exec(['ln', '-sfn', old, '/run/current-system']);
    await deploy(agent, sb.system('rb-store-new'));
    assert.equal(await sb.readlink(node.profile), 'system-1-link');
    const calls = sb.log('calls.log').length;
    const r = await agent.rollback({ systemd: false, waitSeconds: 20 });
    assert.deepEqual(r.report?.status, { kind: 'done' });
    assert.deepEqual(r.report?.before, { profileLink: old, profileTarget: old, currentSystem: old });
    assert.equal(await sb.readlink(node.profile), old, 'the link itself, as it was');
    assert.equal(await sb.readlink('/run/current-system'), old);
    assert.deepEqual(sb.log('calls.log').slice(calls), [], 'no nix-env for a link that was no generation');
  });

  test('wait: resumes after the lines already seen; no run dir and no such action are told apart', async () => {
    const { agentOf } = fresh();
    const agent = agentOf(A);
    await deploy(agent, sb.system('wait-a'));
    const all = await agent.wait('activate', { seconds: 1, seen: 0 });
    assert.deepEqual([all.log.length, all.seen], [1, 1]);
    const rest = await agent.wait('activate', { seconds: 1, seen: 1 });
    assert.deepEqual([rest.log, rest.seen, rest.report?.status], [[], 1, { kind: 'done' }]);
    const none = await agent.wait('confirm', { seconds: 1, seen: 0 });
    assert.deepEqual(none.failure, { kind: 'agent', exit: 'noAction', reason: `exit ${EXIT.noAction}: fleet-agent: no confirm was started in ${agent.dir}` });
    const gone = await agentOf(A, 'no-such-run').wait('activate', { seconds: 1, seen: 0 });
    assert.equal(gone.failure?.kind === 'agent' && gone.failure.exit, 'noRunDir');
  });

  test('magic rollback: only the run\'s token confirms; the verdict (boot default moved) comes back on the confirmation itself', async () => {
    const { node, agentOf } = fresh();
    const agent = agentOf(A);
    const out = sb.system('magic-a');
    const r = await deploy(agent, out, 30);
    assert.deepEqual(r.report?.status, { kind: 'done' });
    assert.equal(await sb.readlink(node.profile), undefined, 'live with test: the profile has not moved');
    assert.deepEqual(sb.log('activations.log').slice(-1), [`test ${out}`]);
    const wrong = await agent.confirm('not-the-token', { timeoutMs: 15_000 });
    assert.equal(wrong.report?.status, undefined, 'a wrong token is no verdict');
    const right = await agent.confirm('tok', { timeoutMs: 15_000 });
    assert.deepEqual(right.report?.status, { kind: 'done' });
    assert.equal(await sb.readlink(node.profile), 'system-1-link', 'confirmed: the profile moved');
    assert.deepEqual(sb.log('activations.log').slice(-1), [`boot ${out}`]);
    assert.match((await sb.cat(`${agent.dir}/confirm.log`))!, /ignored a confirmation that does not carry this run's token/);
    const late = await agent.confirm('tok', { timeoutMs: 15_000 });
    assert.deepEqual(late.failure, { kind: 'agent', exit: 'tooLate', reason: `exit ${EXIT.tooLate}: fleet-agent: too late, the watchdog already decided: done` });
  });

  test('magic rollback: no confirmation in the window: the watchdog puts back what it recorded', async () => {
    const { node, agentOf } = fresh();
    const first = sb.system('expire-first');
    await deploy(agentOf(A, 'e1'), first);
    const agent = agentOf(A, 'e2');
    await deploy(agent, sb.system('expire-second'), 1);
    await waitFor('the watchdog\'s verdict', async () => (await sb.cat(`${agent.dir}/confirm.status`)) !== undefined);
    assert.equal(await sb.cat(`${agent.dir}/confirm.status`), 'expired');
    assert.equal(await sb.cat(`${agent.dir}/rollback.status`), 'done');
    assert.equal(await sb.readlink('/run/current-system'), first);
    assert.equal(await sb.readlink(node.profile), 'system-1-link');
  });

  test('a stale watchdog (its run killed in the window) never acts once another run took the lock and activated', async () => {
    const { node, agentOf } = fresh();
    const base = sb.system('stale-base');
    await deploy(agentOf(A, 'stale0'), base);
    await agentOf(A, 'stale0').finish({ release: true });
    // Run A activates with a 2 s window, then "dies": it never confirms.
    const a = agentOf(A);
    await deploy(a, sb.system('stale-a'), 2);
    // Run B breaks A's lock (as README says to do for a dead run) and deploys its own system.
    const b = agentOf(B);
    const bOut = sb.system('stale-b');
    assert.equal((await b.probe({ outPath: bOut, lock: 'break' })).ok, true);
    const r = await b.activate({ outPath: bOut, goal: 'switch', setProfile: true, checkSystem: true, systemd: false, waitSeconds: 20 });
    assert.deepEqual(r.report?.status, { kind: 'done' });
    await waitFor('A\'s watchdog to decide', async () => (await sb.cat(`${a.dir}/confirm.status`)) !== undefined);
    assert.equal(await sb.cat(`${a.dir}/confirm.status`), 'stood-down lock');
    assert.equal(await sb.cat(`${a.dir}/rollback.status`), undefined, 'no rollback ran');
    assert.equal(await sb.readlink('/run/current-system'), bOut, 'B\'s system stays');
    assert.equal(await sb.readlink(node.profile), 'system-2-link', 'and B\'s profile');
  });

  test('a watchdog whose system was replaced meanwhile (the lock still its run\'s) stands down too', async () => {
    const { agentOf } = fresh();
    const a = agentOf(A);
    await deploy(a, sb.system('replaced-a'), 2);
    const other = sb.system('replaced-other');
    await sb.exec(['ln', '-sfn', other, '/run/current-system']);
    await waitFor('the watchdog to decide', async () => (await sb.cat(`${a.dir}/confirm.status`)) !== undefined);
    assert.equal(await sb.cat(`${a.dir}/confirm.status`), 'stood-down replaced');
    assert.equal(await sb.readlink('/run/current-system'), other);
  });

  test('an armed watchdog extends its run\'s lock over the window: lockTimeout shorter than confirmTimeout cannot free the node early', async () => {
    const { node, agentOf } = fresh({ lockTimeoutMs: 1000 });
    const a = agentOf(A);
    await deploy(a, sb.system('extend-a'), 30);
    await waitFor('the extension', async () => {
      const lock = await lockOf(node);
      return lock !== undefined && lock.expires - lock.since >= 30;
    });
    assert.equal((await a.lock('renew')).reply?.state, 'renewed');
    const lock = (await lockOf(node))!;
    assert.ok(lock.expires - lock.since >= 30, 'a renewal with the short lockTimeout does not shorten it');
    assert.equal((await a.confirm('tok', { timeoutMs: 15_000 })).report?.status?.kind, 'done');
  });

  test('reboot: only under this run\'s lock; a transient timer under systemd, else setsid; the reply comes before the reboot', async () => {
    const { node, agentOf } = fresh();
    const a = agentOf(A);
    await a.probe({ outPath: '/nonexistent', lock: 'take' });
    assert.deepEqual(await a.reboot({ systemd: true }), {});
    assert.ok(sb.log('systemd-run.log').includes(`--unit=fleet-runA-${node.name}-reboot`), 'a unit of its own');
    await waitFor('systemctl reboot', () => sb.log('reboot.log').includes('systemctl reboot'));
    assert.deepEqual(await a.reboot({ systemd: false }), {});
    await waitFor('reboot (setsid, a second later)', () => sb.log('reboot.log').includes('reboot '));
    const asked = sb.log('reboot.log').length;
    const refused = await agentOf(B).reboot({ systemd: false });
    assert.equal(refused.failure?.kind, 'lock', 'another run\'s lock: no reboot');
    await new Promise((r) => setTimeout(r, 1500)); // what setsid would have started a second later
    assert.equal(sb.log('reboot.log').length, asked, 'nothing asked for a reboot');
  });

  test('finish: the record, then the lock, in one call; records kept to `keep`, renamed into place', async () => {
    const { node, agentOf } = fresh();
    const agent = agentOf(A);
    await agent.probe({ outPath: '/nonexistent', lock: 'take' });
    for (let i = 1; i <= 4; i++) assert.deepEqual(await agent.finish({ record: { stateDir: node.stateDir, line: `{"n":${i}}`, keep: 3 }, release: false }), { recorded: true });
    assert.equal(await sb.cat(`${node.stateDir}/records`), '{"n":2}\n{"n":3}\n{"n":4}');
    const last = await agent.finish({ record: { stateDir: node.stateDir, line: '{"n":5}', keep: 3 }, release: true });
    assert.deepEqual([last.recorded, last.lock?.state], [true, 'released']);
    assert.equal(await lockOf(node), undefined);
    const blocked = await agent.finish({ record: { stateDir: '/proc/no-such-dir/state', line: '{}', keep: 3 }, release: false });
    assert.deepEqual([blocked.recorded, blocked.recordError], [false, 'cannot create /proc/no-such-dir/state']);
    await assert.rejects(agent.finish({ record: { stateDir: node.stateDir, line: '{"a":1}\n{"b":2}', keep: 3 }, release: false }), /record holds a newline/);
  });

  test('a directory in the lock\'s place: a clear error, and no stray symlink left in it', async () => {
    const { node, agentOf } = fresh();
    const path = lockPath(node.profile);
    await sb.exec(['mkdir', '-p', path]);
    for (const op of ['take', 'read'] as const) {
      const r = await agentOf(A).probe({ outPath: '/nonexistent', lock: op });
      assert.ok(r.ok);
      assert.deepEqual(r.lock, { state: 'error', expired: false, error: `${path} is not a lock (a directory or file is in its place: remove it)` });
    }
    assert.equal((await sb.exec(['ls', '-A', path])).stdout, '', 'nothing was written into the directory');
  });

  test('run dirs: a node keeps its newest ones (this run\'s among them) and every one still in use', async () => {
    const { node, agentOf } = fresh();
    const out = sb.system('prune-a');
    const dirs: string[] = [];
    for (let i = 0; i < RUN_DIRS_KEPT + 2; i++) {
      const agent = agentOf(A, `prune-${i}`);
      await deploy(agent, out);
      dirs.push(agent.dir);
      // The second run's activation never finished (its status is missing): in use, whatever its age.
      if (i === 1) await sb.exec(['rm', `${agent.dir}/activate.status`]);
      // mtimes a second apart (and recent): the newest by mtime are the last ones made.
      await sb.exec(['touch', '-d', `@${Math.floor(Date.now() / 1000) - 100 + i}`, agent.dir]);
    }
    const left = (await sb.exec(['sh', '-c', `ls -d /run/fleet/*/${node.name}`])).stdout.split('\n').sort();
    const kept = [dirs[1]!, ...dirs.slice(-RUN_DIRS_KEPT)];
    assert.deepEqual(left, [...kept].sort());
    assert.equal((await sb.exec(['test', '-e', `/run/fleet/prune-0`])).exitCode, 1, 'an emptied run\'s dir goes too');
  });

  test('systemd: the transient unit says what it runs (test, then boot once confirmed), not "switch"', async () => {
    const { agentOf } = fresh();
    const agent = agentOf(A);
    const out = sb.system('unit-a');
    await agent.probe({ outPath: out, lock: 'take' });
    const r = await agent.activate({ outPath: out, goal: 'switch', setProfile: true, checkSystem: true, systemd: true, waitSeconds: 20, watchdog: { seconds: 30, token: newConfirmToken() } });
    assert.deepEqual(r.report?.status, { kind: 'done' });
    const calls = sb.log('systemd-run.log');
    assert.deepEqual(calls.slice(-2), [
      `--unit=fleet-runA-${agent.node.name}-activate`,
      `--description=fleet: ${out}: switch-to-configuration test, then nix-env --set and switch-to-configuration boot once confirmed; back to what ${agent.dir}/before records unless fleet confirms within 30s`,
    ]);
    const plain = agentOf(A, 'unit-plain');
    await plain.activate({ outPath: out, goal: 'boot', setProfile: true, checkSystem: true, systemd: true, waitSeconds: 20 });
    assert.equal(sb.log('systemd-run.log').at(-1), `--description=fleet: ${out}: nix-env --set, then switch-to-configuration boot`);
  });

  test('activate refuses a path that is not a system; a bad argument or command is a usage error', async () => {
    const { agentOf } = fresh();
    const agent = agentOf(A);
    await agent.probe({ outPath: '/nonexistent', lock: 'take' });
    const r = await agent.activate({ outPath: `${sb.dir}/store`, goal: 'switch', setProfile: true, checkSystem: true, systemd: false, waitSeconds: 5 });
    assert.deepEqual([r.started, r.report?.status], [true, { kind: 'refused' }]);
    const wrapper = 'AGENT=$1; shift; eval "$AGENT"';
    const bad = await sb.exec(['sh', '-c', wrapper, 'fleet-agent', AGENT_SCRIPT, 'probe', 'colour=red']);
    assert.deepEqual([bad.exitCode, bad.stderr], [EXIT.usage, 'fleet-agent: unknown argument colour']);
    const unknown = await sb.exec(['sh', '-c', wrapper, 'fleet-agent', AGENT_SCRIPT, 'dance']);
    assert.deepEqual([unknown.exitCode, unknown.stderr], [EXIT.usage, 'fleet-agent: unknown command dance']);
  });

  test('a reply in another protocol is a clear, typed error', async () => {
    const { node } = fresh();
    const target = sb.target(node);
    const older = createAgentClient({ ...target, run: (argv, o) => target.run(argv.map((a) => a.replace(/^PROTOCOL=\d+$/m, 'PROTOCOL=0')), o) });
    await assert.rejects(older.probe({ outPath: '/nonexistent' }), (e: unknown) => e instanceof AgentProtocolError && e.message === `${node.name}: the agent answered in protocol 0; this fleet speaks ${PROTOCOL_VERSION}`);
  });
});
