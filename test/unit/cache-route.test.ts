process.env.TZ = 'UTC'; // the line renderer's clock column is local time; pin it
// The cache route (issue 20): `cache` and `copy` in the fleet file, which nodes take the route, what `fleet plan`
// says, and the commands and messages of the upload and the targets' fetch (pure: no Nix runs here).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyseFleet, parseFleet } from '../../src/config/index.js';
import { withCopyFlag } from '../../src/config/cache.js';
import type { CacheConfig, ResolvedNode } from '../../src/config/types.js';
import { UsageError } from '../../src/errors.js';
import { formatPlan } from '../../src/plan/format.js';
import { createPlan } from '../../src/plan/plan.js';
import type { TargetState } from '../../src/agent/state.js';
import { explainFetchFailure, fetchArgv, fetchedPaths } from '../../src/cache/fetch.js';
import { uploadClosure, uploadCommands, uploadedPaths } from '../../src/cache/upload.js';
import type { Host } from '../../src/transport/host.js';
import type { CommandResult } from '../../src/transport/run.js';
import { recordedCacheRun, renderPlain } from './ui-fixture.js';
import { resolvedNode } from '../resolved-node.js';

const head = 'version: 1\nnix:\n  file: ./hive.nix\n';
const KEY = 'cache.lan-1:hoHSp5kMGYB3aBAfoXXGzez4oiydAsFQnIsNvu/BRCg=';
const cacheYaml = `cache:\n  url: file:///srv/nix-cache\n  substituter: http://cache.lan:8080\n  publicKey: ${KEY}\n  signingKey: ./keys/cache.sec\n`;

function diagnose(yaml: string): string[] {
  return analyseFleet(yaml, '/srv/fleet.yaml').diagnostics.map((d) => `${d.line}:${d.col} ${d.severity}: ${d.message}`);
}

test('cache and copy resolve: a node\'s own copy, else its first tag\'s, else defaults; the key path made absolute', () => {
  const fleet = parseFleet(`${head}${cacheYaml}defaults:\n  copy: cache\ntagDefaults:\n  edge:\n    copy: cache!\n  lab:\n    copy: push\n` +
    'nodes:\n  a:\n    host: a\n  b:\n    host: b\n    tags: [edge, lab]\n  c:\n    host: c\n    tags: [edge]\n    copy: push\n', '/srv/fleet.yaml');
  const cache: CacheConfig = { url: 'file:///srv/nix-cache', substituter: 'http://cache.lan:8080', publicKey: KEY, signingKey: '/srv/keys/cache.sec' };
  assert.deepEqual(fleet.cache, cache);
  assert.deepEqual(fleet.nodes.a!.copy, { route: 'cache', strict: false, cache });
  assert.deepEqual(fleet.nodes.b!.copy, { route: 'cache', strict: true, cache });
  assert.deepEqual(fleet.nodes.c!.copy, { route: 'push' });
});

test('without copy every node is pushed to; the substituter defaults to the url', () => {
  const fleet = parseFleet(`${head}cache:\n  url: file:///srv/nix-cache\n  publicKey: ${KEY}\nnodes:\n  a:\n    host: a\n`, '/srv/fleet.yaml');
  assert.deepEqual(fleet.nodes.a!.copy, { route: 'push' });
  assert.equal(fleet.cache!.substituter, 'file:///srv/nix-cache');
  assert.equal(fleet.cache!.signingKey, undefined);
});

test('copy: cache without a cache section is an error at its value, wherever it is set', () => {
  const out = diagnose(`${head}defaults:\n  copy: cache\ntagDefaults:\n  edge:\n    copy: cache!\nnodes:\n  a:\n    host: a\n    tags: [edge]\n    copy: push\n  b:\n    host: b\n`);
  assert.deepEqual(out, [
    '5:9 error: `copy: cache` needs a binary cache: add a top-level `cache` with its `url` and `publicKey`, or use `copy: push`',
    '8:11 error: `copy: cache!` needs a binary cache: add a top-level `cache` with its `url` and `publicKey`, or use `copy: push`',
  ]);
});

test('the schema refuses an unknown route, a key that is not a Nix public key, a url that is not a store URI', () => {
  assert.match(diagnose(`${head}nodes:\n  a:\n    host: a\n    copy: rsync\n`).join('\n'), /^7:11 error: .*copy.*push.*cache/m);
  assert.match(diagnose(`${head}cache:\n  url: file:///c\n  publicKey: nokey\nnodes:\n  a:\n    host: a\n`).join('\n'), /^6:14 error: .*must be a Nix public key/m);
  assert.match(diagnose(`${head}cache:\n  url: /srv/c\n  publicKey: ${KEY}\nnodes:\n  a:\n    host: a\n`).join('\n'), /^5:8 error: .*must be a Nix store URI/m);
  assert.match(diagnose(`${head}cache:\n  url: file:///c\nnodes:\n  a:\n    host: a\n`).join('\n'), /publicKey/);
});

test('--copy overrides every node; cache without a cache section is a usage error', () => {
  const fleet = parseFleet(`${head}${cacheYaml}nodes:\n  a:\n    host: a\n  b:\n    host: b\n    copy: cache\n`, '/srv/fleet.yaml');
  assert.deepEqual(Object.values(withCopyFlag(fleet, 'push').nodes).map((n) => n.copy.route), ['push', 'push']);
  assert.deepEqual(Object.values(withCopyFlag(fleet, 'cache!').nodes).map((n) => n.copy.route === 'cache' && n.copy.strict), [true, true]);
  assert.equal(withCopyFlag(fleet, undefined), fleet);
  const bare = parseFleet(`${head}nodes:\n  a:\n    host: a\n`, '/srv/fleet.yaml');
  assert.throws(() => withCopyFlag(bare, 'cache'), (e: unknown) => e instanceof UsageError && /--copy cache needs a binary cache: \/srv\/fleet.yaml has no top-level `cache`/.test(e.message));
  assert.equal(withCopyFlag(bare, 'push').nodes.a!.copy.route, 'push');
});

const cache: CacheConfig = { url: 'file:///srv/nix-cache', substituter: 'http://cache.lan:8080', publicKey: KEY, signingKey: '/srv/keys/cache.sec' };
const onCache = (name: string, strict = false, extra: Partial<ResolvedNode> = {}) => resolvedNode(name, { copy: { route: 'cache', strict, cache }, ...extra });
const fresh: TargetState = { hasOut: false, systemd: false, currentSystem: '/nix/store/o-old', generation: 1, profileLink: 'system-1-link' };
const outOf = (n: string) => `/nix/store/${n.padEnd(32, '0')}-nixos-system`;

function plan(nodes: ResolvedNode[], outs: string[], states: TargetState[] = nodes.map(() => fresh)) {
  return createPlan({
    goal: 'switch', force: false, nodes, builders: {},
    evals: Object.fromEntries(nodes.map((n, i) => [n.name, { drvPath: `${outs[i]!}.drv`, outPath: outs[i]! }])),
    targets: Object.fromEntries(nodes.map((n, i) => [n.name, states[i]!])),
  });
}

test('route selection: cache nodes fetch (a build host uploads what it built), push nodes are copied to, present ones are not uploaded', () => {
  const nodes = [onCache('a'), onCache('b', true), resolvedNode('c'), onCache('d'), onCache('e', false, { buildHost: { kind: 'host', spec: { host: 'big' } } })];
  const p = plan(nodes, [outOf('x'), outOf('x'), outOf('y'), outOf('z'), outOf('w')], [fresh, fresh, fresh, { ...fresh, hasOut: true }, fresh]);
  assert.deepEqual(p.nodes.map((n) => n.copy), [
    { kind: 'cache', strict: false, substituter: 'http://cache.lan:8080', publicKey: KEY },
    { kind: 'cache', strict: true, substituter: 'http://cache.lan:8080', publicKey: KEY },
    { kind: 'from-local' },
    { kind: 'none', reason: 'present' },
    { kind: 'cache', strict: false, substituter: 'http://cache.lan:8080', publicKey: KEY, buildJob: 'host:big' },
  ]);
  // Each closure once, whatever the number of nodes that need it.
  assert.deepEqual(p.upload, { url: 'file:///srv/nix-cache', closures: [outOf('w'), outOf('x')] });
  assert.equal(plan([resolvedNode('c')], [outOf('y')]).upload, undefined);
});

test('fleet plan shows the route per node and what will be uploaded', () => {
  const text = formatPlan(plan([onCache('web-1'), onCache('web-2', true), resolvedNode('db'), onCache('edge', false, { buildHost: { kind: 'host', spec: { host: 'big' } } })], [outOf('x'), outOf('x'), outOf('y'), outOf('z')]));
  const lines = text.split('\n');
  assert.ok(lines.includes('  web-1  activate  fetch from cache http://cache.lan:8080 (push if it cannot)  switch needed'), text);
  assert.ok(lines.includes('  web-2  activate  fetch from cache http://cache.lan:8080 (strict: no push)  switch needed'), text);
  assert.ok(lines.includes('  db     activate  copy from local  switch needed'), text);
  assert.ok(lines.includes('  edge   activate  fetch from cache http://cache.lan:8080 (uploaded from host:big; push if it cannot)  switch needed'), text);
  const at = lines.indexOf('upload: 2 closure(s) to file:///srv/nix-cache, once, before any node fetches (paths it has are skipped)');
  assert.ok(at > 0, text);
  assert.deepEqual(lines.slice(at + 1, at + 3), [`  ${outOf('x')}`, `  ${outOf('z')}`]);
});

test('the upload signs through the store\'s secret-key where it has one, else with nix store sign first; the key is named, never read', () => {
  const c = uploadCommands(cache, outOf('x'));
  assert.equal(c.sign, undefined);
  assert.deepEqual(c.copy, ['nix', '--option', 'extra-experimental-features', 'nix-command', 'copy', '--to', 'file:///srv/nix-cache?secret-key=/srv/keys/cache.sec', outOf('x')]);
  const s3 = uploadCommands({ ...cache, url: 's3://bucket?region=eu-west-1' }, outOf('x'));
  assert.equal(s3.copy[6], 's3://bucket?region=eu-west-1&secret-key=/srv/keys/cache.sec');
  const ssh = uploadCommands({ ...cache, url: 'ssh://cache-host?remote-store=file:///srv/nix-cache' }, outOf('x'));
  assert.deepEqual(ssh.sign, ['nix', '--option', 'extra-experimental-features', 'nix-command', 'store', 'sign', '--key-file', '/srv/keys/cache.sec', '--recursive', outOf('x')]);
  assert.equal(ssh.copy[6], 'ssh://cache-host?remote-store=file:///srv/nix-cache');
  // On a build host fleet names no key: the deployer's key file is not there (its own nix.conf or url signs).
  const remote = uploadCommands(cache, outOf('x'), false);
  assert.equal(remote.sign, undefined);
  assert.equal(remote.copy[6], 'file:///srv/nix-cache');
  const unsigned = uploadCommands({ ...cache, signingKey: undefined }, outOf('x'));
  assert.equal(unsigned.sign, undefined);
  assert.equal(unsigned.copy[6], 'file:///srv/nix-cache');
});

test('uploaded and fetched paths are read from Nix\'s own lines', () => {
  const p = outOf('x');
  assert.deepEqual(uploadedPaths(`copying 1 paths...\ncopying path '${p}' to 'file:///srv/nix-cache'...\ncopying path '${p}' (120 bytes, compressed -3.3% in 0 ms) to binary cache\n`), [p]);
  assert.deepEqual(fetchedPaths(`these paths will be fetched\ncopying path '${p}' from 'http://cache.lan:8080'...\n${p}\n`), [p]);
  assert.deepEqual(fetchArgv(p, cache).slice(0, 7), ['nix-store', '--realise', p, '--option', 'substituters', 'http://cache.lan:8080', '--option']);
  assert.ok(!fetchArgv(p, cache).some((a) => a.includes('cache.sec')), 'the signing key never goes to a target');
});

test('a target that cannot fetch says why and what to change', () => {
  const p = outOf('x');
  const fail = (stderr: string) => explainFetchFailure({ stdout: '', stderr, exitCode: 1, timedOut: false, canceled: false }, cache, 'deploy');
  assert.equal(fail(`warning: the substitute for '${p}' from 'http://cache.lan:8080' is not signed by any of the keys in 'trusted-public-keys'\nerror: build of '${p}' failed`),
    `the cache's ${p} is not signed by the cache's key \`cache.lan-1\`: the target refused it (unsigned, or signed by another key)`);
  assert.equal(fail(`copying path '${p}' from 'http://cache.lan:8080'...\nerror: NAR for '${p}' fetched from 'http://cache.lan:8080' is incomplete`),
    `the cache's ${p} does not match its signed hash: the target refused it (tampered or damaged in the cache)`);
  assert.equal(fail("warning: unable to download 'http://cache.lan:8080/nix-cache-info': Couldn't connect to server (7)\ndon't know how to build these paths:"),
    "cannot reach the cache at http://cache.lan:8080 (Couldn't connect to server (7))");
  assert.equal(fail("warning: ignoring untrusted substituter 'http://cache.lan:8080'\ndon't know how to build these paths:"),
    "`deploy` is not a trusted user of the target's Nix, so it may not name http://cache.lan:8080: add `trusted-users = deploy` to the target's nix.conf, " +
    `or put the cache there yourself (\`extra-substituters = http://cache.lan:8080\`, \`extra-trusted-public-keys = ${KEY}\`)`);
  assert.equal(fail(`don't know how to build these paths:\n  ${p}`), 'http://cache.lan:8080 does not have the system (or a path of it) the target needs');
});

/** A deployer whose commands answer from a table (pure logic: which command ran, what fleet makes of its answer). */
function fakeHost(answers: Record<string, Partial<CommandResult>>): Host & { ran: string[][] } {
  const ran: string[][] = [];
  const run = async (argv: string[]): Promise<CommandResult> => {
    ran.push(argv);
    const key = Object.keys(answers).find((k) => argv.join(' ').includes(k));
    const a = key === undefined ? {} : answers[key]!;
    return { argv, exitCode: a.failed ? 1 : 0, stdout: '', stderr: '', failed: false, timedOut: false, canceled: false, message: '', ...a };
  };
  return { label: 'local', isLocal: true, run, runFresh: run, connect: async () => undefined, close: async () => undefined, closeSync: () => undefined, ran };
}

test('an upload that fails says where to and why; a signing that fails names the key file, never its content', async () => {
  const p = outOf('x');
  const down = fakeHost({ ' copy ': { failed: true, exitCode: 1, stderr: "error: cannot open '/srv/nix-cache/nix-cache-info': Permission denied" } });
  const r = await uploadClosure(down, cache, p);
  assert.equal(r.ok, false);
  assert.equal(r.error, "upload to file:///srv/nix-cache failed: exit 1: error: cannot open '/srv/nix-cache/nix-cache-info': Permission denied");
  const ssh = { ...cache, url: 'ssh://cache-host' };
  const badKey = fakeHost({ ' sign ': { failed: true, exitCode: 1, stderr: "error: opening file '/srv/keys/cache.sec': No such file or directory" } });
  const s = await uploadClosure(badKey, ssh, p);
  assert.equal(s.error, "signing with /srv/keys/cache.sec failed: exit 1: error: opening file '/srv/keys/cache.sec': No such file or directory");
  assert.equal(badKey.ran.length, 1, 'nothing uploaded unsigned');
  const ok = fakeHost({ ' copy ': { stderr: `copying path '${p}' to 'file:///srv/nix-cache'...\n` }, '--requisites': { stdout: `${p}\n${outOf('y')}\n` }, '--size': { stdout: '4096\n' } });
  assert.deepEqual(await uploadClosure(ok, cache, p), { ok: true, paths: [p], skipped: 1, bytes: 4096, log: [`copying path '${p}' to 'file:///srv/nix-cache'...`] });
});

test('the line renderer says what was uploaded, fetched, and which node was pushed to instead', async () => {
  const lines = await renderPlain(recordedCacheRun);
  for (const expected of [
    '12:00:02 fleet  uploaded      12 paths, 30.0 MiB to file:///srv/nix-cache (3 already there)',
    '12:00:03 web-1  fetched       12 paths, 30.0 MiB from the cache',
    "12:00:03 web-2  warning       pushed instead of fetched from the cache: cannot reach the cache at http://cache.lan:8080 (Couldn't connect to server (7))",
    '12:00:04 web-2  copied        12 paths, 30.0 MiB',
  ]) assert.ok(lines.includes(expected), `missing line: ${expected}\n${lines.join('\n')}`);
});
