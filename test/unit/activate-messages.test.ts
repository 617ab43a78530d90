// Activation's user-facing messages, driven by a fake host that answers like the agent (pure logic only:
// the lab tests run the real agent on real hosts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResolvedNode } from '../../src/config/types.js';
import { activateNode, describeConfirmFailure } from '../../src/deploy/activate.js';
import type { Host } from '../../src/transport/host.js';
import { targetOver } from '../target.js';
import type { CommandResult } from '../../src/transport/run.js';

const node = { name: 'web-1', host: 'h', user: 'root', profile: '/nix/var/nix/profiles/system', privilegeEscalation: ['sudo'], checkSystem: true, connectTimeoutMs: 1000, activationTimeoutMs: 1000 } as ResolvedNode;
const ok = (stdout = ''): CommandResult => ({ argv: [], exitCode: 0, stdout, stderr: '', failed: false, timedOut: false, canceled: false, message: '' });
const fail = (exitCode: number, stderr: string): CommandResult => ({ ...ok(), exitCode, stderr, failed: true, message: `exit ${exitCode}` });
const report = (token: string, lines: string[]) => ok(['switch output', '', token, ...lines].join('\n'));

/** A host whose agent answers `activate`, `rollback` and `wait <action>` as scripted. */
function fakeHost(answer: { activate?: CommandResult; rollback?: CommandResult; wait: (action: string, token: string) => CommandResult }): Host {
  return {
    label: 'web-1', isLocal: false,
    run: async (argv) => {
      const command = argv[4];
      if (command === 'wait') return answer.wait(argv[6]!, argv[9]!);
      return (command === 'activate' ? answer.activate : answer.rollback) ?? ok();
    },
    runFresh: async () => ok(), connect: async () => {}, close: async () => {}, closeSync: () => {},
  };
}

const activate = (host: Host, goal: 'switch' | 'dry-activate' = 'switch') =>
  activateNode({ target: targetOver(host, node), runId: 'r', goal, outPath: '/nix/store/new', systemd: false, onPhase: () => {} });
const before = ['before.profileLink=system-3-link', 'before.profileTarget=/nix/store/old', 'before.currentSystem=/nix/store/old'];

test('an activation that cannot start says why (the agent\'s or sudo\'s own words), and changes nothing', async () => {
  const r = await activate(fakeHost({ activate: fail(1, 'sudo: a password is required'), wait: () => fail(95, 'fleet-agent: no run dir /run/fleet/r/web-1') }));
  assert.deepEqual(r, { outcome: 'failed', error: 'activation did not start: exit 1: sudo: a password is required', log: [] });
  const exists = await activate(fakeHost({ activate: fail(93, 'fleet-agent: cannot create /run/fleet/r/web-1'), wait: () => ok() }));
  assert.equal(exists.error, 'activation did not start: exit 93: fleet-agent: cannot create /run/fleet/r/web-1');
});

test('a failed switch is rolled back; a rollback that does not restore the record names both states and the commands', async () => {
  const switched = (token: string) => report(token, ['status=switch-failed 4', 'switchStarted=1', 'profileSet=system-4-link', ...before, 'now.currentSystem=/nix/store/new']);
  const good = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? switched(t) : report(t, ['status=done', ...before, 'now.profileLink=system-3-link', 'now.currentSystem=/nix/store/old'])) }));
  assert.equal(good.outcome, 'rolled-back');
  assert.equal(good.error, 'switch-to-configuration switch failed (exit 4); rolled back to system-3-link (/nix/store/old)');
  const bad = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? switched(t) : report(t, ['status=done', ...before, 'now.profileLink=system-4-link', 'now.currentSystem=/nix/store/new'])) }));
  assert.equal(bad.outcome, 'rollback-failed');
  assert.equal(bad.error, 'switch-to-configuration switch failed (exit 4); ROLLBACK FAILED: after rollback its profile is system-4-link, expected system-3-link (/nix/store/old); it runs /nix/store/new, expected /nix/store/old. On web-1 run: nix-env -p /nix/var/nix/profiles/system --switch-generation 3 && /nix/store/old/bin/switch-to-configuration switch');
  // Only the profile left wrong: the message names the systems the two profiles hold, not the one that runs on both sides.
  const profileOnly = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? switched(t) : report(t, ['status=done', ...before, 'now.profileLink=system-4-link', 'now.profileTarget=/nix/store/new', 'now.currentSystem=/nix/store/old'])) }));
  assert.match(profileOnly.error!, /ROLLBACK FAILED: after rollback its profile is system-4-link \(\/nix\/store\/new\), expected system-3-link \(\/nix\/store\/old\)\. On web-1 run:/);
  const refused = await activate(fakeHost({ rollback: fail(1, 'sudo: timed out'), wait: (a, t) => switched(t) }));
  assert.match(refused.error!, /ROLLBACK FAILED: the rollback did not start: exit 1: sudo: timed out\./);
  const odd = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? switched(t) : report(t, ['status=failed nix-env --switch-generation 3 failed', ...before])) }));
  assert.match(odd.error!, /ROLLBACK FAILED: nix-env --switch-generation 3 failed\./);
});

test('a failed dry-activate changed nothing: failed, no rollback', async () => {
  const r = await activate(fakeHost({ wait: (a, t) => report(t, ['status=switch-failed 1', 'switchStarted=1', ...before]) }), 'dry-activate');
  assert.deepEqual([r.outcome, r.error], ['failed', 'switch-to-configuration dry-activate failed (exit 1); nothing was changed']);
});

test('no answer from the agent before the deadline: the state is unknown, said as such', async () => {
  let waits = 0;
  const host = fakeHost({ wait: () => (++waits > 1 ? fail(255, 'ssh: connect to host h port 22: Connection refused') : fail(255, 'Connection reset')) });
  const r = await activateNode({ target: targetOver(host, node), runId: 'r', goal: 'switch', outPath: '/nix/store/new', systemd: false, onPhase: () => {}, graceMs: 500 });
  assert.ok(waits >= 2, 'it asked again after the connection dropped');
  assert.equal(r.outcome, 'rollback-failed');
  assert.match(r.error!, /^no result from the target's agent in time \(last error: exit 255: ssh: connect to host h port 22: Connection refused\); the node's state is unknown: check it \(fleet plan\)$/);
});

test('a rollback whose start was cut before the agent began is sent once more, then waited for', async () => {
  const switched = (token: string) => report(token, ['status=switch-failed 4', 'switchStarted=1', 'profileSet=system-4-link', ...before]);
  let rollbacks = 0;
  let rollbackWaits = 0;
  const host: Host = {
    ...fakeHost({ wait: () => ok() }),
    run: async (argv) => {
      if (argv[4] === 'rollback') return ++rollbacks === 1 ? fail(255, 'Connection reset by peer') : ok();
      if (argv[4] !== 'wait') return ok();
      if (argv[6] === 'activate') return switched(argv[9]!);
      // The first rollback never reached the agent: it has no rollback log yet.
      if (++rollbackWaits === 1) return fail(96, 'fleet-agent: no rollback was started in /run/fleet/r/web-1');
      return report(argv[9]!, ['status=done', ...before, 'now.profileLink=system-3-link', 'now.currentSystem=/nix/store/old']);
    },
  };
  const r = await activate(host);
  assert.deepEqual([r.outcome, rollbacks], ['rolled-back', 2]);
});

/** A host whose confirmation over a new connection answers `fresh`; `confirm.status` is `verdict`. */
function magicHost(fresh: CommandResult[], verdict: string, after: string[], reverted = ['status=done', 'now.currentSystem=/nix/store/old', 'now.profileLink=system-3-link']): { host: Host; freshCalls: string[][] } {
  const freshCalls: string[][] = [];
  const host = fakeHost({
    wait: (action, token) => {
      if (action === 'activate') return report(token, ['status=done', 'switchStarted=1', ...before, 'now.currentSystem=/nix/store/new', 'now.profileTarget=/nix/store/old']);
      if (action === 'confirm') return report(token, [`status=${verdict}`, ...before, ...after]);
      return report(token, [...before, ...reverted]);
    },
  });
  host.runFresh = async (argv) => {
    freshCalls.push(argv);
    return fresh.shift() ?? fail(255, 'ssh: connect to host h port 22: Connection timed out');
  };
  return { host, freshCalls };
}

const armed = (host: Host, confirmTimeoutMs: number) =>
  activateNode({ target: targetOver(host, node), runId: 'r', goal: 'switch', outPath: '/nix/store/new', systemd: false, onPhase: () => {}, confirmTimeoutMs });

test('magic rollback: the confirmation rides runFresh with the run\'s token; confirmed and verified is activated', async () => {
  const { host, freshCalls } = magicHost([ok()], 'done', ['profileSet=system-4-link', 'now.currentSystem=/nix/store/new', 'now.profileLink=system-4-link', 'now.profileTarget=/nix/store/new']);
  const r = await armed(host, 2000);
  assert.equal(r.outcome, 'activated', r.error);
  assert.equal(freshCalls.length, 1);
  assert.deepEqual(freshCalls[0]!.slice(3, 6), ['fleet-agent', 'confirm', '/run/fleet/r/web-1']);
  assert.match(freshCalls[0]![6]!, /^[0-9a-f]{32}$/, 'a per-run random token');
});

test('magic rollback: the verdict comes back on the confirmation\'s own connection; the master is asked only while it has none', async () => {
  const confirmed = ['profileSet=system-4-link', ...before, 'now.currentSystem=/nix/store/new', 'now.profileLink=system-4-link', 'now.profileTarget=/nix/store/new'];
  const waits: string[][] = [];
  const { host } = magicHost([], 'done', confirmed.slice(1));
  const inner = host.run;
  host.run = async (argv, options) => {
    if (argv[4] === 'wait') waits.push([argv[6]!, argv[8]!]);
    return inner(argv, options);
  };
  host.runFresh = async (argv) => report(argv[7]!, ['status=done', 'lines=2', ...confirmed]);
  const quick = await armed(host, 2000);
  assert.deepEqual([quick.outcome, quick.log], ['activated', ['switch output', 'switch output']], quick.error);
  assert.deepEqual(waits, [['activate', '0']], 'no `wait confirm` over the master');

  // A slow boot step: the reply has no verdict yet, and the master's wait goes on after the lines it brought.
  waits.length = 0;
  host.runFresh = async (argv) => report(argv[7]!, ['status=', 'lines=2', ...before]);
  const slow = await armed(host, 2000);
  assert.equal(slow.outcome, 'activated', slow.error);
  assert.deepEqual(waits, [['activate', '0'], ['confirm', '2']]);
});

test('magic rollback: no new connection gets through, the watchdog reverts: rolled-back, saying why', async () => {
  const { host, freshCalls } = magicHost([], 'expired', ['now.currentSystem=/nix/store/old']);
  const r = await armed(host, 1000);
  assert.equal(r.outcome, 'rolled-back');
  assert.equal(r.error, 'the confirmation did not arrive within 1s (a new SSH connection failed: exit 255: ssh: connect to host h port 22: Connection timed out); the node\'s watchdog rolled it back to system-3-link (/nix/store/old)');
  assert.ok(freshCalls.length >= 1, 'tried until the window closed');
});

test('magic rollback: the watchdog had decided before fleet saw the activation: no confirmation is sent, and the message says why', async () => {
  const { host, freshCalls } = magicHost([ok()], 'expired', ['now.currentSystem=/nix/store/old']);
  const inner = host.run;
  // The node was out of reach for the whole window: its first report already carries the watchdog's verdict.
  host.run = async (argv, options) => (argv[4] === 'wait' && argv[6] === 'activate'
    ? report(argv[9]!, ['status=done', 'switchStarted=1', 'confirmStatus=expired', ...before, 'now.currentSystem=/nix/store/old'])
    : inner(argv, options));
  const r = await armed(host, 1000);
  assert.equal(freshCalls.length, 0);
  assert.deepEqual([r.outcome, r.error], ['rolled-back', 'the confirmation did not arrive within 1s (the node could not be reached while its window was open); the node\'s watchdog rolled it back to system-3-link (/nix/store/old)']);
});

test('an agent status fleet does not know is said as it is, and undone', async () => {
  const r = await activate(fakeHost({ wait: (a, t) => (a === 'activate' ? report(t, ['status=odd 7', 'switchStarted=1', ...before]) : report(t, ['status=done', ...before, 'now.profileLink=system-3-link', 'now.currentSystem=/nix/store/old'])) }));
  assert.deepEqual([r.outcome, r.error], ['rolled-back', 'the agent reported odd 7; rolled back to system-3-link (/nix/store/old)']);
});

test('magic rollback: a confirmation that gets in after the node decided says so', async () => {
  const { host } = magicHost([fail(255, 'ssh: Connection timed out during banner exchange'), fail(97, 'fleet-agent: too late, the watchdog already decided: expired')], 'expired', ['now.currentSystem=/nix/store/old']);
  const r = await armed(host, 5000);
  assert.equal(r.error, 'the confirmation did not arrive within 5s (a new SSH connection failed: exit 255: ssh: Connection timed out during banner exchange; a new connection got through only after the window had closed); the node\'s watchdog rolled it back to system-3-link (/nix/store/old)');
});

test('magic rollback: confirmed, but the boot default could not be set: rolled back with the reason', async () => {
  const { host } = magicHost([ok()], 'boot-failed 1', []);
  const r = await armed(host, 2000);
  assert.equal(r.outcome, 'rolled-back');
  assert.equal(r.error, 'confirmed, but making it the boot default failed (switch-to-configuration boot exit 1); rolled back to system-3-link (/nix/store/old)');
  assert.equal(describeConfirmFailure('boot-failed 124'), 'confirmed, but making it the boot default failed (switch-to-configuration boot timed out)');
  assert.equal(describeConfirmFailure('profile-failed 2'), 'confirmed, but setting the profile failed (nix-env exit 2)');
  assert.equal(describeConfirmFailure('superseded'), 'the watchdog reported superseded');
});

/** A node that restarted within its window (its run dir is gone, no new connection gets through); its probe answers `probe`. */
function restartedHost(probe: CommandResult): Host {
  const host = fakeHost({
    wait: (action, token) => (action === 'activate'
      ? report(token, ['status=done', 'switchStarted=1', ...before, 'now.currentSystem=/nix/store/new'])
      : fail(95, 'fleet-agent: no run dir /run/fleet/r/web-1')),
  });
  host.runFresh = async () => fail(255, 'ssh: connect to host h port 22: Connection refused');
  const inner = host.run;
  host.run = async (argv, options) => (argv[4] === 'probe' ? probe : inner(argv, options));
  return host;
}

test('magic rollback: the run dir is gone after the window (a reboot): judged by what the node runs now', async () => {
  const r = await armed(restartedHost(ok('profileLink=system-3-link\nprofileTarget=/nix/store/old\ncurrentSystem=/nix/store/old')), 1000);
  assert.deepEqual([r.outcome, r.error], ['rolled-back', 'the node restarted within its 1s window, before the confirmation; it came back on system-3-link (/nix/store/old)']);
  const other = await armed(restartedHost(ok('profileLink=system-3-link\nprofileTarget=/nix/store/old\ncurrentSystem=/nix/store/new')), 1000);
  assert.equal(other.outcome, 'rollback-failed');
  assert.match(other.error!, /^the node restarted within its 1s window, before the confirmation; it runs \/nix\/store\/new, expected \/nix\/store\/old\. On web-1 run: /);
});

test('magic rollback: a watchdog whose own rollback failed, or left another system, is rollback-failed with the commands to run', async () => {
  const failed = await armed(magicHost([], 'expired', [], ['status=failed re-activating /nix/store/old failed', 'now.currentSystem=/nix/store/new']).host, 1000);
  assert.equal(failed.outcome, 'rollback-failed');
  assert.match(failed.error!, /; the node's watchdog could not roll it back: re-activating \/nix\/store\/old failed\. On web-1 run: nix-env -p \/nix\/var\/nix\/profiles\/system --switch-generation 3 && \/nix\/store\/old\/bin\/switch-to-configuration switch$/);
  const elsewhere = await armed(magicHost([], 'expired', [], ['status=done', 'now.currentSystem=/nix/store/new', 'now.profileLink=system-3-link']).host, 1000);
  assert.match(elsewhere.error!, /could not roll it back: after rollback it runs \/nix\/store\/new, expected \/nix\/store\/old\./);
});

test('an activation that started, whose agent then has no record of it: the state is unknown, said with the agent\'s words', async () => {
  const r = await activate(fakeHost({ activate: ok(), wait: () => fail(95, 'fleet-agent: no run dir /run/fleet/r/web-1') }));
  assert.deepEqual([r.outcome, r.error], ['rollback-failed', 'the agent has no record of this activate on web-1: exit 95: fleet-agent: no run dir /run/fleet/r/web-1; the node\'s state is unknown: check it (fleet plan)']);
});

test('magic rollback: the run dir is gone and the node cannot be read either: rollback-failed, with the commands to run', async () => {
  const r = await armed(restartedHost(fail(255, 'ssh: connect to host h port 22: Connection refused')), 1000);
  assert.deepEqual([r.outcome, r.error], ['rollback-failed', 'the node restarted within its 1s window, before the confirmation, and it cannot be read now: web-1: query: cannot read the node\'s state: exit 255: ssh: connect to host h port 22: Connection refused. On web-1 run: nix-env -p /nix/var/nix/profiles/system --switch-generation 3 && /nix/store/old/bin/switch-to-configuration switch']);
});

