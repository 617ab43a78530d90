// Deploy records: their shape, parsing, the git revision, and the agent's record writing (finish) and probe run
// for real (sh, flock, mv) in the agent sandbox, through the agent client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { createAgentClient, parseGenerations } from '../../src/agent/client.js';
import { createSandbox, requireSandbox, type Sandbox } from '../agent-sandbox.js';
import { gitRevision } from '../../src/records/git.js';
import { makeRecord, parseRecord, parseRecordLines, recordLine, RECORDS_KEPT, systemOf, type DeployRecord, type RecordContext } from '../../src/records/record.js';
import { recordFailureText } from '../../src/deploy/record.js';
import { runLocal } from '../../src/transport/run.js';

const sys = (n: string) => `/nix/store/${n.padEnd(32, '0')}-nixos-system`;
const ctx: RecordContext = { run: '20261121T091502Z-3fa9c1d2', by: 'alice@laptop', on: 'tag:web', message: 'line one\nline "two"', fleetVersion: '0.1.0', git: { rev: 'a'.repeat(40), dirty: true } };
const time = new Date('2026-11-21T09:15:02.000Z');

void test('a record: every field, one line whatever the message holds, read back as it was', () => {
  const record = makeRecord(ctx, {
    kind: 'deploy', goal: 'switch', profile: '/nix/var/nix/profiles/system', toplevel: sys('new'), time,
    now: { profileLink: 'system-5-link', generation: 5, profileTarget: sys('new'), currentSystem: sys('new'), bootedSystem: sys('old') },
    before: { profileLink: 'system-4-link', generation: 4, profileTarget: sys('old'), currentSystem: sys('old'), bootedSystem: sys('old') },
  });
  assert.deepEqual(record, {
    v: 1, kind: 'deploy', run: ctx.run, time: '2026-11-21T09:15:02.000Z', goal: 'switch', profile: '/nix/var/nix/profiles/system', toplevel: sys('new'),
    profileLink: 'system-5-link', generation: 5, before: { profileLink: 'system-4-link', generation: 4, profileTarget: sys('old'), currentSystem: sys('old') },
    fleetVersion: '0.1.0', by: 'alice@laptop', on: 'tag:web', message: 'line one\nline "two"', rev: 'a'.repeat(40), dirty: true,
  });
  const line = recordLine(record);
  assert.ok(!line.includes('\n'));
  assert.deepEqual(parseRecord(line), record);
  const unknown = makeRecord({ ...ctx, git: { rev: 'unknown' } }, { kind: 'rollback', goal: 'boot', profile: '/p', toplevel: sys('old'), now: {}, time });
  assert.equal(unknown.rev, 'unknown');
  assert.equal('dirty' in unknown, false);
  assert.equal('generation' in unknown, false);
});

void test('parsing: anything that is not a record of this version is counted, never guessed', () => {
  const good = recordLine(makeRecord(ctx, { kind: 'deploy', goal: 'switch', profile: '/p', toplevel: sys('a'), now: {}, time }));
  const bad = ['', 'not json', '[1]', 'null', good.replace('"v":1', '"v":2'), good.replace('"kind":"deploy"', '"kind":"undo"'),
    good.replace(`"toplevel":"${sys('a')}"`, '"toplevel":"relative"'), good.replace('"goal":"switch"', '"goal":"reboot"'), good.replace('"dirty":true', '"dirty":"yes"'),
    good.replace('"by":"alice@laptop",', '')];
  for (const line of bad) assert.equal(parseRecord(line), undefined, line);
  const out = ['lock=free', `record=${good}`, 'record=garbage', 'currentSystem=/x', `record=${good}`].join('\n');
  const parsed = parseRecordLines(out);
  assert.equal(parsed.records.length, 2);
  assert.equal(parsed.unreadable, 1);
});

void test('the system a goal leaves in charge: the profile for boot, the running one otherwise', () => {
  const state = { profileTarget: sys('p'), currentSystem: sys('c') };
  assert.equal(systemOf('boot', state), sys('p'));
  assert.equal(systemOf('switch', state), sys('c'));
  assert.equal(systemOf('test', { profileTarget: sys('p') }), sys('p'));
  assert.equal(systemOf('boot', {}), undefined);
});

void test('a record that cannot be written: named with where and why', () => {
  assert.equal(recordFailureText({ name: 'web-1', stateDir: '/var/lib/fleet' }, 'deploy', 'cannot create /var/lib/fleet'),
    'web-1: the deploy record could not be written to /var/lib/fleet/records (cannot create /var/lib/fleet); fleet status will not know of this deploy');
  assert.match(recordFailureText({ name: 'a', stateDir: '/s' }, 'rollback', 'x'), /will not know of this rollback$/);
});

const git = (dir: string, ...args: string[]) => execa('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args]);

void test('git revision: the commit and whether tracked files changed; no repository or no git: unknown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-git-'));
  assert.deepEqual(await gitRevision(dir, runLocal), { rev: 'unknown' }, 'not a repository');
  await git(dir, 'init', '-q');
  assert.deepEqual(await gitRevision(dir, runLocal), { rev: 'unknown' }, 'a repository without a commit');
  writeFileSync(join(dir, 'fleet.yaml'), 'a\n');
  await git(dir, 'add', 'fleet.yaml');
  await git(dir, 'commit', '-q', '-m', 'one');
  const head = (await git(dir, 'rev-parse', 'HEAD')).stdout.trim();
  assert.deepEqual(await gitRevision(dir, runLocal), { rev: head, dirty: false });
  writeFileSync(join(dir, 'untracked.nix'), 'x\n');
  assert.deepEqual(await gitRevision(dir, runLocal), { rev: head, dirty: false }, 'untracked files are not in the flake');
  writeFileSync(join(dir, 'fleet.yaml'), 'b\n');
  assert.deepEqual(await gitRevision(dir, runLocal), { rev: head, dirty: true });
  const noGit = async (argv: string[]) => runLocal(argv, { env: { PATH: '/nonexistent' } });
  assert.deepEqual(await gitRevision(dir, noGit), { rev: 'unknown' }, 'git absent');
  assert.deepEqual(await gitRevision(dir, () => Promise.reject(new Error('boom'))), { rev: 'unknown' });
});

describe('records on a target, for real', { skip: requireSandbox() }, () => {
  let sb: Sandbox;
  before(async () => {
    sb = await createSandbox();
  });
  after(() => sb?.close());
  let count = 0;
  const fresh = () => {
    const node = sb.node(`r${++count}`);
    return { node, agent: createAgentClient(sb.target(node)) };
  };
  const write = async (agent: ReturnType<typeof fresh>['agent'], stateDir: string, line: string) => agent.finish({ record: { stateDir, line, keep: RECORDS_KEPT }, release: false });

  void test('finish writes one line, keeps the newest 50, replaces the file by a rename, leaves no temp file', async () => {
    const { node, agent } = fresh();
    const file = join(node.stateDir, 'records');
    for (let i = 1; i <= 60; i++) {
      assert.deepEqual(await write(agent, node.stateDir, `{"n":${i}}`), { recorded: true });
      if (i === 1) assert.equal(readFileSync(file, 'utf8'), '{"n":1}\n', 'created with its directory');
    }
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 50);
    assert.deepEqual([lines[0], lines.at(-1)], ['{"n":11}', '{"n":60}']);
    const inode = statSync(file).ino;
    await write(agent, node.stateDir, '{"n":61}');
    assert.notEqual(statSync(file).ino, inode, 'a new file renamed over the old one, never rewritten in place');
    assert.deepEqual(readdirSync(node.stateDir), ['records']);
  });

  void test('writers at once never lose a record (flock); a state dir that cannot be made is said so', async () => {
    const { node, agent } = fresh();
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => write(agent, node.stateDir, `{"w":${i}}`)));
    assert.deepEqual(results, Array(12).fill({ recorded: true }));
    assert.deepEqual(readFileSync(join(node.stateDir, 'records'), 'utf8').trimEnd().split('\n').sort(), Array.from({ length: 12 }, (_, i) => `{"w":${i}}`).sort());
    const blocked = join(sb.dir, 'a-file');
    writeFileSync(blocked, '');
    assert.deepEqual(await write(agent, join(blocked, 'state'), '{}'), { recorded: false, recordError: `cannot create ${blocked}/state` });
  });

  void test('probe with records: the records as record= lines, after the state; none without asking', async () => {
    const { node, agent } = fresh();
    const record: DeployRecord = makeRecord(ctx, { kind: 'deploy', goal: 'switch', profile: '/p', toplevel: sys('a'), now: {}, time });
    await write(agent, node.stateDir, recordLine(record));
    const withRecords = await agent.probe({ outPath: '/nix/store/none', records: true });
    assert.ok(withRecords.ok);
    assert.deepEqual(parseRecordLines(withRecords.stdout), { records: [record], unreadable: 0 });
    const without = await agent.probe({ outPath: '/nix/store/none' });
    assert.ok(without.ok);
    assert.doesNotMatch(without.stdout, /^record=/m);
    const { agent: empty } = fresh();
    const none = await empty.probe({ outPath: '/nix/store/none', records: true });
    assert.ok(none.ok, 'no records yet is no error');
    assert.deepEqual(parseRecordLines(none.stdout), { records: [], unreadable: 0 });
  });

  void test('probe: the profile\'s generations only when asked (fleet rollback), not with the records alone (fleet status)', async () => {
    const { node, agent } = fresh();
    symlinkSync(sys('a'), `${node.profile}-4-link`);
    symlinkSync(`${node.profile}-4-link`, node.profile);
    const records = await agent.probe({ outPath: '/nix/store/none', records: true });
    assert.ok(records.ok);
    assert.doesNotMatch(records.stdout, /^generation=/m);
    const generations = await agent.probe({ outPath: '/nix/store/none', records: 'generations' });
    assert.ok(generations.ok);
    assert.deepEqual([...parseGenerations(generations.stdout)], [[4, sys('a')]]);
  });

  const recordOf = (run: string, generation: number) => makeRecord({ ...ctx, run }, {
    kind: 'deploy', goal: 'switch', profile: '/p', toplevel: sys(run), now: { profileLink: `p-${generation}-link`, generation }, time,
  });

  void test('finish: a records file whose last line was cut short gets the new record on a line of its own', async () => {
    const { node, agent } = fresh();
    const [older, cut, newer] = [recordOf('older', 3), recordOf('cut', 4), recordOf('newer', 5)].map(recordLine);
    mkdirSync(node.stateDir, { recursive: true });
    writeFileSync(join(node.stateDir, 'records'), `${older}\n${cut!.slice(0, 40)}`); // a full disk, a crash: no newline at its end
    assert.deepEqual(await write(agent, node.stateDir, newer!), { recorded: true });
    assert.equal(readFileSync(join(node.stateDir, 'records'), 'utf8'), `${older}\n${cut!.slice(0, 40)}\n${newer}\n`);
    const probed = await agent.probe({ outPath: '/nix/store/none', records: true });
    assert.ok(probed.ok);
    assert.deepEqual(parseRecordLines(probed.stdout).records.map((r) => r.run), ['older', 'newer'], 'the cut line skipped, the newest record last');
    assert.equal(parseRecordLines(probed.stdout).unreadable, 1);
  });

  void test('probe: a records file ending in a cut line cannot swallow the generations printed after it', async () => {
    const { node, agent } = fresh();
    symlinkSync(sys('a'), `${node.profile}-4-link`);
    symlinkSync(`${node.profile}-4-link`, node.profile);
    mkdirSync(node.stateDir, { recursive: true });
    writeFileSync(join(node.stateDir, 'records'), `${recordLine(recordOf('older', 3))}\n{"v":1,"kind":"dep`);
    const probed = await agent.probe({ outPath: '/nix/store/none', records: 'generations' });
    assert.ok(probed.ok);
    assert.deepEqual([...parseGenerations(probed.stdout)], [[4, sys('a')]]);
    assert.deepEqual(parseRecordLines(probed.stdout).unreadable, 1);
  });

  void test('probe: only the newest records (what finish keeps), each line cut at 64 KiB: a grown file cannot swamp the reply', async () => {
    const { node, agent } = fresh();
    const huge = `{"v":1,"pad":"${'x'.repeat(200_000)}"}`;
    const lines = [huge, ...Array.from({ length: 60 }, (_, i) => recordLine(recordOf(`r${i}`, i + 1))), huge, recordLine(recordOf('last', 99))];
    mkdirSync(node.stateDir, { recursive: true });
    writeFileSync(join(node.stateDir, 'records'), `${lines.join('\n')}\n`);
    const probed = await agent.probe({ outPath: '/nix/store/none', records: true });
    assert.ok(probed.ok);
    const parsed = parseRecordLines(probed.stdout);
    assert.deepEqual(parsed.records.map((r) => r.run), [...Array.from({ length: 48 }, (_, i) => `r${i + 12}`), 'last']);
    assert.equal(parsed.unreadable, 1, 'the huge line among the newest, cut');
    assert.ok(probed.stdout.length < 200_000, `${probed.stdout.length} characters`);
  });
});

void test('reading records: one an older agent appended onto a cut line is read; the cut part counts as unreadable', () => {
  const recordOf = (run: string, generation: number) => makeRecord({ ...ctx, run }, {
    kind: 'deploy', goal: 'switch', profile: '/p', toplevel: sys(run), now: { profileLink: `p-${generation}-link`, generation }, time,
  });
  const cut = recordLine(recordOf('cut', 4)).slice(0, 60);
  const newer = recordOf('newer', 5);
  const parsed = parseRecordLines([`record=${recordLine(recordOf('older', 3))}`, `record=${cut}${recordLine(newer)}`, `record=${cut}`].join('\n'));
  assert.deepEqual(parsed.records.map((r) => r.run), ['older', 'newer']);
  assert.deepEqual(parsed.records[1], newer);
  assert.equal(parsed.unreadable, 2);
  // A record text inside a string (a --message) is escaped: it never starts a record.
  const quoting = recordLine(makeRecord({ ...ctx, message: recordLine(newer) }, { kind: 'deploy', goal: 'switch', profile: '/p', toplevel: sys('q'), now: {}, time }));
  assert.deepEqual(parseRecordLines(`record=${quoting.slice(0, -2)}`), { records: [], unreadable: 1 });
});
