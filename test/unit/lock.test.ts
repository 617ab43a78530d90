// The per-target lock: its name and record, the agent's answers, every message, and the agent's own lock
// commands run for real (sh, flock, symlinks) against a temporary directory instead of /run/fleet/locks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { AGENT_SCRIPT, probeArgv } from '../../src/agent/agent.js';
import {
  deployerIdentity, formatLockRecord, lockArgs, lockArgv, lockName, lockPath, parseLockRecord, parseLockReply, targetLockOf, type LockIdentity,
} from '../../src/agent/lock.js';
import { createLockKeeper, type LockRunner } from '../../src/lock/keeper.js';
import { readTargetState } from '../../src/probe/probe.js';
import type { Host } from '../../src/transport/host.js';
import type { CommandResult } from '../../src/transport/run.js';
import { describeHolder, lockedReason, lockTime, lostLockText, planLockText, takeoverText } from '../../src/lock/text.js';
import type { LockHolder } from '../../src/target/state.js';
import { waitFor } from '../poll.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';

const holder: LockHolder = { run: '20261121T091502Z-3fa9c1d2', by: 'alice@laptop', pid: 4242, since: 1795252502, expires: 1795252802 };
const A: LockIdentity = { run: 'runA', by: 'alice@laptop', pid: 11 };
const B: LockIdentity = { run: 'runB', by: 'bob@ci-7', pid: 22 };

void test('lock file names: one per profile, as systemd-escape --path names them', () => {
  assert.equal(lockName('/nix/var/nix/profiles/system'), 'nix-var-nix-profiles-system');
  assert.equal(lockPath('/nix/var/nix/profiles/system'), '/run/fleet/locks/nix-var-nix-profiles-system');
  assert.equal(lockName('/nix/var/nix/profiles/per-user/alice/home-manager'), 'nix-var-nix-profiles-per\\x2duser-alice-home\\x2dmanager');
  assert.equal(lockName('//a//b/'), 'a-b');
  assert.equal(lockName('/.hidden/x y'), '\\x2ehidden-x\\x20y');
  assert.equal(lockName('/'), '-');
  assert.notEqual(lockName('/a-b/c'), lockName('/a/b-c'), 'different profiles never share a lock');
  const long = lockName(`/${'p'.repeat(400)}`);
  assert.ok(long.length <= 200 && long.startsWith('ppp'), long);
  assert.notEqual(long, lockName(`/${'p'.repeat(401)}`));
});

void test('the deployer in a record: user@host without spaces or "="', () => {
  assert.equal(deployerIdentity('alice', 'laptop.example.org'), 'alice@laptop.example.org');
  assert.equal(deployerIdentity('a b=c', ''), 'a_b_c@_');
});

void test('records: written and read back; anything else is not a holder', () => {
  assert.equal(formatLockRecord(holder), 'run=20261121T091502Z-3fa9c1d2 by=alice@laptop pid=4242 since=1795252502 expires=1795252802');
  assert.deepEqual(parseLockRecord(formatLockRecord(holder)), holder);
  for (const bad of ['', 'garbage', 'run=x by=y pid=1 since=2', 'run=x by=y pid=z since=2 expires=3', 'by=y pid=1 since=2 expires=3']) {
    assert.equal(parseLockRecord(bad), undefined, bad);
  }
});

void test('the agent\'s answers: state, holder, expiry, errors', () => {
  const rec = formatLockRecord(holder);
  assert.deepEqual(parseLockReply('lock=free\nprofileLink=x'), { state: 'free', expired: false });
  assert.deepEqual(parseLockReply(`lock=held\nlockHolder=${rec}\n`), { state: 'held', holder, expired: false });
  assert.deepEqual(parseLockReply(`lockHolder=${rec}\nlockExpired=1\nlock=taken`), { state: 'taken', holder, expired: true });
  assert.deepEqual(parseLockReply('lockHolder=garbage\nlockExpired=1\nlock=taken'), { state: 'taken', unreadable: 'garbage', expired: true });
  assert.deepEqual(parseLockReply('lock=error cannot create /run/fleet/locks'), { state: 'error', expired: false, error: 'cannot create /run/fleet/locks' });
  assert.deepEqual(parseLockReply('lock=maybe'), { state: 'error', expired: false, error: 'unexpected answer maybe' });
  assert.equal(parseLockReply('profileLink=x\nhasOut=1'), undefined);
  assert.deepEqual(targetLockOf({ state: 'held', holder, expired: false }), { state: 'held', holder });
  assert.deepEqual(targetLockOf({ state: 'taken', expired: false }), { state: 'taken' });
  assert.deepEqual(targetLockOf({ state: 'taken', unreadable: 'x', expired: true }), { state: 'taken', expired: true });
  assert.equal(targetLockOf({ state: 'free', expired: false }), undefined);
});

void test('messages name the holder (run id, user@host, pid) and since when', () => {
  assert.equal(lockTime(1795252502), '2026-11-21T09:15:02Z');
  assert.equal(describeHolder(holder), 'run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z');
  assert.equal(
    lockedReason({ state: 'held', holder }),
    'locked by run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z, until 2026-11-21T09:20:02Z unless renewed; not touched: use --break-lock if that run is gone',
  );
  assert.equal(lockedReason({ state: 'held' }), 'locked by another run (its lock record is unreadable); not touched: use --break-lock if no run is deploying it');
  assert.equal(
    takeoverText({ state: 'taken', holder, expired: true }),
    'took over the expired lock of run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z, expired 2026-11-21T09:20:02Z',
  );
  assert.equal(takeoverText({ state: 'taken', holder }), 'took over the lock of run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z (--break-lock)');
  assert.equal(takeoverText({ state: 'taken', expired: true }), 'took over a lock with an unreadable record');
  assert.equal(
    planLockText({ state: 'held', holder, expired: true }),
    'stale lock of run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z, expired 2026-11-21T09:20:02Z: apply takes it over',
  );
  assert.equal(planLockText({ state: 'held', expired: true }), 'stale lock with an unreadable record: apply takes it over');
  assert.equal(planLockText({ state: 'held', holder }), lockedReason({ state: 'held', holder }));
  assert.equal(planLockText({ state: 'taken', holder }), takeoverText({ state: 'taken', holder }));
  assert.equal(
    lostLockText(holder),
    'this run\'s lock was taken over by run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z (--break-lock, or it expired); not activated',
  );
  assert.equal(lostLockText(), 'this run\'s lock is gone (it expired and was taken and released by another run, or was removed); not activated');
});

void test('argv: the probe carries the lock operation after its own arguments; a lock command stands alone', () => {
  const args = lockArgs('take', '/nix/var/nix/profiles/system', A, 300);
  assert.deepEqual(args, ['take', '/run/fleet/locks/nix-var-nix-profiles-system', 'runA', 'alice@laptop', '11', '300']);
  const records = { stateDir: '/var/lib/fleet', newest: 50 };
  assert.deepEqual(probeArgv('/p', '/nix/store/x', args).slice(3), ['fleet-agent', 'probe', '/p', '/nix/store/x', '', '0', '0', ...args]);
  assert.deepEqual(probeArgv('/p', '/nix/store/x').slice(3), ['fleet-agent', 'probe', '/p', '/nix/store/x', '', '0', '0']);
  assert.deepEqual(probeArgv('/p', '/nix/store/x', args, records).slice(3), ['fleet-agent', 'probe', '/p', '/nix/store/x', '/var/lib/fleet', '0', '50', ...args]);
  assert.deepEqual(probeArgv('/p', '/nix/store/x', args, records, true).slice(3), ['fleet-agent', 'probe', '/p', '/nix/store/x', '/var/lib/fleet', '1', '50', ...args]);
  assert.deepEqual(lockArgv('release', '/p', A, 0.4).slice(3), ['fleet-agent', 'lock', 'release', '/run/fleet/locks/p', 'runA', 'alice@laptop', '11', '1']);
});

// --- the agent's lock commands, for real ---

const dir = () => mkdtempSync(join(tmpdir(), 'fleet-lock-'));
async function agentLock(op: string, file: string, id: LockIdentity, seconds = 60): Promise<string> {
  const r = await execa('sh', ['-c', AGENT_SCRIPT, 'fleet-agent', 'lock', op, file, id.run, id.by, String(id.pid), String(seconds)], { reject: false });
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout;
}
const reply = async (op: string, file: string, id: LockIdentity, seconds = 60) => parseLockReply(await agentLock(op, file, id, seconds));
const record = (file: string) => parseLockRecord(readlinkSync(file));
const exists = (file: string) => {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
};

void test('agent: take a free lock, refuse a live one, renew and release only its own', async (t) => {
  const d = dir();
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'locks', 'nix-var-nix-profiles-system'); // the directory is created on demand
  assert.deepEqual(await reply('read', f, A), { state: 'free', expired: false });
  assert.deepEqual(await reply('take', f, A, 300), { state: 'taken', expired: false });
  const mine = record(f)!;
  assert.deepEqual([mine.run, mine.by, mine.pid, mine.expires - mine.since], ['runA', 'alice@laptop', 11, 300]);
  assert.ok(lstatSync(f).isSymbolicLink());

  assert.deepEqual(await reply('take', f, B), { state: 'held', holder: mine, expired: false }, 'another run is kept out');
  assert.deepEqual(await reply('read', f, B), { state: 'held', holder: mine, expired: false });
  assert.deepEqual(await reply('renew', f, B), { state: 'lost', holder: mine, expired: false }, 'B cannot renew A\'s lock');
  assert.deepEqual(await reply('release', f, B), { state: 'lost', holder: mine, expired: false }, 'nor release it');
  assert.deepEqual(record(f), mine, 'A\'s record unchanged');

  assert.deepEqual(await reply('renew', f, A, 900), { state: 'renewed', expired: false });
  const renewed = record(f)!;
  assert.equal(renewed.since, mine.since, 'a renewal keeps the start time');
  assert.ok(renewed.expires >= mine.since + 900);
  assert.deepEqual(await reply('release', f, A), { state: 'released', expired: false });
  assert.equal(exists(f), false);
  assert.deepEqual(await reply('renew', f, A), { state: 'lost', expired: false }, 'a released lock is not recreated by a renewal');
  assert.equal(exists(f), false);
});

void test('agent: an expired lock is taken over and says whose it was; --break-lock takes a live one', async (t) => {
  const d = dir();
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'lock');
  const stale = { ...holder, since: 1000, expires: 2000 };
  symlinkSync(formatLockRecord(stale), f);
  assert.deepEqual(await reply('read', f, B), { state: 'held', holder: stale, expired: true });
  assert.deepEqual(await reply('take', f, B), { state: 'taken', holder: stale, expired: true });
  assert.equal(record(f)!.run, 'runB');
  const live = record(f)!;
  assert.deepEqual(await reply('break', f, A), { state: 'taken', holder: live, expired: false });
  assert.equal(record(f)!.run, 'runA');
  rmSync(f);
  symlinkSync('not a record', f);
  assert.deepEqual(await reply('take', f, B), { state: 'taken', unreadable: 'not a record', expired: true }, 'an unreadable record counts as stale');
});

void test('agent: two runs taking the same free (or expired) lock at once: exactly one gets it', async (t) => {
  const d = dir();
  t.after(() => rmSync(d, { recursive: true, force: true }));
  for (let i = 0; i < 10; i++) {
    const f = join(d, `lock-${i}`);
    if (i % 2 === 1) symlinkSync(formatLockRecord({ ...holder, expires: 1 }), f);
    const [a, b] = await Promise.all([reply('take', f, A), reply('take', f, B)]);
    assert.deepEqual([a!.state, b!.state].sort(), ['held', 'taken'], `round ${i}`);
    const winner = a!.state === 'taken' ? A : B;
    assert.equal(record(f)!.run, winner.run);
    assert.equal((a!.state === 'held' ? a : b)!.holder!.run, winner.run, 'the loser names the winner');
  }
});

void test('agent: with lock arguments, the probe takes (or reads) the lock and still reports the state', async (t) => {
  const d = dir();
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'lock');
  const probe = async (op: string, id: LockIdentity) =>
    (await execa('sh', probeArgv(join(d, 'profile'), '/nix/store/none', [op, f, id.run, id.by, String(id.pid), '60']).slice(1))).stdout;
  const taken = await probe('take', A);
  assert.equal(parseLockReply(taken)?.state, 'taken');
  const read = await probe('read', B);
  assert.equal(parseLockReply(read)?.holder?.run, 'runA');
  assert.equal(record(f)!.run, 'runA', 'reading changed nothing');
});

void test('probe: why a node\'s state or lock could not be read, in the node\'s own words', async () => {
  const n = resolvedNode('web-1');
  const take = { op: 'take' as const, identity: A };
  /** A host that answers every command with `answer(argv)`. */
  const host = (answer: (argv: string[]) => Promise<CommandResult>): Host => ({
    label: 'web-1', isLocal: false, run: answer, runFresh: answer, connect: async () => {}, close: async () => {}, closeSync: () => {},
  });
  const result = (exitCode: number, stdout: string, stderr = ''): CommandResult => ({ argv: [], exitCode, stdout, stderr, failed: exitCode !== 0, timedOut: false, canceled: false, message: '' });
  const refused = host(async () => result(1, '', 'sudo: a password is required'));
  await assert.rejects(readTargetState(targetOver(refused, n), '/nix/store/x', undefined, take), { message: 'web-1: query: cannot read the node\'s state: exit 1: sudo: a password is required' });
  const mute = host(async () => result(0, 'profileLink=system-1-link\nprofileTarget=/nix/store/x'));
  await assert.rejects(readTargetState(targetOver(mute, n), '/nix/store/x', undefined, take), { message: 'web-1: query: the agent gave no answer about the lock' });
  // The real agent, its lock directory moved where it cannot be created.
  const agent = host(async (argv) => {
    const r = await execa(argv[0]!, argv.slice(1).map((a) => a.replace('/run/fleet/locks/', '/proc/no-such-dir/')), { reject: false });
    return result(r.exitCode ?? 1, r.stdout, r.stderr);
  });
  await assert.rejects(readTargetState(targetOver(agent, n), '/nix/store/x', undefined, take), { message: 'web-1: query: cannot take the lock /run/fleet/locks/nix-var-nix-profiles-system: cannot create /proc/no-such-dir' });
  await assert.rejects(readTargetState(targetOver(agent, n), '/nix/store/x', undefined, { ...take, op: 'break' }), { message: /: cannot take the lock / });
});

// --- the keeper, over the real agent (the lock path moved into a temporary directory) ---

const node = (name: string, lockTimeoutMs = 60_000) => resolvedNode(name, { profile: `/nix/var/nix/profiles/${name}`, lockTimeoutMs });

function localRunner(d: string, fail = false): LockRunner {
  return async (_node, argv) => {
    if (fail) return { stdout: '', reason: 'ssh: connect to host h port 22: Connection refused' };
    const args = argv.map((a) => a.replace('/run/fleet/locks/', `${d}/`));
    const r = await execa(args[0]!, args.slice(1), { reject: false });
    return { stdout: r.stdout, reason: r.stderr };
  };
}

void test('keeper: confirm renews its lock; a lock broken by another run is reported and left to that run', async (t) => {
  const d = dir();
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const n1 = node('n1');
  const n2 = node('n2');
  const f1 = join(d, lockName(n1.profile));
  const f2 = join(d, lockName(n2.profile));
  assert.equal((await reply('take', f1, A, 1))!.state, 'taken');
  assert.equal((await reply('take', f2, A, 1))!.state, 'taken');
  const keeper = createLockKeeper({ identity: A, run: localRunner(d), renewEveryMs: () => 3_600_000 });
  keeper.hold(n1);
  keeper.hold(n2);
  assert.equal(await keeper.confirm(n1), undefined, 'still ours');
  assert.ok(record(f1)!.expires >= record(f1)!.since + 60, 'renewed with its lockTimeout');
  assert.equal(await keeper.confirm(node('other')), undefined, 'a node it never held: nothing to say');

  assert.equal((await reply('break', f2, B))!.state, 'taken');
  const bs = record(f2)!;
  assert.equal(await keeper.confirm(n2), lostLockText(bs));
  assert.deepEqual(await keeper.releaseAll(), []);
  assert.equal(exists(f1), false, 'its own lock released');
  assert.equal(record(f2)!.run, 'runB', 'the other run\'s lock left alone');
});

void test('keeper: a lock it cannot release is a warning naming the node and when it expires', async () => {
  const keeper = createLockKeeper({ identity: A, run: localRunner('/nonexistent', true) });
  keeper.hold(node('n1', 300_000));
  keeper.maybeHeld(node('n2', 90_000));
  assert.deepEqual(await keeper.releaseAll(), [
    'n1: could not release its lock (ssh: connect to host h port 22: Connection refused); it expires within 5 min (lockTimeout) or with a reboot',
    'n2: could not release its lock, if this run took it (ssh: connect to host h port 22: Connection refused); it expires within 90 s (lockTimeout) or with a reboot',
  ]);
});

void test('keeper: a runner that throws is a transient renewal failure and a release warning, never a crash', async () => {
  let attempts = 0;
  const keeper = createLockKeeper({ identity: A, run: async () => { attempts++; throw new Error('no host for n1'); }, renewEveryMs: () => 10 });
  keeper.hold(node('n1', 30_000));
  await waitFor('a few renewals to fail', () => attempts >= 3);
  assert.equal(await keeper.confirm(node('n1')), undefined, 'not known to be lost: the activation reports what is wrong');
  assert.deepEqual(await keeper.releaseAll(), ['n1: could not release its lock (no host for n1); it expires within 30 s (lockTimeout) or with a reboot']);
});

void test('keeper: renews on its own while the run lives', async (t) => {
  const d = dir();
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const n1 = node('n1', 120_000);
  const f1 = join(d, lockName(n1.profile));
  await reply('take', f1, A, 1);
  const keeper = createLockKeeper({ identity: A, run: localRunner(d), renewEveryMs: () => 50 });
  keeper.hold(n1);
  // Waits for the renewal to be seen (no timing assertion: only that it happens).
  await waitFor('a renewal with its lockTimeout', () => record(f1)!.expires >= record(f1)!.since + 120, { everyMs: 20 });
  await keeper.releaseAll();
  assert.equal(exists(f1), false);
});
