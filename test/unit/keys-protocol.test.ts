// The pure parts of keys: the framing fleet writes on stdin, the replies it reads, which keys differ, what status says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { inspect } from 'node:util';
import type { ResolvedKey } from '../../src/config/types.js';
import { compareKeys, describeChange, keyHash, keysStatus, missingAccounts, parseReadReply, parseWriteReply, readRequest, writeRequest, type ReadReply } from '../../src/keys/protocol.js';
import { Secret, type LoadedKey } from '../../src/keys/sources.js';
import { withKeys, type NodeStatus } from '../../src/status/classify.js';

const SALT = 'ab'.repeat(32);
const key = (name: string, extra: Partial<ResolvedKey> = {}): ResolvedKey => ({
  name, source: { kind: 'env', name: 'X' }, destDir: '/run/keys', path: `/run/keys/${name}`, user: 'root', group: 'root', permissions: 0o600, uploadAt: 'pre-activation', ...extra,
});
const loaded = (k: ResolvedKey, text: string | Buffer): LoadedKey => ({ key: k, content: new Secret(Buffer.isBuffer(text) ? text : Buffer.from(text)) });
const reply = (lines: string[]): ReadReply => parseReadReply(`${lines.join('\n')}\nsalt=${SALT}\ndone\n`)!;
const fileLine = (k: ResolvedKey, content: string, mode = '600', user = 'root', group = 'root') => `key ${keyHash(SALT, Buffer.from(content))} ${mode} ${user} ${group} ${k.path}`;

test('a secret prints, inspects and serialises as <secret>; its bytes only on request', () => {
  const s = new Secret(Buffer.from('hunter2'));
  assert.equal(`${String(s)} ${JSON.stringify({ s })} ${inspect({ s })}`, '<secret> {"s":"<secret>"} { s: <secret> }');
  assert.equal(s.bytes.toString(), 'hunter2');
  assert.equal(s.length, 7);
});

test('the salted hash is sha256 of the salt text followed by the content, as keys.sh computes it with sha256sum', () => {
  const content = 'hunter2\n';
  const shell = execFileSync('sh', ['-c', 'printf %s "$1" | sha256sum', 'sh', `${SALT}${content}`], { encoding: 'utf8' }).split(' ')[0];
  assert.equal(keyHash(SALT, Buffer.from(content)), shell);
  assert.notEqual(keyHash(SALT, Buffer.from(content)), keyHash('cd'.repeat(32), Buffer.from(content)), 'another node\'s salt, another hash');
});

test('the read request names path, user and group per key; no content', () => {
  assert.equal(readRequest([key('a'), key('b c', { user: 'nginx', group: 'web' })]), 'want root root /run/keys/a\nwant nginx web /run/keys/b c\nend\n');
});

test('the write request: a header per changed key, then exactly its bytes (binary, no newline added); keep and hold lines; end', () => {
  const bin = Buffer.from([0, 10, 255, 0x65]);
  const body = writeRequest([loaded(key('a', { permissions: 0o640, group: 'keys' }), bin), loaded(key('é'), 'ü\n')], [key('k')], [key('h')]);
  const expected = Buffer.concat([
    Buffer.from('put 4 0640 root keys /run/keys/a\n'), bin,
    Buffer.from('put 3 0600 root root /run/keys/é\n'), Buffer.from('ü\n'),
    Buffer.from('keep 0 - - - /run/keys/k\nhold 0 - - - /run/keys/h\nend 0 - - - -\n'),
  ]);
  assert.deepEqual(body, expected, 'the length counts bytes (ü is two)');
});

test('parseReadReply: files, stale entries, missing accounts and the salt; nothing without `done`', () => {
  const r = parseReadReply(`key ${'0'.repeat(64)} 640 root keys /run/keys/a b\nmissing /run/keys/m\nother /run/keys/o\ndir /run/keys/d\nstale /run/keys/old one\nnouser nginx\nnogroup web\nsalt=${SALT}\ndone\n`)!;
  assert.deepEqual([...r.files], [
    ['/run/keys/a b', { kind: 'file', hash: '0'.repeat(64), mode: 0o640, user: 'root', group: 'keys' }],
    ['/run/keys/m', { kind: 'missing' }], ['/run/keys/o', { kind: 'other' }], ['/run/keys/d', { kind: 'dir' }],
  ]);
  assert.deepEqual([r.stale, [...r.noUsers], [...r.noGroups], r.salt], [['/run/keys/old one'], ['nginx'], ['web'], SALT]);
  assert.equal(parseReadReply('missing /run/keys/m\nsalt=\n'), undefined, 'cut short');
  assert.equal(parseReadReply('salt=\ndone\n')!.salt, '', 'no salt yet');
});

test('compareKeys: current only with the same hash, mode, user and group; missing, other and unsalted are changed', () => {
  const [a, b, c, d, e, f, g] = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((n) => key(n, n === 'b' ? { permissions: 0o640 } : {}));
  const r = reply([fileLine(a!, 'A'), fileLine(b!, 'B', '600'), fileLine(c!, 'old'), fileLine(d!, 'D', '600', 'nginx'), `missing ${e!.path}`, `other ${f!.path}`, fileLine(g!, 'G', '600', 'root', 'keys'), 'stale /run/keys/gone']);
  const change = compareKeys([loaded(a!, 'A'), loaded(b!, 'B'), loaded(c!, 'new'), loaded(d!, 'D'), loaded(e!, 'E'), loaded(f!, 'F'), loaded(g!, 'G')], r);
  assert.deepEqual(change.unchanged.map((l) => l.key.name), ['a']);
  assert.deepEqual(change.changed.map((l) => l.key.name), ['b', 'c', 'd', 'e', 'f', 'g'], 'mode, content, user, missing, other, group');
  assert.deepEqual(change.removed, ['/run/keys/gone']);
  const unsalted = parseReadReply(`${fileLine(a!, 'A')}\nsalt=\ndone\n`)!;
  assert.deepEqual(compareKeys([loaded(a!, 'A')], unsalted).changed.length, 1, 'without a salt nothing can be current');
  assert.equal(describeChange({ changed: 2, unchanged: 28, removed: 0 }), '2 changed, 28 unchanged');
  assert.equal(describeChange({ changed: 0, unchanged: 3, removed: 1 }), '0 changed, 3 unchanged, 1 removed');
});

test('missingAccounts: one line per key, naming the key and every account it lacks', () => {
  const r = { noUsers: new Set(['nginx']), noGroups: new Set(['web', 'keys']) };
  assert.deepEqual(missingAccounts([key('tls', { user: 'nginx', group: 'web' }), key('ok'), key('wg', { group: 'keys' })], r, 'web-1'), [
    'key `tls`: user `nginx` and group `web` do not exist on web-1',
    'key `wg`: group `keys` does not exist on web-1',
  ]);
});

test('parseWriteReply: what was written, removed and left; refusals; done', () => {
  const w = parseWriteReply('wrote /run/keys/a\nremoved /run/keys/old\nleft /run/keys/mine\nnouser x\nnogroup y\nbaddir /tmp\ndir /run/keys/d\ndone\n');
  assert.deepEqual(w, { done: true, wrote: ['/run/keys/a'], removed: ['/run/keys/old'], left: ['/run/keys/mine'], noUsers: new Set(['x']), noGroups: new Set(['y']), badDirs: ['/tmp'], dirs: ['/run/keys/d'] });
});

test('status: keys-missing and keys-outdated only for a node running the desired system; any other state keeps its word', () => {
  const [a, b, c] = ['a', 'b', 'c'].map((n) => key(n));
  const status = keysStatus([loaded(a!, 'A'), loaded(b!, 'B'), loaded(c!, 'C')], reply([fileLine(a!, 'A'), `missing ${b!.path}`, fileLine(c!, 'old'), 'stale /run/keys/gone']));
  assert.deepEqual(status, { current: 1, missing: ['b'], outdated: ['c'], stale: ['/run/keys/gone'] });
  const base: NodeStatus = { node: 'web-1', state: 'in-sync', reason: 'runs the desired system', desired: '/nix/store/x' };
  const missing = withKeys(base, status);
  assert.deepEqual([missing.state, missing.reason], ['keys-missing', 'runs the desired system, but keys are missing: b (fleet keys uploads them)']);
  const outdated = withKeys(base, { ...status, missing: [] });
  assert.deepEqual([outdated.state, outdated.reason], ['keys-outdated', 'runs the desired system, but keys differ: c; keys no longer wanted: /run/keys/gone (fleet keys updates them)']);
  assert.equal(withKeys(base, { current: 3, missing: [], outdated: [], stale: [] }).state, 'in-sync');
  assert.equal(withKeys({ ...base, state: 'outdated' }, status).state, 'outdated');
  assert.deepEqual(withKeys(base, { current: 0, missing: [], outdated: [], stale: [], error: 'sudo: a password is required' }), { ...base, keys: { current: 0, missing: [], outdated: [], stale: [], error: 'sudo: a password is required' } });
  assert.deepEqual(withKeys(base, undefined), base);
});
