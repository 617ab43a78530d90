// The reboot step with the real agent (test/agent-sandbox.ts): a "reboot" here is what the test does once the agent
// asked for one (the stand-in systemctl logs it): a new boot id (a file bound over /proc/sys/kernel/random/boot_id
// inside the sandbox), /run/fleet cleared, /run/booted-system and /run/current-system pointed at the boot entry (as
// NixOS's stage 2 does) or at whatever a test says the boot loader chose. Lab tests reboot systemd hosts for real.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAgentClient } from '../../src/agent/client.js';
import { REBOOT_NEEDS_GOAL, REBOOT_TIMEOUT_ALONE } from '../../src/cli/commands/apply.js';
import { runCliCaptured } from './cli-harness.js';
import { lockPath, parseLockRecord, type LockIdentity } from '../../src/agent/lock.js';
import type { ResolvedNode } from '../../src/config/types.js';
import type { Goal } from '../../src/goal.js';
import { rebootStage, runsBooted, undoAfterReboot } from '../../src/reboot/stage.js';
import type { RebootContext, Settled } from '../../src/reboot/types.js';
import { BOOT_ID, rebootAndWait } from '../../src/reboot/wait.js';
import type { SystemState } from '../../src/target/state.js';
import { createSandbox, requireSandbox, type Sandbox } from '../agent-sandbox.js';
import { waitFor } from '../poll.js';

const A: LockIdentity = { run: 'runA', by: 'alice@laptop', pid: 11 };
const B: LockIdentity = { run: 'runB', by: 'bob@ci', pid: 22 };
const bootId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('the reboot step, with the real agent', { skip: requireSandbox() }, () => {
  let sb: Sandbox;
  let boots = 1;
  before(async () => {
    sb = await createSandbox();
    writeFileSync(join(sb.dir, 'boot_id'), `${bootId(boots)}\n`);
    const r = await sb.exec(['mount', '--bind', join(sb.dir, 'boot_id'), BOOT_ID]);
    assert.equal(r.exitCode, 0, r.stderr);
  });
  after(() => sb?.close());

  let count = 0;
  const fresh = () => sb.node(`r${++count}`);
  const agentOf = (node: ResolvedNode, id = A) => createAgentClient(sb.target(node), { id: id.run, lock: id });

  /** Once the agent asks for a reboot: a new boot, booted on the boot entry unless `onto` says otherwise; `then`
   *  runs after it (another run taking the lock, say). Resolves when that boot is done; `never`: no reboot at all. */
  const rebootWhenAsked = async (opts: { onto?: string; then?: () => Promise<unknown>; nth?: number } = {}) => {
    const asked = sb.log('reboot.log').length + (opts.nth ?? 1);
    await waitFor('a reboot asked for', () => sb.log('reboot.log').length >= asked);
    const entry = opts.onto ?? (await sb.readlink(join(sb.dir, 'boot-default')));
    await sb.exec(['sh', '-c', 'rm -rf /run/fleet; ln -sfn "$1" /run/current-system; ln -sfn "$1" /run/booted-system', 'reboot', entry ?? '/nonexistent']);
    writeFileSync(join(sb.dir, 'boot_id'), `${bootId(++boots)}\n`);
    await opts.then?.();
  };
  const lockOf = async (node: ResolvedNode) => {
    const record = await sb.readlink(lockPath(node.profile));
    return record === undefined ? undefined : parseLockRecord(record);
  };
  /** node deployed with `goal` from `old` to `out` by run A (its lock taken, a generation each): what it ran before. */
  const deployed = async (node: ResolvedNode, old: string, out: string, goal: Goal = 'boot'): Promise<SystemState> => {
    const a = agentOf(node);
    await a.probe({ outPath: old, lock: 'take' });
    await a.activate({ outPath: old, goal: 'switch', setProfile: true, checkSystem: true, systemd: false, waitSeconds: 20 });
    await sb.exec(['rm', '-rf', a.dir]); // a later run's dir; this run's own activation follows
    const r = await a.activate({ outPath: out, goal, setProfile: true, checkSystem: true, systemd: false, waitSeconds: 20 });
    assert.deepEqual(r.report?.status, { kind: 'done' });
    return r.report!.before;
  };
  const call = (node: ResolvedNode, expected: string, timeoutMs = 20_000) => {
    const requested: string[] = [];
    return {
      requested,
      call: {
        agent: agentOf(node), systemd: false, timeoutMs, lock: { op: 'take' as const, identity: A }, expected,
        onPhase: () => {}, onRequested: () => requested.push(node.name),
      },
    };
  };

  test('rebootAndWait: asked under the lock, a new boot id, the lock taken again (the reboot cleared it), what it runs', async () => {
    const node = fresh();
    const out = sb.system(`${node.name}-new`);
    await deployed(node, sb.system(`${node.name}-old`), out);
    const { call: c, requested } = call(node, out);
    const [end] = await Promise.all([rebootAndWait(c), rebootWhenAsked()]);
    assert.equal(end.kind, 'back');
    assert.ok(end.kind === 'back');
    assert.equal(end.rebooted.bootId, bootId(boots));
    assert.deepEqual([end.rebooted.now.bootedSystem, end.rebooted.now.currentSystem, end.rebooted.now.profileTarget], [out, out, out]);
    assert.equal(runsBooted(end.rebooted.now, out), true);
    assert.deepEqual(requested, [node.name], 'the lock was let go of once the reboot was asked for');
    assert.equal((await lockOf(node))?.run, 'runA', 'taken again');
  });

  test('rebootAndWait: no new boot id within the deadline: not back, with what to check; another run\'s lock: no reboot asked', async () => {
    const node = fresh();
    const out = sb.system(`${node.name}-new`);
    await deployed(node, sb.system(`${node.name}-old`), out);
    const { call: c } = call(node, out, 2500);
    const end = await rebootAndWait(c);
    assert.equal(end.kind, 'not-back');
    assert.ok(end.kind === 'not-back');
    assert.match(end.reason, new RegExp(`^did not come back within 2500ms of its reboot \\(--reboot-timeout\\); last: it still answers from its old boot \\(boot id ${bootId(boots)}\\)\\. Its state is unknown: check its console`));
    assert.match(end.reason, new RegExp(`\`fleet exec --on ${node.name} -- cat /proc/sys/kernel/random/boot_id\` \\(it was ${bootId(boots)} before the reboot\\)`));
    // The sandbox's reboot stand-in only logs: this node never rebooted. Another run takes its lock now.
    await agentOf(node, B).probe({ outPath: out, lock: 'break' });
    const asked = sb.log('reboot.log').length;
    const refused = await rebootAndWait(call(node, out).call);
    assert.deepEqual([refused.kind, refused.kind === 'not-asked' && refused.outcome], ['not-asked', 'locked']);
    assert.ok(refused.kind === 'not-asked' && /this run's lock was taken over by run runB .*; not rebooted$/.test(refused.reason), JSON.stringify(refused));
    assert.equal(sb.log('reboot.log').length, asked, 'no reboot asked for');
  });

  test('rebootAndWait: another run took the lock while the node rebooted: it is left to that run', async () => {
    const node = fresh();
    const out = sb.system(`${node.name}-new`);
    await deployed(node, sb.system(`${node.name}-old`), out);
    const [end] = await Promise.all([
      rebootAndWait(call(node, out).call),
      rebootWhenAsked({ then: () => agentOf(node, B).probe({ outPath: out, lock: 'take' }) }),
    ]);
    assert.equal(end.kind, 'taken');
    assert.ok(end.kind === 'taken' && /^another run took its lock while it rebooted: locked by run runB/.test(end.reason));
    assert.equal((await lockOf(node))?.run, 'runB');
  });

  /** A RebootContext over the sandbox, as deploy's NodeContext gives it; undo goes the way deploy's does after a reboot. */
  const contextOf = (node: ResolvedNode, out: string, before: SystemState | undefined, every = false) => {
    const held: string[] = [];
    const phases: string[] = [];
    const ctx: RebootContext = {
      run: {
        id: 'runA', lockIdentity: A, targets: new Map([[node.name, { systemd: false }]]), stop: { signal: new AbortController().signal },
        pool: { targetOf: () => sb.target(node) },
        locks: { hold: (n) => held.push(`hold ${n.name}`), released: (n) => held.push(`released ${n.name}`) },
      },
      policy: { goal: 'boot', reboot: { every, timeoutMs: 20_000 } },
      plan: { outPath: out, activate: before !== undefined },
      node,
      phase: (phase, detail) => phases.push(`${phase}: ${detail}`),
      ...(before ? { activation: { before } } : {}),
      undo: (why: string): Promise<Settled> => undoAfterReboot(ctx, why),
    };
    return { ctx, held, phases };
  };

  test('the step: back on the new system, the lock held again; the health checks come next', async () => {
    const node = fresh();
    const out = sb.system(`${node.name}-new`);
    const before = await deployed(node, sb.system(`${node.name}-old`), out);
    const { ctx, held } = contextOf(node, out, before);
    assert.equal(rebootStage.applies(ctx), true);
    const [r] = await Promise.all([rebootStage.run(ctx), rebootWhenAsked()]);
    assert.deepEqual(r, { kind: 'next' });
    assert.equal(ctx.rebooted?.bootId, bootId(boots));
    assert.deepEqual(held, [`released ${node.name}`, `hold ${node.name}`]);
  });

  test('the step: back on the system it ran before (the boot loader chose the older entry): its profile goes back too, rolled-back', async () => {
    const node = fresh();
    const old = sb.system(`${node.name}-old`);
    const out = sb.system(`${node.name}-new`);
    const before = await deployed(node, old, out);
    assert.equal(await sb.readlink(node.profile), 'system-2-link');
    const { ctx } = contextOf(node, out, before);
    const asked = sb.log('reboot.log').length;
    const [r] = await Promise.all([rebootStage.run(ctx), rebootWhenAsked({ onto: old })]);
    assert.equal(r.kind, 'done');
    assert.ok(r.kind === 'done');
    assert.equal(r.outcome, 'rolled-back', r.error);
    assert.match(r.error!, /running .*-old, booted .*-old, not .*-new: the system it ran before this run \(the boot loader chose the older entry\); its profile is back on system-1-link/);
    assert.equal(await sb.readlink(node.profile), 'system-1-link', 'the profile is back on the old generation');
    assert.equal(await sb.readlink(join(sb.dir, 'boot-default')), old, 'and so is the boot entry');
    assert.equal(sb.log('reboot.log').length, asked + 1, 'no second reboot: it already runs that system');
  });

  test('undo after a reboot (a failed check or wave): the old generation as the boot entry, a reboot into it, verified', async () => {
    const node = fresh();
    const old = sb.system(`${node.name}-old`);
    const out = sb.system(`${node.name}-new`);
    const before = await deployed(node, old, out);
    const { ctx } = contextOf(node, out, before);
    await Promise.all([rebootStage.run(ctx), rebootWhenAsked()]);
    const [r] = await Promise.all([ctx.undo('health check `web` failed: exit 3'), rebootWhenAsked()]);
    assert.equal(r.outcome, 'rolled-back', r.error);
    assert.equal(r.error, `health check \`web\` failed: exit 3; rolled back to system-1-link (${old}) and rebooted into it`);
    assert.deepEqual([await sb.readlink(node.profile), await sb.readlink('/run/booted-system'), await sb.readlink('/run/current-system')], ['system-1-link', old, old]);
    assert.equal((await lockOf(node))?.run, 'runA');
  });

  test('undo after a reboot that does not come back: unreachable-after-reboot, its profile already back', async () => {
    const node = fresh();
    const old = sb.system(`${node.name}-old`);
    const out = sb.system(`${node.name}-new`);
    const before = await deployed(node, old, out);
    const { ctx } = contextOf(node, out, before);
    await Promise.all([rebootStage.run(ctx), rebootWhenAsked()]);
    (ctx.policy as { reboot: { every: boolean; timeoutMs: number } }).reboot.timeoutMs = 2000; // the second reboot never ends
    const r = await ctx.undo('wave 2 failed');
    assert.equal(r.outcome, 'unreachable-after-reboot');
    assert.match(r.error!, /^wave 2 failed; rolled back to system-1-link and rebooted into it, but it did not come back within 2s/);
    assert.equal(await sb.readlink(node.profile), 'system-1-link');
  });

  test('fleet reboot (every node, nothing deployed): back on another system than its boot default fails; nothing to undo', async () => {
    const node = fresh();
    const out = sb.system(`${node.name}-new`);
    await deployed(node, sb.system(`${node.name}-old`), out, 'switch');
    const { ctx } = contextOf(node, out, undefined, true);
    assert.equal(rebootStage.applies(ctx), true);
    const [r] = await Promise.all([rebootStage.run(ctx), rebootWhenAsked({ onto: sb.system(`${node.name}-other`) })]);
    assert.ok(r.kind === 'done');
    assert.equal(r.outcome, 'failed');
    assert.match(r.error!, /-other, not .*-new: its boot default at the start of this run$/);
  });
});

test('which nodes --reboot reboots: what the run activates, and those whose booted system is not the new one (boot, switch)', () => {
  const ctx = (goal: Goal, activate: boolean, booted: string | undefined, every = false) => ({
    policy: { goal, reboot: { every, timeoutMs: 1 } }, plan: { outPath: '/new', activate, ...(booted ? { from: { bootedSystem: booted } } : {}) },
  }) as unknown as RebootContext;
  assert.equal(rebootStage.applies(ctx('boot', true, '/new')), true);
  assert.equal(rebootStage.applies(ctx('switch', true, '/old')), true);
  assert.equal(rebootStage.applies(ctx('boot', false, '/old')), true, 'an earlier boot deploy waits for its reboot');
  assert.equal(rebootStage.applies(ctx('boot', false, '/new')), false, 'up to date and booted on it');
  assert.equal(rebootStage.applies(ctx('test', true, '/old')), false);
  assert.equal(rebootStage.applies(ctx('boot', false, '/new', true)), true, 'fleet reboot: every node');
  assert.equal(rebootStage.applies({ policy: { goal: 'boot' }, plan: { outPath: '/new', activate: true } } as unknown as RebootContext), false, 'no --reboot');
});

const cli = (args: string[]) => runCliCaptured(args);

test('CLI: --reboot only for boot and switch, --reboot-timeout only with it (exit 2, nothing touched); help with examples', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-reboot-'));
  writeFileSync(join(dir, 'hive.nix'), '{ }');
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, 'version: 1\nnix: { file: ./hive.nix }\nnodes:\n  a: { host: 127.0.0.1, port: 1 }\n');
  for (const goal of ['test', 'dry-activate', 'build', 'push']) {
    const r = await cli(['-f', file, 'apply', goal, '--reboot']);
    assert.deepEqual([r.code, r.stderr], [2, `fleet: ${REBOOT_NEEDS_GOAL}\n`], goal);
  }
  const alone = await cli(['-f', file, 'apply', 'boot', '--reboot-timeout', '5m']);
  assert.deepEqual([alone.code, alone.stderr], [2, `fleet: ${REBOOT_TIMEOUT_ALONE}\n`]);
  const bad = await cli(['-f', file, 'reboot', '--reboot-timeout', 'later']);
  assert.equal(bad.code, 2);
  for (const [command, words] of [
    ['reboot', ['--reboot-timeout <duration>', '--waves <sizes>', 'unreachable-after-reboot', 'Exit codes of reboot', 'fleet reboot --on web-1']],
    ['apply', ['--reboot ', '--reboot-timeout <duration>', 'fleet apply boot --reboot --waves 1,10% --reboot-timeout 5m']],
  ] as const) {
    const help = await cli([command, '--help']);
    assert.equal(help.code, 0);
    for (const word of words) assert.ok(help.stdout.includes(word), `${command} --help: ${word}`);
  }
});
