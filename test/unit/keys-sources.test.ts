// Key sources on the deployer: a file, a command (stdin closed, in the fleet file's directory), an environment
// variable; each read once; a failure names the key and the source, never what a command printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResolvedKey, ResolvedNode } from '../../src/config/types.js';
import { UsageError } from '../../src/errors.js';
import { KeySourceError, loadKeys, loadFleetKeys, type LoadedKeys } from '../../src/keys/sources.js';
import { reportError } from '../../src/cli/main.js';
import { resolvedNode } from '../resolved-node.js';

const dir = mkdtempSync(join(tmpdir(), 'fleet-sources-'));
const key = (name: string, source: ResolvedKey['source']): ResolvedKey => ({
  name, source, destDir: '/run/keys', path: `/run/keys/${name}`, user: 'root', group: 'root', permissions: 0o600, uploadAt: 'pre-activation',
});
const node = (name: string, keys: ResolvedKey[]): ResolvedNode => resolvedNode(name, { keys });
const load = (nodes: ResolvedNode[], env: NodeJS.ProcessEnv = {}) => loadKeys(nodes, { env: { PATH: process.env.PATH, ...env }, cwd: dir });
const text = (keys: LoadedKeys, n: string) => keys.get(n)!.map((l) => [l.key.name, l.content.bytes.toString('utf8')]);

test('file, env and command: the bytes exactly (a command\'s trailing newline kept), per node; a node without keys is listed too', async () => {
  writeFileSync(join(dir, 'tls.key'), 'FILE-SECRET\n');
  writeFileSync(join(dir, 'print.sh'), 'printf "CMD-%s\\n" "$1"; [ -t 0 ] || read -r x || true\n');
  const keys = await load([
    node('a', [key('f', { kind: 'file', path: join(dir, 'tls.key') }), key('e', { kind: 'env', name: 'WG' }), key('c', { kind: 'command', argv: ['sh', './print.sh', 'x'] })]),
    node('b', []),
  ], { WG: 'ENV-SECRET' });
  assert.deepEqual(text(keys, 'a'), [['f', 'FILE-SECRET\n'], ['e', 'ENV-SECRET'], ['c', 'CMD-x\n']]);
  assert.deepEqual(keys.get('b'), []);
});

test('a source shared by keys of several nodes is read once', async () => {
  const counter = join(dir, 'count');
  writeFileSync(counter, '');
  const shared = key('s', { kind: 'command', argv: ['sh', '-c', `echo x >> ${counter}; printf shared`] });
  const keys = await load([node('a', [shared]), node('b', [shared]), node('c', [shared])]);
  assert.deepEqual(['a', 'b', 'c'].map((n) => text(keys, n)), [[['s', 'shared']], [['s', 'shared']], [['s', 'shared']]]);
  assert.equal(readFileSync(counter, 'utf8'), 'x\n');
});

test('a failing command: its exit code and how many stderr lines, never their text (they may hold the secret); exit 2', async () => {
  // What the command prints is the risk (a tool that echoes part of the secret), not its argv (in the fleet file, in git).
  writeFileSync(join(dir, 'fail.sh'), 'echo "partial SECRET-42" >&2; echo "gpg: decryption failed" >&2; printf SECRET-42; exit 3\n');
  const failing = key('wg', { kind: 'command', argv: ['sh', './fail.sh'] });
  const error = await load([node('web-1', [failing])]).then(() => assert.fail('no error'), (e: unknown) => e as Error);
  assert.ok(error instanceof KeySourceError && error instanceof UsageError);
  assert.equal(error.message, 'key `wg` of node `web-1`: command `sh ./fail.sh` failed (exit 3); its stderr (2 lines) is not shown, as it may hold the secret: run it yourself to see it');
  let stderr = '';
  const code = reportError(error, { stdout: process.stdout, stderr: { write: (s: string) => (stderr += s) } as unknown as NodeJS.WritableStream, env: {}, cwd: dir });
  assert.equal(code, 2);
  assert.equal(stderr.includes('SECRET-42'), false);
  assert.match(stderr, /^fleet: key `wg` of node `web-1`: command/);
});

test('stdin is closed: a command that reads it gets end of file at once, not a hang', async () => {
  const keys = await load([node('a', [key('k', { kind: 'command', argv: ['sh', '-c', 'if read -r x; then echo got; else printf eof; fi'] })])]);
  assert.deepEqual(text(keys, 'a'), [['k', 'eof']]);
});

test('a missing file, an unset variable and a command that does not exist are named with their key', async () => {
  const fails = async (k: ResolvedKey) => (await load([node('n', [k])]).then(() => '', (e: Error) => e.message));
  assert.equal(await fails(key('f', { kind: 'file', path: join(dir, 'nope') })), `key \`f\` of node \`n\`: file ${join(dir, 'nope')} does not exist`);
  assert.equal(await fails(key('d', { kind: 'file', path: dir })), `key \`d\` of node \`n\`: file ${dir} is a directory`);
  assert.equal(await fails(key('e', { kind: 'env', name: 'FLEET_UNSET_VARIABLE' })), 'key `e` of node `n`: environment variable FLEET_UNSET_VARIABLE is not set');
  assert.equal(await fails(key('c', { kind: 'command', argv: ['fleet-no-such-command', 'x'] })), `key \`c\` of node \`n\`: command \`fleet-no-such-command x\` was not found (run in ${dir})`);
});

test('loadFleetKeys: nothing to read for a fleet without keys; with keys, every selected node', async () => {
  const bare = { nodes: { a: node('a', []) }, dir };
  assert.equal(await loadFleetKeys(bare, [bare.nodes.a], {}), undefined);
  const some = { nodes: { a: node('a', []), b: node('b', [key('e', { kind: 'env', name: 'E' })]) }, dir };
  assert.deepEqual([...(await loadFleetKeys(some, [some.nodes.a, some.nodes.b], { E: 'x' }))!.keys()], ['a', 'b']);
});
