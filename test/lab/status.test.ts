// Deploy records and `fleet status` on a light lab: records checked on the hosts themselves (content, at most
// 50 kept, replaced atomically), and every state status gives, from a fleet file in a real git repository.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { evalOutPaths, readSystemState, startLab, stateDirOf, writeHive, type Lab, type StandInSpec } from '../../lab/index.js';
import { deployerIdentity, lockPath } from '../../src/agent/lock.js';
import type { EventOf } from '../../src/events.js';
import { parseRecord, type DeployRecord } from '../../src/records/record.js';
import { runFleet, summaryOf } from './run-fleet.js';
import { labAgent, requireLabCapable } from './support.js';

const NODES = ['s1', 's2', 's3', 's4'];

describe('deploy records and fleet status on a 4-node lab', { skip: requireLabCapable() }, () => {
  let lab: Lab;
  let repo: string;
  let hive: string;
  let fleetFile: string;
  const tag = randomBytes(4).toString('hex');
  const specs: Record<string, StandInSpec> = Object.fromEntries(NODES.map((n) => [n, { name: `status-${tag}`, nonce: n }]));
  const git = (...args: string[]) => execa('git', ['-C', repo, '-c', 'user.name=Lab', '-c', 'user.email=lab@fleet', ...args]);
  const commit = async (message: string) => {
    await writeHive(hive, specs, lab.witness);
    await git('add', '-A');
    await git('commit', '-q', '-m', message);
    return (await git('rev-parse', 'HEAD')).stdout.trim();
  };
  const recordsOn = async (node: string): Promise<{ lines: string[]; records: DeployRecord[] }> => {
    const host = lab.hosts.find((h) => h.name === node)!;
    const r = await lab.exec(node, ['cat', `${stateDirOf(host)}/records`]);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    return { lines, records: lines.map((l) => parseRecord(l)).filter((x): x is DeployRecord => !!x) };
  };
  const status = async (...args: string[]) => {
    const run = await runFleet(['-f', fleetFile, 'status', '--json', ...args]);
    const states = Object.fromEntries(run.events.filter((e): e is EventOf<'status'> => e.type === 'status').map((e) => [e.node, e]));
    return { run, states };
  };
  const stateOf = (states: Record<string, EventOf<'status'>>) => Object.fromEntries(Object.entries(states).map(([n, s]) => [n, s.state]));
  let first: string;

  before(async () => {
    lab = await startLab({ names: NODES });
    // The fleet file lives in its own repository: the lab dir holds the hosts' stores.
    repo = `${lab.dir}/repo`;
    await mkdir(repo);
    hive = `${repo}/hive.nix`;
    fleetFile = await lab.writeFleet({ nixFile: './hive.nix', path: `${repo}/fleet.yaml`, defaults: { connectTimeout: '3s' } });
    await git('init', '-q');
    first = await commit('first');
  });
  after(async () => lab?.down());

  test('after an apply from a git repository: each target records the commit, the dirty flag and the user; status says in-sync with that commit', async () => {
    const applied = await runFleet(['-f', fleetFile, 'apply', '--json', '-m', 'first deploy']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stderr, '', 'no record warning');
    const outs = await evalOutPaths(hive);
    const runId = applied.events[0]!.run;
    for (const node of NODES) {
      const { lines, records } = await recordsOn(node);
      assert.equal(lines.length, 1, node);
      const sys = await readSystemState(lab, node);
      const r = records[0]!;
      assert.deepEqual({ ...r, time: 'x', fleetVersion: 'x' }, {
        v: 1, kind: 'deploy', run: runId, time: 'x', goal: 'switch', profile: '/nix/var/nix/profiles/system', toplevel: outs[node]!,
        profileLink: sys.link, generation: Number(/-(\d+)-link$/.exec(sys.link!)![1]), before: {},
        fleetVersion: 'x', by: deployerIdentity(), on: 'all', message: 'first deploy', rev: first, dirty: false,
      }, node);
      assert.equal(sys.current, outs[node], 'the record names what runs');
    }
    const { run, states } = await status();
    assert.equal(run.code, 0, run.stderr);
    // The evaluation's chunks come first (how many depends on the budget and workers), then its summary.
    const types = run.events.map((e) => e.type).filter((t) => t !== 'node-phase' && t !== 'eval-chunk');
    assert.deepEqual(types, ['run-start', 'eval-done', 'status', 'status', 'status', 'status', 'summary']);
    for (const node of NODES) {
      assert.equal(states[node]!.state, 'in-sync', node);
      assert.equal(states[node]!.lastDeploy?.rev, first);
      assert.equal(states[node]!.lastDeploy?.dirty, false);
      assert.equal(states[node]!.lastDeploy?.by, deployerIdentity());
      assert.equal(states[node]!.lastDeploy?.message, 'first deploy');
    }
    const text = await runFleet(['-f', fleetFile, 'status']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, new RegExp(`^s1 +in-sync +[0-9a-z]{7}-[a-z-]*status-${tag} +\\d+ +${first.slice(0, 12)} by ${deployerIdentity()} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC "first deploy"$`, 'm'));
    assert.match(text.stdout, /\n\n4 nodes: 4 in-sync$/);
  });

  test('a commit changing two nodes: those outdated, the others in-sync; --exit-code exits 1', async () => {
    specs.s1 = { ...specs.s1!, nonce: 's1-v2' };
    specs.s2 = { ...specs.s2!, nonce: 's2-v2' };
    await commit('change s1 and s2');
    const { run, states } = await status();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(stateOf(states), { s1: 'outdated', s2: 'outdated', s3: 'in-sync', s4: 'in-sync' });
    assert.match(states.s1!.reason, new RegExp(`from an earlier fleet deploy \\(run [^,]+, ${first.slice(0, 12)}\\)`));
    assert.equal((await runFleet(['-f', fleetFile, 'status', '--exit-code'])).code, 1);
    assert.equal((await runFleet(['-f', fleetFile, 'status', '--exit-code', '--on', 's3,s4'])).code, 0);
    // Deploying them from a dirty tree: in-sync again, and the record says dirty.
    await execa('sh', ['-c', `echo '# local edit' >> ${fleetFile}`]);
    const applied = await runFleet(['-f', fleetFile, 'apply', '--on', 's1,s2', '--json']);
    assert.equal(applied.code, 0, applied.stderr);
    const head = (await git('rev-parse', 'HEAD')).stdout.trim();
    const after = await status();
    assert.deepEqual(stateOf(after.states), { s1: 'in-sync', s2: 'in-sync', s3: 'in-sync', s4: 'in-sync' });
    assert.deepEqual([after.states.s1!.lastDeploy?.rev, after.states.s1!.lastDeploy?.dirty, after.states.s1!.lastDeploy?.on], [head, true, 's1,s2']);
    assert.equal('message' in after.states.s1!.lastDeploy!, false);
    await git('checkout', '-q', '--', 'fleet.yaml');
  });

  test('a system switched by hand on one target: drifted', async () => {
    const other = `${lab.dir}/by-hand.nix`;
    await writeHive(other, { s3: { name: `by-hand-${tag}` } });
    const built = await lab.exec('s3', ['nix-build', '--no-out-link', other, '-A', 's3']);
    assert.equal(built.exitCode, 0, built.stderr);
    const out = built.stdout.trim().split('\n').at(-1)!;
    const switched = await lab.exec('s3', [`${out}/bin/switch-to-configuration`, 'switch']);
    assert.equal(switched.exitCode, 0, switched.stderr);
    const { run, states } = await status();
    assert.equal(run.code, 0);
    assert.equal(states.s3!.state, 'drifted');
    assert.equal(states.s3!.system?.currentSystem, out);
    assert.match(states.s3!.reason, /which no fleet record names: changed by hand or by another tool$/);
    assert.deepEqual(stateOf(states), { s1: 'in-sync', s2: 'in-sync', s3: 'drifted', s4: 'in-sync' });
    assert.equal((await readSystemState(lab, 's3')).profile, (await evalOutPaths(hive)).s3, 'its profile still points at the desired system');
  });

  test('apply boot and no reboot: pending-reboot', async () => {
    specs.s4 = { ...specs.s4!, nonce: 's4-v2' };
    await commit('change s4');
    const applied = await runFleet(['-f', fleetFile, 'apply', 'boot', '--on', 's4', '--json']);
    assert.equal(applied.code, 0, applied.stderr);
    const { states } = await status('--on', 's4');
    assert.equal(states.s4!.state, 'pending-reboot');
    assert.equal(states.s4!.lastDeploy?.goal, 'boot');
    assert.match(states.s4!.reason, /^boots the desired system but runs .+: reboot to finish$/);
  });

  test('records on the host: at most 50 kept, the newest last, the file replaced whole (no temp file left)', async () => {
    const host = lab.hosts.find((h) => h.name === 's2')!;
    const file = `${stateDirOf(host)}/records`;
    const { lines } = await recordsOn('s2');
    // 55 older lines: a record of another era, as a target that has been deployed for long would hold.
    const old = Array.from({ length: 55 }, (_, i) => JSON.stringify({ old: i }));
    assert.equal((await lab.exec('s2', ['sh', '-c', `printf '%s\\n' "$@" > ${file}`, 'sh', ...old, ...lines])).exitCode, 0);
    const inode = (await lab.exec('s2', ['stat', '-c', '%i', file])).stdout.trim();
    specs.s2 = { ...specs.s2!, nonce: 's2-v3' };
    await commit('change s2 again');
    const applied = await runFleet(['-f', fleetFile, 'apply', '--on', 's2', '--json']);
    assert.equal(applied.code, 0, applied.stderr);
    const after = await recordsOn('s2');
    assert.equal(after.lines.length, 50);
    assert.equal(after.records.at(-1)!.run, applied.events[0]!.run);
    assert.deepEqual(after.lines.slice(-1 - lines.length, -1), lines, 'the earlier records kept, in order');
    assert.notEqual((await lab.exec('s2', ['stat', '-c', '%i', file])).stdout.trim(), inode, 'renamed over, never rewritten in place');
    assert.equal((await lab.exec('s2', ['ls', '-A', stateDirOf(host)])).stdout.trim(), 'records');
    const { states } = await status('--on', 's2');
    assert.equal(states.s2!.state, 'in-sync');
    assert.match(states.s2!.reason, /^runs the desired system \(\d+ lines of its records could not be read\)$/, 'the foreign lines are counted, not guessed');
  });

  test('a failed health check rolls the node back: a rollback record follows the deploy record, and status names what runs', async () => {
    const before = await readSystemState(lab, 's3');
    specs.s3 = { ...specs.s3!, nonce: 's3-v2' };
    await commit('change s3');
    const checked = await lab.writeFleet({
      nixFile: './hive.nix', path: `${repo}/fleet-health.yaml`, defaults: { connectTimeout: '3s' },
      nodes: { s3: { healthChecks: [{ name: 'always-fails', command: ['false'], retries: 0 }] } },
    });
    const applied = await runFleet(['-f', checked, 'apply', '--on', 's3', '--json']);
    assert.equal(applied.code, 1, applied.stderr);
    assert.equal(summaryOf(applied).nodes.s3?.outcome, 'rolled-back');
    assert.equal((await readSystemState(lab, 's3')).current, before.current, 'back on the hand-switched system');
    const [deploy, rollback] = (await recordsOn('s3')).records.slice(-2);
    const run = applied.events[0]!.run;
    assert.deepEqual([deploy!.kind, deploy!.run, deploy!.toplevel], ['deploy', run, (await evalOutPaths(hive)).s3]);
    assert.deepEqual([rollback!.kind, rollback!.run, rollback!.toplevel, rollback!.profileLink], ['rollback', run, before.current, before.link]);
    const { states } = await status('--on', 's3');
    assert.equal(states.s3!.state, 'outdated', 'fleet itself put it back there');
    assert.equal(states.s3!.lastDeploy?.kind, 'rollback');
  });

  test('a stopped host: unreachable, the others still reported, in bounded time (connectTimeout 3s)', async () => {
    const s1 = lab.hosts.find((h) => h.name === 's1')!;
    // SIGSTOP: the kernel still accepts TCP connections, sshd never answers: the slow kind of dead.
    process.kill(s1.sshdPid, 'SIGSTOP');
    try {
      const started = Date.now();
      const { run, states } = await status();
      const seconds = (Date.now() - started) / 1000;
      console.error(`# fleet status with a stopped host: ${seconds.toFixed(1)} s (connectTimeout 3s)`);
      assert.equal(run.code, 1);
      assert.equal(states.s1!.state, 'unreachable');
      assert.match(states.s1!.reason, /^s1: connect: /);
      assert.deepEqual(stateOf(states), { s1: 'unreachable', s2: 'in-sync', s3: 'outdated', s4: 'pending-reboot' });
      assert.deepEqual(Object.keys(summaryOf(run).nodes), ['s1']);
      const text = await runFleet(['-f', fleetFile, 'status']);
      assert.equal(text.code, 1);
      assert.match(text.stdout, /^s1: unreachable: s1: connect: .+$/m);
    } finally {
      process.kill(s1.sshdPid, 'SIGCONT');
    }
  });

  test('another run holding a node\'s lock: locked, naming its holder, the lock left as it was; an unreadable record still locks, an expired one does not', async () => {
    const profile = '/nix/var/nix/profiles/system';
    const lock = lockPath(profile);
    const holder = { run: `other-${tag}`, by: 'bob@elsewhere', pid: 4242 };
    // The real agent takes s1's lock, as another run's probe does.
    const taken = await labAgent(lab, 's1', { lock: holder }, { lockTimeoutMs: 600_000 }).probe({ outPath: '/nonexistent', lock: 'take' });
    assert.equal(taken.ok && taken.lock?.state, 'taken');
    const link = (await lab.exec('s1', ['readlink', lock])).stdout;
    const writeLock = async (record: string) => assert.equal((await lab.exec('s1', ['sh', '-c', `ln -sfn "${record}" ${lock}`])).exitCode, 0);
    try {
      const { run, states } = await status();
      assert.equal(run.code, 0, 'locked is a state, not a failure');
      assert.deepEqual(stateOf(states), { s1: 'locked', s2: 'in-sync', s3: 'outdated', s4: 'pending-reboot' });
      assert.match(states.s1!.reason, new RegExp(`^another run is deploying it: run ${holder.run} \\(${holder.by}, pid ${holder.pid}\\) since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
      assert.deepEqual([states.s1!.lock?.state, states.s1!.lock?.holder?.run], ['held', holder.run]);
      assert.equal((await lab.exec('s1', ['readlink', lock])).stdout, link, 'status neither took nor renewed it');
      assert.equal((await runFleet(['-f', fleetFile, 'status', '--exit-code', '--on', 's1'])).code, 1);
      const text = await runFleet(['-f', fleetFile, 'status', '--on', 's1']);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /^s1 +locked +/m);
      assert.match(text.stdout, new RegExp(`^s1: locked: another run is deploying it: run ${holder.run} \\(`, 'm'));

      // A record this fleet cannot read (a newer fleet's) that has not expired: a run may still hold it.
      await writeLock('run=newer by=bob@elsewhere expires=$(($(date +%s) + 600))');
      const unreadable = await status('--on', 's1');
      assert.equal(unreadable.states.s1!.state, 'locked');
      assert.equal(unreadable.states.s1!.reason, 'another run is deploying it: its lock record is unreadable');
      // An expired lock: its run is gone (apply would take it over), so status says what runs.
      await writeLock(`run=${holder.run} by=${holder.by} pid=${holder.pid} since=1 expires=2`);
      const expired = await status('--on', 's1');
      assert.equal(expired.states.s1!.state, 'in-sync');
      assert.deepEqual(expired.states.s1!.lock, { state: 'held', holder: { ...holder, since: 1, expires: 2 }, expired: true });
    } finally {
      await lab.exec('s1', ['rm', '-f', lock]);
    }
  });
});
