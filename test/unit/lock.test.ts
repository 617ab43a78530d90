// The per-target lock: its name and record, the agent's answers, every message, and the agent's own lock
// operations run for real (sh, flock, symlinks) in the agent sandbox (its own /run), through the agent client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAgentClient } from '../../src/agent/client.js';
import { deployerIdentity, lockName, lockPath, parseLockRecord, parseLockReply, targetLockOf, type LockIdentity } from '../../src/agent/lock.js';
import type { ResolvedNode } from '../../src/config/types.js';
import { createLockKeeper, lockRunner, type LockRunner } from '../../src/lock/keeper.js';
import { readTargetState } from '../../src/probe/probe.js';
import type { Host } from '../../src/transport/host.js';
import type { CommandResult } from '../../src/transport/run.js';
import { describeHolder, lockedReason, lockTime, lostLockText, planLockText, takeoverText } from '../../src/lock/text.js';
import type { LockHolder } from '../../src/target/state.js';
import { createSandbox, requireSandbox, type Sandbox } from '../agent-sandbox.js';
import { waitFor } from '../poll.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';

/** The record as agent.sh writes it (the only writer); here to plant records of other runs. */
const formatLockRecord = (h: LockHolder, v: number | undefined = 1) => `${v === undefined ? '' : `v=${v} `}run=${h.run} by=${h.by} pid=${h.pid} since=${h.since} expires=${h.expires}`;

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

void test('records: read back with their version, and without one (records of fleet before it); anything else is not a holder', () => {
  assert.deepEqual(parseLockRecord(formatLockRecord(holder)), holder);
  assert.deepEqual(parseLockRecord(formatLockRecord(holder, undefined)), holder, 'a record without v= is still read');
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
  assert.equal(lostLockText(holder, 'not rolled back'), 'this run\'s lock was taken over by run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2026-11-21T09:15:02Z (--break-lock, or it expired); not rolled back');
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
  const mute = host(async () => result(0, 'protocol=1\nprofileLink=system-1-link\nprofileTarget=/nix/store/x'));
  await assert.rejects(readTargetState(targetOver(mute, n), '/nix/store/x', undefined, take), { message: 'web-1: query: the agent gave no answer about the lock' });
  const failing = host(async () => result(0, 'protocol=1\nlock=error cannot create /run/fleet/locks'));
  await assert.rejects(readTargetState(targetOver(failing, n), '/nix/store/x', undefined, take), { message: 'web-1: query: cannot take the lock /run/fleet/locks/nix-var-nix-profiles-system: cannot create /run/fleet/locks' });
  await assert.rejects(readTargetState(targetOver(failing, n), '/nix/store/x', undefined, { ...take, op: 'break' }), { message: /: cannot take the lock / });
});

// --- the agent's lock operations and the keeper, for real, in the sandbox ---

describe('the lock on a target', { skip: requireSandbox() }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(() => sb?.close());
  let count = 0;
  const fresh = (lockTimeoutMs = 60_000) => sb.node(`l${++count}`, { lockTimeoutMs });
  const client = (node: ResolvedNode, id: LockIdentity) => createAgentClient(sb.target(node), { lock: id });
  const probe = async (node: ResolvedNode, id: LockIdentity, op: 'read' | 'take' | 'break') => {
    const r = await client(node, id).probe({ outPath: '/nonexistent', lock: op });
    assert.ok(r.ok);
    return r.lock;
  };
  const lock = async (node: ResolvedNode, id: LockIdentity, op: 'renew' | 'release') => (await client(node, id).lock(op)).reply;
  const record = async (node: ResolvedNode) => {
    const text = await sb.readlink(lockPath(node.profile));
    return text === undefined ? undefined : parseLockRecord(text);
  };
  const plant = (node: ResolvedNode, text: string) => sb.exec(['sh', '-c', 'mkdir -p "${1%/*}" && ln -sfn "$2" "$1"', 'plant', lockPath(node.profile), text]);

  void test('take a free lock, refuse a live one, renew and release only its own', async () => {
    const n = fresh(300_000);
    assert.deepEqual(await probe(n, A, 'read'), { state: 'free', expired: false });
    assert.deepEqual(await probe(n, A, 'take'), { state: 'taken', expired: false });
    const mine = (await record(n))!;
    assert.deepEqual([mine.run, mine.by, mine.pid, mine.expires - mine.since], ['runA', 'alice@laptop', 11, 300]);
    assert.deepEqual(await probe(n, B, 'take'), { state: 'held', holder: mine, expired: false }, 'another run is kept out');
    assert.deepEqual(await probe(n, B, 'read'), { state: 'held', holder: mine, expired: false });
    assert.deepEqual(await lock(n, B, 'renew'), { state: 'lost', holder: mine, expired: false }, 'B cannot renew A\'s lock');
    assert.deepEqual(await lock(n, B, 'release'), { state: 'lost', holder: mine, expired: false }, 'nor release it');
    assert.deepEqual(await record(n), mine, 'A\'s record unchanged');
    assert.deepEqual(await lock(n, A, 'renew'), { state: 'renewed', expired: false });
    const renewed = (await record(n))!;
    assert.equal(renewed.since, mine.since, 'a renewal keeps the start time');
    assert.deepEqual(await lock(n, A, 'release'), { state: 'released', expired: false });
    assert.equal(await record(n), undefined);
    assert.deepEqual(await lock(n, A, 'renew'), { state: 'lost', expired: false }, 'a released lock is not recreated by a renewal');
    assert.equal(await sb.readlink(lockPath(n.profile)), undefined);
  });

  void test('an expired lock is taken over and says whose it was; --break-lock takes a live one; an old record without v= reads the same', async () => {
    const n = fresh();
    const stale = { ...holder, since: 1000, expires: 2000 };
    await plant(n, formatLockRecord(stale, undefined));
    assert.deepEqual(await probe(n, B, 'read'), { state: 'held', holder: stale, expired: true });
    assert.deepEqual(await probe(n, B, 'take'), { state: 'taken', holder: stale, expired: true });
    const live = (await record(n))!;
    assert.equal(live.run, 'runB');
    assert.deepEqual(await probe(n, A, 'break'), { state: 'taken', holder: live, expired: false });
    assert.equal((await record(n))!.run, 'runA');
    await plant(n, 'not a record');
    assert.deepEqual(await probe(n, B, 'take'), { state: 'taken', unreadable: 'not a record', expired: true }, 'an unreadable record counts as stale');
  });

  void test('two runs taking the same free (or expired) lock at once: exactly one gets it', async () => {
    for (let i = 0; i < 6; i++) {
      const n = fresh();
      if (i % 2 === 1) await plant(n, formatLockRecord({ ...holder, expires: 1 }));
      const [a, b] = await Promise.all([probe(n, A, 'take'), probe(n, B, 'take')]);
      assert.deepEqual([a!.state, b!.state].sort(), ['held', 'taken'], `round ${i}`);
      const winner = a!.state === 'taken' ? A : B;
      assert.equal((await record(n))!.run, winner.run);
      assert.equal((a!.state === 'held' ? a : b)!.holder!.run, winner.run, 'the loser names the winner');
    }
  });

  const keeperOf = (renewEveryMs: number) => createLockKeeper({ identity: A, run: lockRunner((n) => client(n, A)), renewEveryMs: () => renewEveryMs });

  void test('keeper: renews on its own while the run lives; releases what it holds at the end, leaves another run\'s alone', async () => {
    const n1 = fresh(120_000);
    const n2 = fresh();
    await probe(n1, A, 'take');
    await probe(n2, A, 'take');
    await sb.exec(['sh', '-c', `ln -sfn "$(readlink "$1" | sed 's/expires=[0-9]*/expires=1/')" "$1"`, 'shorten', lockPath(n1.profile)]);
    const keeper = keeperOf(50);
    keeper.hold(n1);
    keeper.hold(n2);
    // Waits for the renewal to be seen (no timing assertion: only that it happens).
    await waitFor('a renewal with its lockTimeout', async () => ((await record(n1))?.expires ?? 0) >= ((await record(n1))?.since ?? 0) + 120, { everyMs: 20 });
    assert.equal((await probe(n2, B, 'break'))!.state, 'taken');
    assert.deepEqual(await keeper.releaseAll(), []);
    assert.equal(await record(n1), undefined, 'its own lock released');
    assert.equal((await record(n2))!.run, 'runB', 'the other run\'s lock left alone');
  });

  void test('keeper: a lock a node\'s last call released is not released again', async () => {
    const n = fresh();
    await probe(n, A, 'take');
    const calls: string[] = [];
    const keeper = createLockKeeper({ identity: A, run: async (node, op) => { calls.push(op); return client(node, A).lock(op); }, renewEveryMs: () => 3_600_000 });
    keeper.hold(n);
    assert.equal((await client(n, A).finish({ release: true })).lock?.state, 'released');
    keeper.released(n);
    assert.deepEqual(await keeper.releaseAll(), []);
    assert.deepEqual(calls, []);
  });
});

// --- the keeper's warnings, over runners that fail ---

const node = (name: string, lockTimeoutMs = 60_000) => resolvedNode(name, { profile: `/nix/var/nix/profiles/${name}`, lockTimeoutMs });

void test('keeper: a lock it cannot release is a warning naming the node and when it expires', async () => {
  const refused: LockRunner = async () => ({ reason: 'ssh: connect to host h port 22: Connection refused' });
  const keeper = createLockKeeper({ identity: A, run: refused });
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
  assert.deepEqual(await keeper.releaseAll(), ['n1: could not release its lock (no host for n1); it expires within 30 s (lockTimeout) or with a reboot']);
});

void test('the agent\'s lock answers: an error record, and no answer at all', () => {
  assert.deepEqual(parseLockReply('protocol=1\nlock=error flock on /run/fleet/locks failed (busy for 10 s, or no flock)'), { state: 'error', expired: false, error: 'flock on /run/fleet/locks failed (busy for 10 s, or no flock)' });
});

void test('keeper: renewals and releases at once stay within its parallel bound (--probe-parallel), whatever the locks held', async () => {
  let now = 0;
  let peak = 0;
  const run: LockRunner = async () => {
    now++;
    peak = Math.max(peak, now);
    await new Promise((r) => setTimeout(r, 5));
    now--;
    return { reply: { state: 'released', expired: false }, reason: '' };
  };
  const keeper = createLockKeeper({ identity: A, run, parallel: 3, renewEveryMs: () => 3_600_000 });
  for (let i = 0; i < 20; i++) keeper.hold(node(`n${i}`));
  assert.deepEqual(await keeper.releaseAll(), []);
  assert.equal(peak, 3);
});
