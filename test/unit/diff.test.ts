// fleet diff's pure parts: Nix's name/version split, the closure comparison, grouping, and every message.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffClosures, SIZE_THRESHOLD, type Closure } from '../../src/diff/closure.js';
import { ClosureReader, compareNode, currentSystemAbsent, newSystemAbsent } from '../../src/diff/compare.js';
import { cannotCompare, notBuiltYet } from '../../src/diff/plan-summary.js';
import { formatPlan } from '../../src/plan/format.js';
import { systemOf } from '../../src/records/record.js';
import type { Host } from '../../src/transport/host.js';
import type { CommandResult } from '../../src/transport/run.js';
import { runCli } from '../../src/cli/main.js';
import { PassThrough } from 'node:stream';
import {
  formatBytes, formatCounts, formatDelta, formatDiffReport, formatGroup, formatNodeNames, formatNodeSummary, formatVersions,
} from '../../src/diff/format.js';
import { groupDiffs, type NodeDiff } from '../../src/diff/group.js';
import { parsePackage, splitNameVersion, storeName } from '../../src/diff/names.js';
import { answerToken, closureArgv, parseClosureOutput, readClosures } from '../../src/diff/read.js';

let n = 0;
/** A store path with a fresh hash: two calls never give the same path (as two builds of one name). */
const sp = (name: string, hash?: string) => `/nix/store/${(hash ?? `h${n++}`).padEnd(32, '0')}-${name}`;
const closure = (entries: [string, number][]): Closure => new Map(entries);

test('names: the version starts at the first dash followed by anything but a letter (Nix DrvName)', () => {
  const cases: [string, string, string][] = [
    ['hello-2.12', 'hello', '2.12'],
    ['hello', 'hello', ''],
    ['gnu-hello-2.12', 'gnu-hello', '2.12'],
    ['nixos-system-web-1-25.05', 'nixos-system-web', '1-25.05'],
    ['perl5.36.0-Try-Tiny-0.31', 'perl5.36.0-Try-Tiny', '0.31'],
    ['source', 'source', ''],
    ['unit-script-nginx-start', 'unit-script-nginx-start', ''],
    ['foo-_bar', 'foo', '_bar'], // not a letter: Nix splits here too
    ['foo-', 'foo-', ''], // a trailing dash has nothing after it
    ['linux-6.1.55-modules-shrunk', 'linux', '6.1.55-modules-shrunk'],
    ['python3.11-requests-2.31.0', 'python3.11-requests', '2.31.0'],
    ['font-Überbold-1.0', 'font', 'Überbold-1.0'], // only ASCII letters count, as in the C locale
  ];
  for (const [text, name, version] of cases) assert.deepEqual(splitNameVersion(text), { name, version }, text);
});

test('names: store paths lose their hash and an output suffix before the split (diff-closures)', () => {
  assert.equal(storeName(sp('hello-2.12')), 'hello-2.12');
  assert.equal(storeName('not-a-store-path'), 'not-a-store-path');
  assert.deepEqual(parsePackage(sp('hello-2.12-man')), { name: 'hello', version: '2.12' });
  assert.deepEqual(parsePackage(sp('glibc-2.37-8-bin')), { name: 'glibc', version: '2.37-8' });
  assert.deepEqual(parsePackage(sp('gcc-12.3.0-lib64')), { name: 'gcc', version: '12.3.0' });
  assert.deepEqual(parsePackage(sp('hello-2.12')), { name: 'hello', version: '2.12' });
  // Ambiguous as in Nix: a word-only last part reads as an output name.
  assert.deepEqual(parsePackage(sp('fleet-lab-system-base')), { name: 'fleet-lab-system', version: '' });
});

test('diffClosures: added, removed and changed names with their versions and sizes; the total delta', () => {
  const keep = sp('glibc-2.37');
  const before = closure([[keep, 1000], [sp('hello-2.10'), 300], [sp('old-1.0'), 50], [sp('sys'), 10]]);
  const after = closure([[keep, 1000], [sp('hello-2.12'), 420], [sp('libfoo-1.0'), 4096], [sp('sys'), 10]]);
  const d = diffClosures(before, after);
  assert.deepEqual(d.changed, [{ name: 'hello', before: ['2.10'], after: ['2.12'], sizeDelta: 120 }]);
  assert.deepEqual(d.added, [{ name: 'libfoo', before: [], after: ['1.0'], sizeDelta: 4096 }]);
  assert.deepEqual(d.removed, [{ name: 'old', before: ['1.0'], after: [], sizeDelta: -50 }]);
  assert.equal(d.sizeBefore, 1360);
  assert.equal(d.sizeAfter, 5526);
});

test('diffClosures: a same-version rebuild shows only from 8 KiB on; equal closures show nothing', () => {
  const small = diffClosures(closure([[sp('etc'), 100]]), closure([[sp('etc'), 100 + SIZE_THRESHOLD - 1]]));
  assert.deepEqual([small.added, small.removed, small.changed], [[], [], []]);
  assert.equal(small.sizeAfter - small.sizeBefore, SIZE_THRESHOLD - 1);
  const big = diffClosures(closure([[sp('systemd-254'), 100]]), closure([[sp('systemd-254'), 100 + SIZE_THRESHOLD]]));
  assert.deepEqual(big.changed, [{ name: 'systemd', before: [], after: [], sizeDelta: SIZE_THRESHOLD }]);
  const same = closure([[sp('a-1'), 1], [sp('b'), 2]]);
  assert.deepEqual(diffClosures(same, same), { added: [], removed: [], changed: [], sizeBefore: 3, sizeAfter: 3 });
});

test('diffClosures: several versions of one name: only the versions that differ, sizes summed per name', () => {
  const shared = sp('openssl-1.1.1w');
  const d = diffClosures(
    closure([[shared, 100], [sp('openssl-3.0.12'), 200], [sp('openssl-3.0.12-bin'), 10]]),
    closure([[shared, 100], [sp('openssl-3.0.13'), 205], [sp('openssl-3.0.13-bin'), 10], [sp('openssl-3.1.0'), 1]]),
  );
  assert.deepEqual(d.changed, [{ name: 'openssl', before: ['3.0.12'], after: ['3.0.13', '3.1.0'], sizeDelta: 6 }]);
  // A second version next to a kept one is a change of that name (∅ → 2.0), not an added package.
  const second = diffClosures(closure([[shared, 1]]), closure([[shared, 1], [sp('openssl-3.0.13'), 2]]));
  assert.deepEqual(second.changed, [{ name: 'openssl', before: [], after: ['3.0.13'], sizeDelta: 2 }]);
  assert.deepEqual(second.added, []);
  // Nothing installed: every name is added.
  const fresh = diffClosures(new Map(), closure([[sp('b-1'), 2], [sp('a'), 1]]));
  assert.deepEqual(fresh.added.map((c) => [c.name, c.after]), [['a', ['']], ['b', ['1']]]);
});

test('diffClosures and groupDiffs stay linear: 500 nodes of 3000 paths each', () => {
  const base: [string, number][] = Array.from({ length: 3000 }, (_, i) => [sp(`pkg${i}-1.${i}`, `b${i}`), 1000 + i]);
  const after = closure([...base.slice(1), [sp('pkg0-2.0', 'new0'), 5000]]);
  const before = closure(base);
  const diffs: NodeDiff[] = [];
  for (let i = 0; i < 500; i++) diffs.push({ node: `web-${i}`, to: '/nix/store/x', diff: diffClosures(before, after) });
  const groups = groupDiffs(diffs);
  assert.equal(groups.length, 1);
  assert.equal(groups[0]!.nodes.length, 500);
  assert.deepEqual(groups[0]!.changed, [{ name: 'pkg0', before: ['1.0'], after: ['2.0'], sizeDelta: 4000 }]);
});

function nodeDiff(node: string, entries: { before: [string, number][]; after: [string, number][] }, from?: string): NodeDiff {
  return { node, ...(from ? { from } : {}), to: `/nix/store/${'t'.repeat(32)}-sys`, diff: diffClosures(closure(entries.before), closure(entries.after)) };
}

test('groupDiffs: nodes with the same change set form one group, in the order of their first node; sizes kept per node', () => {
  const glibc = sp('glibc-2.37');
  const h10 = sp('hello-2.10');
  const h12 = sp('hello-2.12');
  const change = { before: [[glibc, 10], [h10, 5]] as [string, number][], after: [[glibc, 10], [h12, 7]] as [string, number][] };
  const groups = groupDiffs([
    nodeDiff('web-1', change, '/nix/store/a'),
    nodeDiff('db-1', { before: [[glibc, 10]], after: [[glibc, 10]] }, '/nix/store/b'),
    nodeDiff('web-2', { before: [...change.before, [sp('etc'), 1]], after: [...change.after, [sp('etc'), 3]] }),
  ]);
  assert.deepEqual(groups.map((g) => g.nodes), [['web-1', 'web-2'], ['db-1']]);
  assert.deepEqual(groups[0]!.systems['web-1'], { from: '/nix/store/a', to: `/nix/store/${'t'.repeat(32)}-sys`, sizeBefore: 15, sizeAfter: 17, sizeDelta: 2 });
  assert.equal(groups[0]!.systems['web-2']!.sizeDelta, 4);
  assert.equal('from' in groups[0]!.systems['web-2']!, false);
  assert.deepEqual([groups[1]!.added, groups[1]!.removed, groups[1]!.changed], [[], [], []]);
});

test('format: sizes in IEC units, signed deltas, Nix version notation', () => {
  assert.deepEqual([0, 512, 1023, 1024, 1536, 12.3 * 1024 * 1024, 3 * 1024 ** 3, 2 * 1024 ** 4, 5 * 1024 ** 5].map(formatBytes),
    ['0 B', '512 B', '1023 B', '1.0 KiB', '1.5 KiB', '12.3 MiB', '3.0 GiB', '2.0 TiB', '5120.0 TiB']);
  assert.deepEqual([0, 120, -4096, 12.3 * 1024 * 1024].map(formatDelta), ['0 B', '+120 B', '-4.0 KiB', '+12.3 MiB']);
  assert.equal(formatVersions([]), '∅');
  assert.equal(formatVersions(['']), 'ε');
  assert.equal(formatVersions(['3.0.13', '3.1.0']), '3.0.13, 3.1.0');
});

test('format: counts, the per-node summary line of fleet plan, node name lists', () => {
  const one = { name: 'x', before: [], after: ['1'], sizeDelta: 1 };
  assert.equal(formatCounts({ added: [one], removed: [], changed: [one, one, one] }), '3 changed, 1 added');
  assert.equal(formatCounts({ added: [], removed: [one, one], changed: [] }), '2 removed');
  assert.equal(formatCounts({ added: [], removed: [], changed: [] }), 'no package changes');
  const h = diffClosures(closure([[sp('hello-2.10'), 100]]), closure([[sp('hello-2.12'), 100 + 12.3 * 1024 * 1024], [sp('libfoo-1.0'), 0]]));
  assert.equal(formatNodeSummary(h), '1 changed, 1 added, +12.3 MiB');
  const same = closure([[sp('a-1'), 5]]);
  assert.equal(formatNodeSummary(diffClosures(same, same)), 'no change');
  assert.equal(formatNodeSummary(diffClosures(closure([[sp('etc'), 5]]), closure([[sp('etc'), 9]]))), 'no package changes, +4 B');
  assert.equal(formatNodeNames(['a', 'b']), 'a, b');
  const many = Array.from({ length: 25 }, (_, i) => `n${i}`);
  assert.equal(formatNodeNames(many), `${many.slice(0, 20).join(', ')} and 5 more (--json lists them all)`);
});

test('format: a group and the whole report, every kind of line', () => {
  const keep = sp('openssl-1.1');
  const groups = groupDiffs([
    nodeDiff('web-1', {
      before: [[keep, 1], [sp('hello-2.10'), 100], [sp('old-1.0'), 2048], [sp('bare'), 3], [sp('systemd-254'), 100]],
      after: [[keep, 1], [sp('hello-2.12'), 220], [sp('libfoo-1.0'), 4096], [sp('plain'), 7], [sp('systemd-254'), 100 + 9 * 1024], [sp('openssl-3.0'), 1]],
    }),
    nodeDiff('web-2', {
      before: [[keep, 1], [sp('hello-2.10'), 100], [sp('old-1.0'), 2048], [sp('bare'), 3], [sp('systemd-254'), 100], [sp('etc'), 1000]],
      after: [[keep, 1], [sp('hello-2.12'), 220], [sp('libfoo-1.0'), 4096], [sp('plain'), 7], [sp('systemd-254'), 100 + 9 * 1024], [sp('openssl-3.0'), 1], [sp('etc'), 3048]],
    }),
  ]);
  assert.equal(groups.length, 1);
  assert.equal(formatGroup(groups[0]!), [
    'web-1, web-2 (2 nodes): 3 changed, 2 added, 2 removed, +11.1 KiB to +13.1 KiB',
    '  changed  hello 2.10 → 2.12 (+120 B)',
    '  changed  openssl ∅ → 3.0 (+1 B)',
    '  changed  systemd (+9.0 KiB)',
    '  added    libfoo 1.0 (+4.0 KiB)',
    '  added    plain (+7 B)',
    '  removed  bare (-3 B)',
    '  removed  old 1.0 (-2.0 KiB)',
  ].join('\n'));
  const single = groupDiffs([nodeDiff('db-1', { before: [[keep, 1]], after: [[keep, 1]] })]);
  assert.equal(formatDiffReport([...groups, ...single]).split('\n\n').slice(1).join('\n\n'), 'db-1: no change\n\n3 nodes compared, 2 distinct change sets');
  assert.equal(formatDiffReport(single).split('\n\n').at(-1), '1 node compared, 1 distinct change set');
  const etc = groupDiffs([nodeDiff('db-2', { before: [[sp('etc'), 1]], after: [[sp('etc'), 2]] })]);
  assert.equal(formatGroup(etc[0]!), 'db-2: no package changes, +1 B');
});

test('systemOf (the system diff compares with): boot compares with the profile, the other goals with /run/current-system, each falling back', () => {
  const state = { hasOut: false, systemd: false, profileTarget: '/nix/store/p', currentSystem: '/nix/store/c' };
  assert.equal(systemOf('switch', state), '/nix/store/c');
  assert.equal(systemOf('test', state), '/nix/store/c');
  assert.equal(systemOf('boot', state), '/nix/store/p');
  assert.equal(systemOf('switch', { profileTarget: '/nix/store/p' }), '/nix/store/p');
  assert.equal(systemOf('boot', { currentSystem: '/nix/store/c' }), '/nix/store/c');
  assert.equal(systemOf('switch', {}), undefined);
  assert.equal(systemOf('switch', undefined), undefined);
});

test('read: the closure script takes its data as arguments; its answer is parsed after the token only', () => {
  const argv = closureArgv(['/nix/store/x-sys', '/nix/store/y-sys'], 'tok');
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(argv.slice(3), ['fleet-closure', 'tok', '/nix/store/x-sys', '/nix/store/y-sys']);
  assert.match(argv[2]!, /for p; do/);
  assert.match(argv[2]!, /nix-store --query --requisites "\$p"/);
  assert.match(argv[2]!, /xargs nix-store --query --size/);
  const out = ['motd: tok paths is not ours', 'tok paths', '/nix/store/a-x', '/nix/store/b-y', 'tok sizes', '10', '20', ''].join('\n');
  assert.deepEqual(parseClosureOutput(out, 'tok'), { present: true, closure: new Map([['/nix/store/a-x', 10], ['/nix/store/b-y', 20]]) });
  assert.deepEqual(parseClosureOutput('banner\ntok absent\n', 'tok'), { present: false });
  assert.throws(() => parseClosureOutput('tok paths\n/nix/store/a\n', 'tok'), /^ClosureReadError: unexpected answer: no closure in it$/);
  assert.throws(() => parseClosureOutput('tok paths\n/nix/store/a\n/nix/store/b\ntok sizes\n1', 'tok'), /^ClosureReadError: unexpected answer: 2 paths but 1 sizes$/);
  assert.throws(() => parseClosureOutput('tok paths\n/nix/store/a\ntok sizes\nbig', 'tok'), /^ClosureReadError: unexpected answer line: "\/nix\/store\/a" "big"$/);
  // A hostile target's package name with an escape sequence (a screen clear) is no store path: refused, named.
  assert.throws(() => parseClosureOutput('tok paths\n/nix/store/a-x\u001b[2J\ntok sizes\n1', 'tok'), /^ClosureReadError: unexpected answer line: "\/nix\/store\/a-x\\u001b\[2J" "1"$/);
  assert.throws(() => parseClosureOutput('tok paths\nnix/store/a-x\ntok sizes\n1', 'tok'), /^ClosureReadError: unexpected answer line: "nix\/store\/a-x" "1"$/);
  assert.throws(() => parseClosureOutput('other paths\n/nix/store/a\nother sizes\n1', 'tok'), /no closure in it/);
});

/** A host whose store holds `store` (path → closure); counts the commands it ran. `failAt`: its query of that
 *  path fails (the script stops there, as the real one does). */
function fakeHost(label: string, store: Record<string, Closure>, fail?: Partial<CommandResult>, failAt?: string): Host & { calls: number } {
  const host = {
    label, isLocal: false, calls: 0,
    async run(argv: string[]): Promise<CommandResult> {
      host.calls++;
      const [token, ...paths] = argv.slice(4) as [string, ...string[]];
      const base = { argv, exitCode: 0, stderr: '', failed: false, timedOut: false, canceled: false, message: '' };
      if (fail && !failAt) return { ...base, stdout: '', ...fail };
      const lines: string[] = [];
      for (const [i, path] of paths.entries()) {
        const t = answerToken(token, i);
        if (path === failAt) return { ...base, stdout: lines.join('\n'), ...fail };
        const c = store[path];
        lines.push(...(c ? [`${t} paths`, ...c.keys(), `${t} sizes`, ...[...c.values()].map(String), `${t} end`] : [`${t} absent`]));
      }
      return { ...base, stdout: lines.join('\n') };
    },
    runFresh: () => Promise.reject(new Error('unused')),
    connect: () => Promise.resolve(),
    close: () => Promise.resolve(),
    closeSync: () => undefined,
  };
  return host;
}

test('compareNode: the new system is read first (absent: the target is not asked), each (host, path) once', async () => {
  const old = closure([[sp('hello-2.10'), 10]]);
  const neu = closure([[sp('hello-2.12'), 15]]);
  const target = fakeHost('web-1', { '/nix/store/old': old });
  const local = fakeHost('local', { '/nix/store/new': neu });
  const reader = new ClosureReader();
  const c = await compareNode(reader, { node: 'web-1', from: '/nix/store/old', to: '/nix/store/new', target, newHost: local });
  assert.equal(c.kind, 'diff');
  assert.deepEqual(c.kind === 'diff' && c.diff.diff.changed, [{ name: 'hello', before: ['2.10'], after: ['2.12'], sizeDelta: 5 }]);
  await compareNode(reader, { node: 'web-2', to: '/nix/store/new', target: fakeHost('web-2', {}), newHost: local });
  assert.equal(local.calls, 1, 'the same system on the same host is read once');
  const absent = await compareNode(new ClosureReader(), { node: 'web-1', from: '/nix/store/old', to: '/nix/store/other', target, newHost: local });
  assert.deepEqual(absent, { kind: 'new-absent' });
  assert.equal(target.calls, 1, 'not asked when the new system is absent');
  const gone = await compareNode(new ClosureReader(), { node: 'web-1', from: '/nix/store/gc-ed', to: '/nix/store/new', target, newHost: local });
  assert.deepEqual(gone, { kind: 'current-absent', path: '/nix/store/gc-ed' });
  // The target itself holds the new system it runs: one read serves both sides.
  const self = fakeHost('web-3', { '/nix/store/new': neu });
  const same = await compareNode(new ClosureReader(), { node: 'web-3', from: '/nix/store/new', to: '/nix/store/new', target: self, newHost: self });
  assert.equal(self.calls, 1);
  assert.deepEqual(same.kind === 'diff' && [same.diff.diff.added, same.diff.diff.changed, same.diff.diff.sizeAfter - same.diff.diff.sizeBefore], [[], [], 0]);
  // The target holds both the new system and the one it runs: one round trip reads both closures.
  const both = fakeHost('web-4', { '/nix/store/old': old, '/nix/store/new': neu });
  const mixed = await compareNode(new ClosureReader(), { node: 'web-4', from: '/nix/store/old', to: '/nix/store/new', target: both, newHost: both });
  assert.deepEqual(mixed.kind === 'diff' && mixed.diff.diff.changed, [{ name: 'hello', before: ['2.10'], after: ['2.12'], sizeDelta: 5 }]);
  assert.equal(both.calls, 1, 'both closures in one call');
  const bothGone = await compareNode(new ClosureReader(), { node: 'web-4', from: '/nix/store/gc-ed', to: '/nix/store/new', target: both, newHost: both });
  assert.deepEqual(bothGone, { kind: 'current-absent', path: '/nix/store/gc-ed' });
  const newGone = await compareNode(new ClosureReader(), { node: 'web-4', from: '/nix/store/old', to: '/nix/store/other', target: both, newHost: both });
  assert.deepEqual(newGone, { kind: 'new-absent' });
});

test('messages: closure read failures, absent systems, plan notes, the plan line, diff build refused', async () => {
  const failing = fakeHost('web-1', {}, { failed: true, exitCode: 1, stderr: "error: path '/nix/store/x' is not valid" });
  await assert.rejects(readClosures(failing, ['/nix/store/x'])[0]!, {
    name: 'ClosureReadError', message: "cannot read the closure of /nix/store/x on web-1: exit 1: error: path '/nix/store/x' is not valid",
  });
  // One call for two systems that fails at the second: the first answer stands, the failure names the second.
  const half = fakeHost('web-2', { '/nix/store/new': closure([[sp('hello-2.12'), 15]]) }, { failed: true, exitCode: 1, stderr: 'error: disk I/O error' }, '/nix/store/old');
  const [first, second] = readClosures(half, ['/nix/store/new', '/nix/store/old']);
  assert.equal((await first!).present, true);
  await assert.rejects(second!, { name: 'ClosureReadError', message: 'cannot read the closure of /nix/store/old on web-2: exit 1: error: disk I/O error' });
  await assert.rejects(compareNode(new ClosureReader(), { node: 'web-2', from: '/nix/store/old', to: '/nix/store/new', target: half, newHost: half }), {
    message: 'cannot read the closure of /nix/store/old on web-2: exit 1: error: disk I/O error',
  });
  const down = fakeHost('web-2', {}, { failed: true, exitCode: 255, stderr: 'Connection closed' });
  const [x, y] = readClosures(down, ['/nix/store/new', '/nix/store/old']);
  for (const answer of [x!, y!]) await assert.rejects(answer, { message: 'cannot read the closure of /nix/store/new on web-2: exit 255: Connection closed' });
  assert.equal(newSystemAbsent('/nix/store/n', 'builder:big'), 'the new system /nix/store/n is not in the store of builder:big');
  assert.equal(currentSystemAbsent('/nix/store/o'), 'its current system /nix/store/o is not in its store');
  assert.equal(notBuiltYet('local'), 'not built yet on local (fleet diff builds it)');
  assert.equal(cannotCompare('exit 1'), 'cannot compare: exit 1');
  const to = `/nix/store/${'n'.repeat(32)}-sys`;
  const plan = { goal: 'switch' as const, builds: [], nodes: [
    { name: 'web-1', drvPath: `${to}.drv`, outPath: to, to: { system: to }, copy: { kind: 'from-local' as const }, activate: true, reason: 'switch needed' },
    { name: 'web-2', drvPath: `${to}.drv`, outPath: to, to: { system: to }, copy: { kind: 'from-local' as const }, activate: true, reason: 'switch needed' },
  ] };
  const lines = formatPlan(plan, { 'web-1': '1 changed, 1 added, +12.3 MiB' }).split('\n');
  assert.deepEqual(lines.filter((l) => l.includes('diff:')), ['         diff: 1 changed, 1 added, +12.3 MiB']);
  assert.equal(lines.indexOf('         diff: 1 changed, 1 added, +12.3 MiB'), lines.findIndex((l) => l.startsWith('  web-1')) + 2, 'under its node');
  assert.equal(formatPlan(plan), formatPlan(plan, {}), 'no notes: the plan as before');

  const out = new PassThrough();
  const err = new PassThrough();
  let stderr = '';
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await runCli(['node', 'fleet', '-f', '/nonexistent/fleet.yaml', 'diff', 'build'], { stdout: out, stderr: err, env: {}, cwd: '/' }, new AbortController().signal);
  assert.equal(code, 2);
  assert.equal(stderr, 'fleet: fleet diff compares with what the targets run, and goal build asks no target: use switch, boot, test, dry-activate or push\n');
});
