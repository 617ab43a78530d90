// src/keys/keys.sh as fleet runs it (`sh -c`, the embedded text), on this machine through a local Target: what it
// writes (owner, mode, content), what it leaves alone (inode, mtime), what it removes and what it refuses.
// It chowns files and insists on root-owned directories, so it needs root, as the lab does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync, chmodSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { ResolvedKey } from '../../src/config/types.js';
import { compareKeys, keyHash } from '../../src/keys/protocol.js';
import { keysArgv, readKeys, writeKeys } from '../../src/keys/remote.js';
import { KEYS_SCRIPT } from '../../src/keys/script.js';
import { Secret, type LoadedKey } from '../../src/keys/sources.js';
import { createLocalHost } from '../../src/transport/local.js';
import { isCi } from '../../src/ui/choose.js';
import { renderModule, scripts } from '../../scripts/gen-scripts.js';
import { resolvedNode } from '../resolved-node.js';
import { targetOver } from '../target.js';

const root = process.getuid?.() === 0;
const skip = root ? false : isCi(process.env) ? (() => { throw new Error('keys.sh tests need root (chown) in CI'); })() : 'keys.sh tests need root (chown)';

test('the embedded key helper is src/keys/keys.sh as scripts/gen-scripts.ts renders it (npm run gen:scripts)', () => {
  assert.equal(readFileSync(scripts.keys.module, 'utf8'), renderModule(scripts.keys, readFileSync(scripts.keys.sh, 'utf8')));
});

test('src/keys/keys.sh passes shellcheck as POSIX sh, every warning an error', () => {
  const r = execFileSync('shellcheck', ['-s', 'sh', scripts.keys.sh], { encoding: 'utf8' });
  assert.equal(r, '');
});

/** A sandbox: a root-owned dir for keys and a state dir, a local Target whose stateDir is in it. */
function sandbox() {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-keys-'));
  const node = resolvedNode('local', { stateDir: join(dir, 'state') });
  const target = targetOver(createLocalHost(), node);
  const key = (name: string, extra: Partial<ResolvedKey> = {}): ResolvedKey => {
    const destDir = extra.destDir ?? join(dir, 'keys');
    return { name, source: { kind: 'env', name: 'X' }, destDir, path: join(destDir, name), user: 'root', group: 'root', permissions: 0o600, uploadAt: 'pre-activation', ...extra };
  };
  const loaded = (k: ResolvedKey, text: string | Buffer): LoadedKey => ({ key: k, content: new Secret(Buffer.isBuffer(text) ? text : Buffer.from(text)) });
  return { dir, target, key, loaded };
}

/** Uploads what differs, as the stages do; returns the names written. */
async function sync(s: ReturnType<typeof sandbox>, keys: LoadedKey[]): Promise<string[]> {
  const reply = await readKeys(s.target, keys.map((l) => l.key));
  const { changed, unchanged, removed } = compareKeys(keys, reply);
  if (changed.length > 0 || removed.length > 0) await writeKeys(s.target, changed, unchanged.map((l) => l.key));
  return changed.map((l) => l.key.name);
}

const stamp = (path: string) => {
  const s = statSync(path);
  return { ino: s.ino, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs };
};

test('first upload: content byte for byte (binary, no trailing newline), owner, group and mode; the state dir holds hashes only', { skip }, async () => {
  const s = sandbox();
  const bin = Buffer.from([0, 1, 2, 255, 10, 0]);
  const keys = [s.loaded(s.key('tls.key', { user: 'nobody', group: 'nogroup', permissions: 0o440 }), 'S3CRET-tls'), s.loaded(s.key('bin'), bin), s.loaded(s.key('with space'), '')];
  assert.deepEqual(await sync(s, keys), ['tls.key', 'bin', 'with space']);
  const tls = statSync(join(s.dir, 'keys', 'tls.key'));
  assert.equal(readFileSync(join(s.dir, 'keys', 'tls.key'), 'utf8'), 'S3CRET-tls');
  assert.deepEqual([tls.mode & 0o7777, execFileSync('stat', ['-c', '%U:%G', join(s.dir, 'keys', 'tls.key')], { encoding: 'utf8' }).trim()], [0o440, 'nobody:nogroup']);
  assert.deepEqual(readFileSync(join(s.dir, 'keys', 'bin')), bin);
  assert.equal(readFileSync(join(s.dir, 'keys', 'with space'), 'utf8'), '');
  assert.deepEqual(readdirSync(join(s.dir, 'keys')).sort(), ['bin', 'tls.key', 'with space'], 'no temporary file left');
  const state = join(s.dir, 'state', 'keys');
  assert.equal(statSync(state).mode & 0o777, 0o700);
  const salt = readFileSync(join(state, 'salt'), 'utf8').trim();
  assert.match(salt, /^[0-9a-f]{64}$/);
  const manifest = readFileSync(join(state, 'manifest'), 'utf8');
  assert.equal(manifest.includes('S3CRET'), false);
  assert.ok(manifest.includes(`${keyHash(salt, Buffer.from('S3CRET-tls'))} ${join(s.dir, 'keys', 'tls.key')}\n`), manifest);
});

test('a second upload with nothing changed writes nothing: same inode, mtime and ctime; one changed key of three is swapped, the others untouched', { skip }, async () => {
  const s = sandbox();
  const [a, b, c] = ['a', 'b', 'c'].map((n) => s.key(n));
  await sync(s, [s.loaded(a!, 'A1'), s.loaded(b!, 'B1'), s.loaded(c!, 'C1')]);
  const before = [a, b, c].map((k) => stamp(k!.path));
  await new Promise((r) => setTimeout(r, 20)); // a rewrite would show in the times
  assert.deepEqual(await sync(s, [s.loaded(a!, 'A1'), s.loaded(b!, 'B1'), s.loaded(c!, 'C1')]), []);
  assert.deepEqual([a, b, c].map((k) => stamp(k!.path)), before);
  assert.deepEqual(await sync(s, [s.loaded(a!, 'A1'), s.loaded(b!, 'B2'), s.loaded(c!, 'C1')]), ['b']);
  const after = [a, b, c].map((k) => stamp(k!.path));
  assert.deepEqual([after[0], after[2]], [before[0], before[2]], 'a and c untouched');
  assert.notEqual(after[1]!.ino, before[1]!.ino, 'b is a new file, renamed into place');
  assert.equal(readFileSync(b!.path, 'utf8'), 'B2');
  // A mode change alone is a change too: the key is written again with its new mode.
  assert.deepEqual(await sync(s, [s.loaded({ ...a!, permissions: 0o640 }, 'A1'), s.loaded(b!, 'B2'), s.loaded(c!, 'C1')]), ['a']);
  assert.equal(statSync(a!.path).mode & 0o777, 0o640);
});

test('a key that left the fleet file is removed; one fleet did not write, or that changed since, is left alone', { skip }, async () => {
  const s = sandbox();
  const [a, b, c] = ['a', 'b', 'c'].map((n) => s.key(n, { destDir: n === 'c' ? join(s.dir, 'other') : join(s.dir, 'keys') }));
  await sync(s, [s.loaded(a!, 'A'), s.loaded(b!, 'B'), s.loaded(c!, 'C')]);
  writeFileSync(join(s.dir, 'keys', 'mine'), 'not fleet\'s');
  writeFileSync(b!.path, 'edited by hand');
  const reply = await readKeys(s.target, [a!]);
  assert.deepEqual(reply.stale.sort(), [b!.path, c!.path].sort());
  const w = await writeKeys(s.target, [], [a!]);
  assert.deepEqual([w.removed, w.left], [[c!.path], [b!.path]]);
  assert.deepEqual([existsSync(a!.path), existsSync(b!.path), existsSync(c!.path), existsSync(join(s.dir, 'keys', 'mine'))], [true, true, false, true]);
  assert.deepEqual((await readKeys(s.target, [a!])).stale, [], 'the manifest no longer lists them');
});

test('a user or group the machine does not have: nothing is written, the content is read past, each missing account named', { skip }, async () => {
  const s = sandbox();
  const good = s.key('good');
  const bad = s.key('bad', { user: 'fleet-no-such-user', group: 'fleet-no-such-group' });
  const reply = await readKeys(s.target, [good, bad]);
  assert.deepEqual([[...reply.noUsers], [...reply.noGroups]], [['fleet-no-such-user'], ['fleet-no-such-group']]);
  await assert.rejects(writeKeys(s.target, [s.loaded(good, 'G'), s.loaded(bad, 'B')], []), {
    message: 'no key was changed: key `bad`: user `fleet-no-such-user` and group `fleet-no-such-group` do not exist on local',
  });
  assert.equal(existsSync(good.path), false, 'not even the good key');
  assert.deepEqual(readdirSync(join(s.dir, 'keys')), [], 'no temporary file left');
});

test('a directory writable by others, or one in a key\'s place, is refused; nothing is written', { skip }, async () => {
  const s = sandbox();
  const open = join(s.dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  await assert.rejects(writeKeys(s.target, [s.loaded(s.key('k', { destDir: open }), 'K')], []), /is not a directory only root can write to/);
  assert.deepEqual(readdirSync(open), []);
  const k = s.key('k');
  mkdirSync(k.path, { recursive: true });
  assert.equal((await readKeys(s.target, [k])).files.get(k.path)?.kind, 'dir');
  await assert.rejects(writeKeys(s.target, [s.loaded(k, 'K')], []), /key `k`: .* is a directory on local/);
});

test('the script skips a sudo password line before its token, and refuses input cut short without touching anything', { skip }, async () => {
  const s = sandbox();
  const path = join(s.dir, 'keys', 'k');
  const run = (token: string, input: string) => execa('sh', keysArgv('write', token, join(s.dir, 'state')).slice(1), { input, reject: false });
  const ok = await run('T0K', `sudo-password\nT0K\nput 3 0600 root root ${path}\nabcend 0 - - - -\n`);
  assert.deepEqual([ok.exitCode, ok.stdout.split('\n'), readFileSync(path, 'utf8')], [0, [`wrote ${path}`, 'done'], 'abc']);
  const cut = await run('T0K', `T0K\nput 30 0600 root root ${path}\nxyz`);
  assert.equal(cut.exitCode, 5);
  assert.match(cut.stderr, /the content of .* ended early/);
  assert.equal(readFileSync(path, 'utf8'), 'abc', 'the old key stays');
  assert.deepEqual(readdirSync(join(s.dir, 'keys')), ['k'], 'no temporary file left');
  const noToken = await run('T0K', 'something else\n');
  assert.equal(noToken.exitCode, 5);
  assert.ok(KEYS_SCRIPT.length < 8000, 'the script rides in argv: small');
});
