// fleet status, the pure part: one state per node from the desired system and what the target reported
// (the classification table), its wording, the table, the exit code, and the CLI's own messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliCaptured } from './cli-harness.js';
import { MESSAGE_TOO_LONG } from '../../src/cli/commands/apply.js';
import type { TargetState } from '../../src/agent/state.js';
import { makeRecord, type DeployRecord, type RecordContext } from '../../src/records/record.js';
import { classify, describeRev, lastDeployOf, unreachableStatus, type NodeState, type NodeStatus } from '../../src/status/classify.js';
import { countLine, describeLastDeploy, formatStatus, shortTime } from '../../src/status/format.js';
import { statusExitCode } from '../../src/status/run.js';
import { loadFleet } from '../../src/config/load.js';

const sys = (n: string) => `/nix/store/${n.padEnd(32, '0')}-nixos-system-${n}`;
const PROFILE = '/nix/var/nix/profiles/system';
const ctx: RecordContext = { run: 'run-1', by: 'alice@laptop', on: 'all', fleetVersion: '0.1.0', git: { rev: '3f2a1b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a', dirty: false } };
const rec = (toplevel: string, extra: Partial<DeployRecord> = {}): DeployRecord => ({
  ...makeRecord(ctx, { kind: 'deploy', goal: 'switch', profile: PROFILE, toplevel, now: { profileLink: 'system-5-link', generation: 5 }, time: new Date('2026-11-21T09:15:02Z') }), ...extra,
});
const target = (t: Partial<TargetState>, records: DeployRecord[] = []): TargetState => ({ hasOut: true, systemd: false, records: { records, unreadable: 0 }, ...t });
const state = (desired: string, t: TargetState) => classify('web-1', PROFILE, desired, t);
const holder = { run: 'run-9', by: 'bob@ci', pid: 7, since: 1795252502, expires: 1795252802 };

void test('classification table: one state per situation, first match wins', () => {
  const D = sys('desired');
  const O = sys('older');
  const H = sys('by-hand');
  const rows: [string, TargetState, NodeState][] = [
    ['runs the desired system', target({ currentSystem: D, profileTarget: D }, [rec(D)]), 'in-sync'],
    ['runs it, no record (deployed by hand to the right system)', target({ currentSystem: D }), 'in-sync'],
    ['runs it, booted another system with the same kernel', target({ currentSystem: D, bootedSystem: O }), 'in-sync'],
    ['runs it, but the kernel changed since boot', target({ currentSystem: D, bootedSystem: O, bootChanged: true }), 'pending-reboot'],
    ['boot deploy not yet booted', target({ currentSystem: O, profileTarget: D }, [rec(O), rec(D, { goal: 'boot' })]), 'pending-reboot'],
    ['boot deploy, still running what it ran then (never deployed by fleet)', target({ currentSystem: H, profileTarget: D }, [rec(D, { goal: 'boot', before: { currentSystem: H } })]), 'pending-reboot'],
    ['boot deploy on a node running nothing', target({ profileTarget: D }, [rec(D, { goal: 'boot' })]), 'pending-reboot'],
    ['boot deploy, then a system switched by hand', target({ currentSystem: H, profileTarget: D }, [rec(O), rec(D, { goal: 'boot', before: { currentSystem: O } })]), 'drifted'],
    ['the profile is desired, but a hand switch runs another system', target({ currentSystem: H, profileTarget: D }, [rec(D)]), 'drifted'],
    ['the profile is desired without a boot deploy: what runs decides', target({ currentSystem: O, profileTarget: D }, [rec(O)]), 'outdated'],
    ['a boot deploy of another system is no pending reboot', target({ currentSystem: O, profileTarget: O }, [rec(O, { goal: 'boot' })]), 'outdated'],
    ['runs an earlier deploy', target({ currentSystem: O, profileTarget: O }, [rec(O)]), 'outdated'],
    ['runs what a rollback put back', target({ currentSystem: O }, [rec(D), rec(O, { kind: 'rollback' })]), 'outdated'],
    ['runs a system no record names', target({ currentSystem: H, profileTarget: O }, [rec(O)]), 'drifted'],
    ['a record of another profile does not count', target({ currentSystem: O }, [rec(O, { profile: '/nix/var/nix/profiles/other' })]), 'drifted'],
    ['runs nothing', target({}), 'drifted'],
    ['another live run holds the lock', target({ currentSystem: D, lock: { state: 'held', holder } }, [rec(D)]), 'locked'],
    ['an expired lock is no lock', target({ currentSystem: D, lock: { state: 'held', holder, expired: true } }, [rec(D)]), 'in-sync'],
  ];
  for (const [what, t, expected] of rows) assert.equal(state(D, t).state, expected, what);
});

void test('every state says why, in words', () => {
  const D = sys('desired');
  const O = sys('older');
  const reasons = (t: TargetState) => state(D, t).reason;
  assert.equal(reasons(target({ currentSystem: D })), 'runs the desired system');
  assert.equal(reasons(target({ currentSystem: D, bootChanged: true })), 'runs the desired system, but its kernel, initrd or modules differ from the booted ones: reboot to finish');
  assert.equal(reasons(target({ currentSystem: O, profileTarget: D }, [rec(O), rec(D, { goal: 'boot' })])), 'boots the desired system but runs older00-nixos-system-older: reboot to finish');
  assert.equal(reasons(target({ profileTarget: D }, [rec(D, { goal: 'boot' })])), 'boots the desired system but runs nothing: reboot to finish');
  assert.equal(reasons(target({ currentSystem: O }, [rec(O)])), 'runs older00-nixos-system-older from an earlier fleet deploy (run run-1, 3f2a1b9c0d1e), not the desired desired-nixos-system-desired');
  assert.equal(reasons(target({ currentSystem: O }, [rec(O, { kind: 'rollback', rev: 'unknown', dirty: undefined })])), 'runs older00-nixos-system-older from an earlier fleet rollback (run run-1, unknown revision), not the desired desired-nixos-system-desired');
  assert.equal(reasons(target({ currentSystem: O })), 'runs older00-nixos-system-older, which no fleet record names: changed by hand or by another tool');
  assert.equal(reasons(target({})), 'runs no system (/run/current-system is absent)');
  assert.equal(reasons(target({ lock: { state: 'held', holder } })), 'another run is deploying it: run run-9 (bob@ci, pid 7) since 2026-11-21T09:15:02Z');
  assert.equal(reasons(target({ lock: { state: 'held' } })), 'another run is deploying it: its lock record is unreadable');
  assert.equal(reasons({ ...target({ currentSystem: D }), records: { records: [], unreadable: 2 } }), 'runs the desired system (2 lines of its records could not be read)');
  assert.equal(reasons({ ...target({ currentSystem: D }), records: { records: [], unreadable: 1 } }), 'runs the desired system (1 line of its records could not be read)');
  assert.deepEqual(unreachableStatus('web-2', D, 'web-2: connect: timed out'), { node: 'web-2', state: 'unreachable', reason: 'web-2: connect: timed out', desired: D });
});

void test('a status carries what the target reported, the newest record of its profile, and a held lock', () => {
  const D = sys('desired');
  const newest = rec(D, { message: 'hotfix', run: 'run-2' });
  const s = state(D, target({ currentSystem: D, profileLink: 'system-5-link', generation: 5, profileTarget: D, lock: { state: 'held', holder, expired: true } }, [rec(sys('older')), newest, rec(D, { profile: '/other', run: 'run-3' })]));
  assert.deepEqual(s, {
    node: 'web-1', state: 'in-sync', reason: 'runs the desired system', desired: D,
    system: { profileLink: 'system-5-link', generation: 5, profileTarget: D, currentSystem: D },
    lastDeploy: lastDeployOf(newest), lock: { state: 'held', holder, expired: true },
  });
  assert.deepEqual(lastDeployOf(newest), { kind: 'deploy', run: 'run-2', time: '2026-11-21T09:15:02.000Z', goal: 'switch', toplevel: D, generation: 5, rev: ctx.git.rev, dirty: false, by: 'alice@laptop', on: 'all', message: 'hotfix' });
});

void test('words: revisions, times, the last deploy, the count', () => {
  assert.equal(describeRev({ rev: ctx.git.rev, dirty: false }), '3f2a1b9c0d1e');
  assert.equal(describeRev({ rev: ctx.git.rev, dirty: true }), '3f2a1b9c0d1e+dirty');
  assert.equal(describeRev({ rev: 'unknown' }), 'unknown revision');
  assert.equal(shortTime('2026-11-21T09:15:02.000Z'), '2026-11-21 09:15 UTC');
  assert.equal(shortTime('yesterday'), 'yesterday');
  const d = lastDeployOf(rec(sys('a'), { message: 'fix "x"' }));
  assert.equal(describeLastDeploy(d), '3f2a1b9c0d1e by alice@laptop 2026-11-21 09:15 UTC "fix \\"x\\""');
  assert.equal(describeLastDeploy({ ...d, kind: 'rollback', message: undefined, dirty: true }), 'rollback (3f2a1b9c0d1e+dirty) by alice@laptop 2026-11-21 09:15 UTC');
  const of = (...states: NodeState[]) => states.map((s, i): NodeStatus => ({ node: `n${i}`, state: s, reason: '', desired: sys('d') }));
  assert.equal(countLine(of('unreachable', 'in-sync', 'outdated', 'in-sync')), '4 nodes: 2 in-sync, 1 outdated, 1 unreachable');
  assert.equal(countLine(of('drifted')), '1 node: 1 drifted');
});

void test('the table: a row per node, then why each node is not in sync, then the count', () => {
  const D = sys('desired');
  const statuses = [
    state(D, target({ currentSystem: D, generation: 5, profileLink: 'system-5-link' }, [rec(D, { message: 'hotfix' })])),
    { ...classify('db-1', PROFILE, D, target({ profileLink: 'per-user-link' })) },
    unreachableStatus('web-3', D, 'web-3: connect: ssh: connect to host web-3 port 22: Connection refused'),
  ];
  assert.equal(formatStatus(statuses), [
    'NODE   STATE        RUNNING                       GEN            LAST DEPLOY',
    'web-1  in-sync      desired-nixos-system-desired  5              3f2a1b9c0d1e by alice@laptop 2026-11-21 09:15 UTC "hotfix"',
    'db-1   drifted      nothing                       per-user-link  -',
    'web-3  unreachable  ?                             ?              -',
    '',
    'db-1: drifted: runs no system (/run/current-system is absent)',
    'web-3: unreachable: web-3: connect: ssh: connect to host web-3 port 22: Connection refused',
    '',
    '3 nodes: 1 in-sync, 1 drifted, 1 unreachable',
  ].join('\n'));
  assert.equal(formatStatus([]), 'no node could be asked');
});

void test('the table: what a target says (its paths, a record\'s by and message, ssh\'s words) cannot drive the terminal or break a line', () => {
  const D = sys('desired');
  // A window title (OSC), a screen clear (7-bit and 8-bit CSI), a carriage return, a C1 control.
  const hostile = 'evil\u001b]0;pwned\u0007\u001b[2J\u009b2J\r\u0085end';
  const statuses = [
    state(D, target({ currentSystem: `/nix/store/x${hostile}`, profileLink: `link${hostile}` }, [rec(D, { by: `alice${hostile}`, message: `fix${hostile}` })])),
    unreachableStatus('web-3', D, `web-3: connect: ${hostile}\r\nsecond line`),
  ];
  const out = formatStatus(statuses);
  assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, 'no control character but the line breaks'); // eslint-disable-line no-control-regex
  assert.equal(out, [
    'NODE   STATE        RUNNING                  GEN              LAST DEPLOY',
    'web-1  drifted      /nix/store/xevil\\x85end  linkevil\\x85end  3f2a1b9c0d1e by aliceevil\\x85end 2026-11-21 09:15 UTC "fixevil\\u001b]0;pwned\\u0007\\u001b[2J\\r\\x85end"',
    'web-3  unreachable  ?                        ?                -',
    '',
    'web-1: drifted: runs /nix/store/xevil\\x85end, which no fleet record names: changed by hand or by another tool',
    'web-3: unreachable: web-3: connect: evil\\x85end second line',
    '',
    '2 nodes: 1 drifted, 1 unreachable',
  ].join('\n'));
});

void test('exit code: 0 when every node was asked; 1 for an unreachable or unevaluated node; --exit-code: 1 unless all in-sync; 130 interrupted', () => {
  const of = (...states: NodeState[]) => states.map((s, i): NodeStatus => ({ node: `n${i}`, state: s, reason: '', desired: sys('d') }));
  assert.equal(statusExitCode(of('in-sync', 'outdated', 'drifted', 'locked', 'pending-reboot'), 0, false, false), 0);
  assert.equal(statusExitCode(of('in-sync', 'unreachable'), 0, false, false), 1);
  assert.equal(statusExitCode(of('in-sync'), 1, false, false), 1);
  assert.equal(statusExitCode(of('in-sync', 'in-sync'), 0, true, false), 0);
  for (const s of ['outdated', 'drifted', 'locked', 'pending-reboot'] as const) assert.equal(statusExitCode(of('in-sync', s), 0, true, false), 1, s);
  assert.equal(statusExitCode(of('in-sync'), 0, true, true), 130);
});

void test('stateDir: /var/lib/fleet by default, set in defaults or per node, must be absolute', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-status-'));
  writeFileSync(join(dir, 'hive.nix'), '{ }');
  const load = (text: string) => {
    writeFileSync(join(dir, 'fleet.yaml'), text);
    return loadFleet(join(dir, 'fleet.yaml'));
  };
  const head = 'version: 1\nnix: { file: ./hive.nix }\n';
  const fleet = await load(`${head}defaults:\n  stateDir: /srv/fleet\nnodes:\n  a: { host: a }\n  b: { host: b, stateDir: /var/lib/b }\n`);
  assert.deepEqual([fleet.nodes.a!.stateDir, fleet.nodes.b!.stateDir], ['/srv/fleet', '/var/lib/b']);
  assert.equal((await load(`${head}nodes:\n  a: { host: a }\n`)).nodes.a!.stateDir, '/var/lib/fleet');
  await assert.rejects(load(`${head}nodes:\n  a: { host: a, stateDir: var/lib }\n`), (e: Error & { diagnostics?: { message: string }[] }) => {
    assert.match(e.diagnostics!.map((d) => d.message).join('\n'), /`stateDir` of node `a` must be an absolute path/);
    return true;
  });
});

const cli = (args: string[]) => runCliCaptured(args);

void test('CLI: --message longer than 1000 characters is refused before anything is read (exit 2)', async () => {
  const r = await cli(['-f', '/nonexistent/fleet.yaml', 'apply', '--message', 'x'.repeat(1001)]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `fleet: ${MESSAGE_TOO_LONG}\n`);
  assert.equal(MESSAGE_TOO_LONG, '--message holds at most 1000 characters (it is kept on every target, in each deploy record)');
});

void test('CLI: status --help names every state and its exit codes', async () => {
  const r = await cli(['status', '--help']);
  assert.equal(r.code, 0);
  for (const s of ['in-sync', 'outdated', 'drifted', 'pending-reboot', 'unreachable', 'locked', '--exit-code', '--json', '--on']) assert.ok(r.stdout.includes(s), s);
  assert.match(r.stdout, /Exit codes of status: 0 every node asked, 1 some node unreachable or not evaluated \(with --exit-code: or not in-sync\), 2 usage\./);
});
