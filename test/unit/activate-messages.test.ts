// Activation's user-facing messages, driven by a fake node whose agent answers as scripted (pure logic only:
// test/unit/agent-commands.test.ts runs the real agent, the lab tests run it on real hosts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAgentClient } from '../../src/agent/client.js';
import { EXIT } from '../../src/agent/protocol.js';
import type { ResolvedNode } from '../../src/config/types.js';
import { activateNode, describeConfirmFailure, rollbackActivated } from '../../src/deploy/activate.js';
import type { Host } from '../../src/transport/host.js';
import type { CommandResult } from '../../src/transport/run.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';

const node: ResolvedNode = resolvedNode('web-1', { connectTimeoutMs: 1000, activationTimeoutMs: 1000 });
const ok = (stdout = ''): CommandResult => ({ argv: [], exitCode: 0, stdout, stderr: '', failed: false, timedOut: false, canceled: false, message: '' });
const fail = (exitCode: number, stderr: string, stdout = ''): CommandResult => ({ ...ok(stdout), exitCode, stderr, failed: true, message: `exit ${exitCode}` });
/** What `wait` prints: the action's output, then the report after the token. */
const report = (token: string, lines: string[]) => ok(['switch output', '', token, 'protocol=1', ...lines].join('\n'));
/** What activate and rollback print: the start marker, then as wait. */
const startedThen = (token: string, r: CommandResult): CommandResult => ({ ...r, stdout: `${token} started\n${r.stdout}` });

/** An agent call as the client sends it: the command and its name=value arguments. */
function decode(argv: string[]): { command: string; args: Record<string, string> } {
  const at = argv.indexOf('fleet-agent');
  return { command: argv[at + 2]!, args: Object.fromEntries(argv.slice(at + 3).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)])) };
}

interface Script {
  /** activate / rollback: their whole reply (default: the start marker, then what `wait` answers). */
  activate?: (token: string) => CommandResult;
  rollback?: (token: string) => CommandResult;
  wait: (action: string, token: string, seen: string) => CommandResult;
  probe?: CommandResult;
  fresh?: (token: string) => CommandResult;
}

/** A node whose agent answers as scripted; `calls` lists what was asked (command and action). */
function fakeHost(script: Script): Host & { calls: string[] } {
  const calls: string[] = [];
  const answer = async (argv: string[]) => {
    const { command, args } = decode(argv);
    calls.push(command === 'wait' ? `wait ${args.action} ${args.seen}` : command);
    if (command === 'wait') return script.wait(args.action!, args.report!, args.seen!);
    if (command === 'probe') return script.probe ?? ok('protocol=1');
    if (command === 'confirm') return script.fresh ? script.fresh(args.report!) : fail(255, 'ssh: connect to host h port 22: Connection timed out');
    const own = command === 'activate' ? script.activate : script.rollback;
    return own ? own(args.report!) : startedThen(args.report!, script.wait(command, args.report!, '0'));
  };
  return { label: 'web-1', isLocal: false, run: answer, runFresh: answer, connect: async () => {}, close: async () => {}, closeSync: () => {}, calls };
}

const agentOf = (host: Host) => createAgentClient(targetOver(host, node), { id: 'r', lock: { run: 'r', by: 'a@b', pid: 1 } });
const activate = (host: Host, goal: 'switch' | 'dry-activate' = 'switch', extra: { graceMs?: number } = {}) =>
  activateNode({ agent: agentOf(host), goal, outPath: '/nix/store/new', systemd: false, onPhase: () => {}, ...extra });
const armed = (host: Host, confirmTimeoutMs: number) =>
  activateNode({ agent: agentOf(host), goal: 'switch', outPath: '/nix/store/new', systemd: false, onPhase: () => {}, confirmTimeoutMs });
const before = ['before.profileLink=system-3-link', 'before.profileTarget=/nix/store/old', 'before.currentSystem=/nix/store/old'];
const backOnOld = ['status=done', ...before, 'now.profileLink=system-3-link', 'now.currentSystem=/nix/store/old'];
const holder = 'v=1 run=20261121T091502Z-3fa9c1d2 by=bob@ci pid=7 since=1795252502 expires=1795252802';

test('an activation that cannot start says why (the agent\'s or sudo\'s own words), and changes nothing', async () => {
  const r = await activate(fakeHost({ activate: () => fail(1, 'sudo: a password is required'), wait: () => fail(EXIT.noRunDir, 'fleet-agent: no run dir /run/fleet/r/web-1') }));
  assert.deepEqual(r, { outcome: 'failed', error: 'activation did not start: exit 1: sudo: a password is required' });
  const exists = await activate(fakeHost({ activate: () => fail(EXIT.notStarted, 'fleet-agent: cannot create /run/fleet/r/web-1'), wait: () => ok() }));
  assert.equal(exists.error, 'activation did not start: exit 93: fleet-agent: cannot create /run/fleet/r/web-1');
});

test('the lock is another run\'s by the time of the activation: locked, nothing changed, the holder named', async () => {
  const host = fakeHost({ activate: () => fail(EXIT.lock, '', `protocol=1\nlock=lost\nlockHolder=${holder}`), wait: () => assert.fail('nothing to wait for') });
  const r = await activate(host);
  assert.deepEqual(r, { outcome: 'locked', error: 'this run\'s lock was taken over by run 20261121T091502Z-3fa9c1d2 (bob@ci, pid 7) since 2026-11-21T09:15:02Z (--break-lock, or it expired); not activated' });
  assert.deepEqual(host.calls, ['activate'], 'one call: the agent checked the lock itself');
  const broken = await activate(fakeHost({ activate: () => fail(EXIT.lock, '', 'protocol=1\nlock=error flock on /run/fleet/locks failed (busy for 10 s, or no flock)'), wait: () => ok() }));
  assert.deepEqual(broken, { outcome: 'failed', error: 'cannot check the lock /run/fleet/locks/nix-var-nix-profiles-system: flock on /run/fleet/locks failed (busy for 10 s, or no flock); not activated' });
});

test('one round trip when the switch is quick: the activation\'s report comes back on the call that started it', async () => {
  const host = fakeHost({ wait: (_a, t) => report(t, ['status=done', 'switchStarted=1', 'profileSet=system-4-link', ...before, 'now.profileLink=system-4-link', 'now.profileTarget=/nix/store/new', 'now.currentSystem=/nix/store/new']) });
  const r = await activate(host);
  assert.equal(r.outcome, 'activated', r.error);
  assert.deepEqual(host.calls, ['activate']);
});

test('a failed switch is rolled back; a rollback that does not restore the record names both states and the commands', async () => {
  const switched = (token: string) => report(token, ['status=switch-failed 4', 'switchStarted=1', 'profileSet=system-4-link', ...before, 'now.currentSystem=/nix/store/new']);
  const good = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? switched(t) : report(t, backOnOld)) }));
  assert.equal(good.outcome, 'rolled-back');
  assert.equal(good.error, 'switch-to-configuration switch failed (exit 4); rolled back to system-3-link (/nix/store/old)');
  const bad = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? switched(t) : report(t, ['status=done', ...before, 'now.profileLink=system-4-link', 'now.currentSystem=/nix/store/new'])) }));
  assert.equal(bad.outcome, 'rollback-failed');
  assert.equal(bad.error, 'switch-to-configuration switch failed (exit 4); ROLLBACK FAILED: after rollback its profile is system-4-link, expected system-3-link (/nix/store/old); it runs /nix/store/new, expected /nix/store/old. On web-1 run: nix-env -p /nix/var/nix/profiles/system --switch-generation 3 && /nix/store/old/bin/switch-to-configuration switch');
  // Only the profile left wrong: the message names the systems the two profiles hold, not the one that runs on both sides.
  const profileOnly = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? switched(t) : report(t, ['status=done', ...before, 'now.profileLink=system-4-link', 'now.profileTarget=/nix/store/new', 'now.currentSystem=/nix/store/old'])) }));
  assert.match(profileOnly.error!, /ROLLBACK FAILED: after rollback its profile is system-4-link \(\/nix\/store\/new\), expected system-3-link \(\/nix\/store\/old\)\. On web-1 run:/);
  const refused = await activate(fakeHost({ rollback: () => fail(1, 'sudo: timed out'), wait: (a, t) => switched(t) }));
  assert.match(refused.error!, /ROLLBACK FAILED: the rollback did not start: exit 1: sudo: timed out\./);
  const odd = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? switched(t) : report(t, ['status=failed nix-env --switch-generation 3 failed', ...before])) }));
  assert.match(odd.error!, /ROLLBACK FAILED: nix-env --switch-generation 3 failed\./);
  const taken = await activate(fakeHost({ rollback: () => fail(EXIT.lock, '', `protocol=1\nlock=lost\nlockHolder=${holder}`), wait: (a, t) => switched(t) }));
  assert.deepEqual([taken.outcome, taken.error], ['locked', 'switch-to-configuration switch failed (exit 4); this run\'s lock was taken over by run 20261121T091502Z-3fa9c1d2 (bob@ci, pid 7) since 2026-11-21T09:15:02Z (--break-lock, or it expired); not rolled back']);
});

test('a failed dry-activate changed nothing: failed, no rollback', async () => {
  const r = await activate(fakeHost({ wait: (a, t) => report(t, ['status=switch-failed 1', 'switchStarted=1', ...before]) }), 'dry-activate');
  assert.deepEqual([r.outcome, r.error], ['failed', 'switch-to-configuration dry-activate failed (exit 1); nothing was changed']);
});

test('no answer from the agent before the deadline: the state is unknown, said as such', async () => {
  let waits = 0;
  const host = fakeHost({ activate: () => fail(255, 'Connection reset'), wait: () => (++waits > 1 ? fail(255, 'ssh: connect to host h port 22: Connection refused') : fail(255, 'Connection reset')) });
  const r = await activate(host, 'switch', { graceMs: 500 });
  assert.ok(waits >= 2, 'it asked again after the connection dropped');
  assert.equal(r.outcome, 'rollback-failed');
  assert.match(r.error!, /^no result from the target's agent in time \(last error: exit 255: ssh: connect to host h port 22: Connection refused\); the node's state is unknown: check it \(fleet plan\)$/);
});

test('a switch that cuts the connection after the agent started it reads as "state unknown", never as "did not start"', async () => {
  // The agent said it started; then the connection dropped and the node never answered again.
  const host = fakeHost({ activate: (t) => fail(255, 'Connection closed by remote host', `${t} started\nswitch output`), wait: () => fail(255, 'ssh: connect to host h port 22: Connection timed out') });
  const r = await activate(host, 'switch', { graceMs: 500 });
  assert.equal(r.outcome, 'rollback-failed');
  assert.match(r.error!, /the node's state is unknown/);
  // Back later, the agent has no record (a reboot cleared /run): still unknown, in the agent's own words.
  const rebooted = await activate(fakeHost({ activate: (t) => fail(255, 'Connection closed by remote host', `${t} started`), wait: () => fail(EXIT.noRunDir, 'fleet-agent: no run dir /run/fleet/r/web-1') }));
  assert.deepEqual([rebooted.outcome, rebooted.error], ['rollback-failed', 'the agent has no record of this activate on web-1: exit 95: fleet-agent: no run dir /run/fleet/r/web-1; the node\'s state is unknown: check it (fleet plan)']);
  // Cut before the agent said anything, and it has no record: it did not start.
  const never = await activate(fakeHost({ activate: () => fail(255, 'Connection reset by peer'), wait: () => fail(EXIT.noRunDir, 'fleet-agent: no run dir /run/fleet/r/web-1') }));
  assert.deepEqual([never.outcome, never.error], ['failed', 'activation did not start: exit 255: Connection reset by peer']);
});

test('a rollback whose start was cut before the agent began is sent once more, then waited for', async () => {
  const switched = (token: string) => report(token, ['status=switch-failed 4', 'switchStarted=1', 'profileSet=system-4-link', ...before]);
  let rollbacks = 0;
  let rollbackWaits = 0;
  const host = fakeHost({
    rollback: (t) => (++rollbacks === 1 ? fail(255, 'Connection reset by peer') : startedThen(t, ok(['', t, 'protocol=1', 'status='].join('\n')))),
    wait: (action, token) => {
      if (action === 'activate') return switched(token);
      // The first rollback never reached the agent: it has no rollback log yet.
      if (++rollbackWaits === 1) return fail(EXIT.noAction, 'fleet-agent: no rollback was started in /run/fleet/r/web-1');
      return report(token, backOnOld);
    },
  });
  const r = await activate(host);
  assert.deepEqual([r.outcome, rollbacks], ['rolled-back', 2]);
});

/** A node under magic rollback: its activation went live; the confirmation over a new connection answers `fresh`. */
function magicHost(fresh: ((token: string) => CommandResult) | undefined, verdict: string, after: string[], reverted = ['status=done', 'now.currentSystem=/nix/store/old', 'now.profileLink=system-3-link']) {
  return fakeHost({
    ...(fresh ? { fresh } : {}),
    wait: (action, token) => {
      if (action === 'activate') return report(token, ['status=done', 'switchStarted=1', ...before, 'now.currentSystem=/nix/store/new', 'now.profileTarget=/nix/store/old']);
      if (action === 'confirm') return report(token, [`status=${verdict}`, ...before, ...after]);
      return report(token, [...before, ...reverted]);
    },
  });
}
const confirmedNow = ['profileSet=system-4-link', 'now.currentSystem=/nix/store/new', 'now.profileLink=system-4-link', 'now.profileTarget=/nix/store/new'];

test('magic rollback: the confirmation rides a new connection with the run\'s token; confirmed and verified is activated', async () => {
  const sent: string[][] = [];
  const host = magicHost((t) => report(t, ['status=done', ...before, ...confirmedNow]), 'done', confirmedNow);
  const inner = host.runFresh;
  host.runFresh = async (argv, options) => {
    sent.push(argv);
    return inner(argv, options);
  };
  const r = await armed(host, 2000);
  assert.equal(r.outcome, 'activated', r.error);
  assert.equal(sent.length, 1);
  const { command, args } = decode(sent[0]!);
  assert.deepEqual([command, args.dir], ['confirm', '/run/fleet/r/web-1']);
  assert.match(args['confirm-token']!, /^[0-9a-f]{32}$/, 'a per-run random token');
});

test('magic rollback: the verdict comes back on the confirmation\'s own connection; the master is asked only while it has none', async () => {
  const quickHost = magicHost((t) => report(t, ['status=done', 'lines=2', ...before, ...confirmedNow]), 'done', confirmedNow);
  const quick = await armed(quickHost, 2000);
  assert.deepEqual([quick.outcome, quick.log], ['activated', ['switch output', 'switch output']], quick.error);
  assert.deepEqual(quickHost.calls, ['activate', 'confirm'], 'no `wait` over the master at all');
  // A slow boot step: the reply has no verdict yet, and the master's wait goes on after the lines it brought.
  const slowHost = magicHost((t) => report(t, ['status=', 'lines=2', ...before]), 'done', confirmedNow);
  const slow = await armed(slowHost, 2000);
  assert.equal(slow.outcome, 'activated', slow.error);
  assert.deepEqual(slowHost.calls, ['activate', 'confirm', 'wait confirm 2']);
});

test('magic rollback: no new connection gets through, the watchdog reverts: rolled-back, saying why', async () => {
  const host = magicHost(undefined, 'expired', ['now.currentSystem=/nix/store/old']);
  const r = await armed(host, 1000);
  assert.equal(r.outcome, 'rolled-back');
  assert.equal(r.error, 'the confirmation did not arrive within 1s (a new SSH connection failed: exit 255: ssh: connect to host h port 22: Connection timed out); the node\'s watchdog rolled it back to system-3-link (/nix/store/old)');
  assert.ok(host.calls.filter((c) => c === 'confirm').length >= 1, 'tried until the window closed');
});

test('magic rollback: the watchdog had decided before fleet saw the activation: no confirmation is sent, and the message says why', async () => {
  const host = magicHost((t) => report(t, ['status=done']), 'expired', ['now.currentSystem=/nix/store/old']);
  // The node was out of reach for the whole window: the first report already carries the watchdog's verdict.
  host.run = async (argv) => {
    const { command, args } = decode(argv);
    host.calls.push(command === 'wait' ? `wait ${args.action}` : command);
    if (command === 'activate') return startedThen(args.report!, report(args.report!, ['status=done', 'switchStarted=1', 'confirmStatus=expired', ...before, 'now.currentSystem=/nix/store/old']));
    if (command === 'wait' && args.action === 'confirm') return report(args.report!, ['status=expired', ...before]);
    return report(args.report!, [...before, 'status=done', 'now.currentSystem=/nix/store/old', 'now.profileLink=system-3-link']);
  };
  const r = await armed(host, 1000);
  assert.equal(host.calls.includes('confirm'), false);
  assert.deepEqual([r.outcome, r.error], ['rolled-back', 'the confirmation did not arrive within 1s (the node could not be reached while its window was open); the node\'s watchdog rolled it back to system-3-link (/nix/store/old)']);
});

test('an agent status fleet does not know is said as it is, and undone', async () => {
  const r = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? report(t, ['status=odd 7', 'switchStarted=1', ...before]) : report(t, backOnOld)) }));
  assert.deepEqual([r.outcome, r.error], ['rolled-back', 'the agent reported odd 7; rolled back to system-3-link (/nix/store/old)']);
});

test('magic rollback: the deployer could not even start ssh for the confirmation: rolled back by the watchdog, cause deployer-overloaded', async () => {
  const spawnFailed = (): CommandResult => ({ ...ok(), exitCode: undefined, failed: true, message: 'Command failed with EAGAIN: ssh h\nspawn ssh EAGAIN' });
  const r = await armed(magicHost(spawnFailed, 'expired', ['now.currentSystem=/nix/store/old']), 1000);
  assert.deepEqual([r.outcome, r.cause, r.error], ['rolled-back', 'deployer-overloaded', 'deployer-overloaded: the confirmation did not arrive within 1s (the deployer could not start a new SSH connection: could not run (EAGAIN)); the node\'s watchdog rolled it back to system-3-link (/nix/store/old)']);
  // A node that cannot be reached is not the deployer's fault: no cause.
  const unreachable = await armed(magicHost(undefined, 'expired', ['now.currentSystem=/nix/store/old']), 1000);
  assert.equal(unreachable.cause, undefined);
});

test('magic rollback: a confirmation that gets in after the node decided says so', async () => {
  const answers = [fail(255, 'ssh: Connection timed out during banner exchange'), fail(EXIT.tooLate, 'fleet-agent: too late, the watchdog already decided: expired')];
  const r = await armed(magicHost(() => answers.shift()!, 'expired', ['now.currentSystem=/nix/store/old']), 5000);
  assert.equal(r.error, 'the confirmation did not arrive within 5s (a new SSH connection failed: exit 255: ssh: Connection timed out during banner exchange; a new connection got through only after the window had closed); the node\'s watchdog rolled it back to system-3-link (/nix/store/old)');
});

test('magic rollback: confirmed, but the boot default could not be set: rolled back with the reason', async () => {
  const r = await armed(magicHost((t) => report(t, ['status=boot-failed 1', ...before]), 'boot-failed 1', []), 2000);
  assert.equal(r.outcome, 'rolled-back');
  assert.equal(r.error, 'confirmed, but making it the boot default failed (switch-to-configuration boot exit 1); rolled back to system-3-link (/nix/store/old)');
  assert.equal(describeConfirmFailure({ kind: 'boot-failed', code: 124 }), 'confirmed, but making it the boot default failed (switch-to-configuration boot timed out)');
  assert.equal(describeConfirmFailure({ kind: 'profile-failed', code: 2 }), 'confirmed, but setting the profile failed (nix-env exit 2)');
  assert.equal(describeConfirmFailure({ kind: 'superseded' }), 'the watchdog reported superseded');
});

test('magic rollback: a watchdog that stood down (another run took the node, or another system runs) is said so, never undone', async () => {
  const taken = await armed(magicHost((t) => report(t, ['status=stood-down lock', ...before, 'now.currentSystem=/nix/store/theirs', 'now.profileLink=system-5-link']), 'stood-down lock', []), 2000);
  assert.deepEqual([taken.outcome, taken.error], ['locked', 'another run took over this node\'s lock during its confirmation window; its watchdog left the node to that run (it runs system-5-link (/nix/store/theirs))']);
  const replaced = await armed(magicHost((t) => report(t, ['status=stood-down replaced', ...before, 'now.currentSystem=/nix/store/other']), 'stood-down replaced', []), 2000);
  assert.deepEqual([replaced.outcome, replaced.error], ['failed', 'the node was switched to another system during its confirmation window, not by this run; its watchdog left it so (it runs no profile (/nix/store/other))']);
});

/** A node that restarted within its window (its run dir is gone, no new connection gets through); its probe answers `probe`. */
const restartedHost = (probe: CommandResult) => fakeHost({
  probe,
  fresh: () => fail(255, 'ssh: connect to host h port 22: Connection refused'),
  wait: (action, token) => (action === 'activate'
    ? report(token, ['status=done', 'switchStarted=1', ...before, 'now.currentSystem=/nix/store/new'])
    : fail(EXIT.noRunDir, 'fleet-agent: no run dir /run/fleet/r/web-1')),
});

test('magic rollback: the run dir is gone after the window (a reboot): judged by what the node runs now', async () => {
  const r = await armed(restartedHost(ok('protocol=1\nprofileLink=system-3-link\nprofileTarget=/nix/store/old\ncurrentSystem=/nix/store/old')), 1000);
  assert.deepEqual([r.outcome, r.error], ['rolled-back', 'the node restarted within its 1s window, before the confirmation; it came back on system-3-link (/nix/store/old)']);
  const other = await armed(restartedHost(ok('protocol=1\nprofileLink=system-3-link\nprofileTarget=/nix/store/old\ncurrentSystem=/nix/store/new')), 1000);
  assert.equal(other.outcome, 'rollback-failed');
  assert.match(other.error!, /^the node restarted within its 1s window, before the confirmation; it runs \/nix\/store\/new, expected \/nix\/store\/old\. On web-1 run: /);
});

test('magic rollback: a watchdog whose own rollback failed, or left another system, is rollback-failed with the commands to run', async () => {
  const failed = await armed(magicHost(undefined, 'expired', [], ['status=failed re-activating /nix/store/old failed', 'now.currentSystem=/nix/store/new']), 1000);
  assert.equal(failed.outcome, 'rollback-failed');
  assert.match(failed.error!, /; the node's watchdog could not roll it back: re-activating \/nix\/store\/old failed\. On web-1 run: nix-env -p \/nix\/var\/nix\/profiles\/system --switch-generation 3 && \/nix\/store\/old\/bin\/switch-to-configuration switch$/);
  const elsewhere = await armed(magicHost(undefined, 'expired', [], ['status=done', 'now.currentSystem=/nix/store/new', 'now.profileLink=system-3-link']), 1000);
  assert.match(elsewhere.error!, /could not roll it back: after rollback it runs \/nix\/store\/new, expected \/nix\/store\/old\./);
});

test('magic rollback: the run dir is gone and the node cannot be read either: rollback-failed, with the commands to run', async () => {
  const r = await armed(restartedHost(fail(255, 'ssh: connect to host h port 22: Connection refused')), 1000);
  assert.deepEqual([r.outcome, r.error], ['rollback-failed', 'the node restarted within its 1s window, before the confirmation, and it cannot be read now: web-1: query: cannot read the node\'s state: exit 255: ssh: connect to host h port 22: Connection refused. On web-1 run: nix-env -p /nix/var/nix/profiles/system --switch-generation 3 && /nix/store/old/bin/switch-to-configuration switch']);
});

test('a later rollback (health check, failed wave) re-checks the lock: a node another run holds now is not touched', async () => {
  const host = fakeHost({ rollback: () => fail(EXIT.lock, '', `protocol=1\nlock=lost\nlockHolder=${holder}`), wait: () => assert.fail('no rollback to wait for') });
  const r = await rollbackActivated({ agent: agentOf(host), goal: 'switch', systemd: false, onPhase: () => {} }, 'wave 2 failed');
  assert.deepEqual([r.outcome, r.error], ['locked', 'wave 2 failed; this run\'s lock was taken over by run 20261121T091502Z-3fa9c1d2 (bob@ci, pid 7) since 2026-11-21T09:15:02Z (--break-lock, or it expired); not rolled back']);
  assert.deepEqual(host.calls, ['rollback']);
});
