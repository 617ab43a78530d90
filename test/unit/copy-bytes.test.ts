// What a copy sent: the paths nix-copy-closure names in its output, sized by one `nix-store --query --size` where they
// came from (the `copy-done` event and --metrics-file's bytes).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copiedPaths, narBytes } from '../../src/transport/copy.js';
import type { Host } from '../../src/transport/host.js';
import type { CommandResult, RunOptions } from '../../src/transport/run.js';

const p = (name: string) => `/nix/store/${'a'.repeat(32)}-${name}`;

void test('copiedPaths: the paths nix-copy-closure said it copies (Nix 2.8 and later: one line per path on stderr)', () => {
  const stderr = `copying 2 paths...\ncopying path '${p('hello-2.12')}' to 'ssh://web-1'...\ncopying path '${p('nixos-system-web-1')}' to 'ssh://web-1'...\n`;
  assert.deepEqual(copiedPaths({ stdout: '', stderr }), [p('hello-2.12'), p('nixos-system-web-1')]);
  assert.deepEqual(copiedPaths({ stdout: '', stderr: 'copying 0 paths...\n' }), []);
  assert.deepEqual(copiedPaths({ stdout: `warning: copying path '${p('x')}' to 'ssh://y'`, stderr: '' }), [], 'only at the start of a line');
});

function fakeHost(answer: Partial<CommandResult>, seen: { argv?: string[]; input?: RunOptions['input'] }[]): Host {
  const run = async (argv: string[], options: RunOptions = {}): Promise<CommandResult> => {
    seen.push({ argv, ...(options.input !== undefined ? { input: options.input } : {}) });
    return { argv, exitCode: 0, stdout: '', stderr: '', failed: false, timedOut: false, canceled: false, message: '', ...answer };
  };
  return { label: 'local', isLocal: true, run, runFresh: run, connect: async () => {}, close: async () => {}, closeSync: () => {} };
}

void test('narBytes: one command with the paths on stdin; the sum of its sizes, or undefined when the answer does not fit', async () => {
  const seen: { argv?: string[]; input?: string }[] = [];
  assert.equal(await narBytes(fakeHost({ stdout: '1000\n2048\n' }, seen), [p('a'), p('b')]), 3048);
  assert.deepEqual(seen, [{ argv: ['xargs', 'nix-store', '--query', '--size'], input: `${p('a')}\n${p('b')}\n` }]);
  assert.equal(await narBytes(fakeHost({}, seen), []), 0, 'nothing copied: nothing asked');
  assert.equal(seen.length, 1);
  assert.equal(await narBytes(fakeHost({ stdout: '1000\n' }, seen), [p('a'), p('b')]), undefined, 'one size short');
  assert.equal(await narBytes(fakeHost({ stdout: 'error: x\n' }, seen), [p('a')]), undefined);
  assert.equal(await narBytes(fakeHost({ stdout: '5\n', failed: true, exitCode: 1 }, seen), [p('a')]), undefined);
});

void test('closureSizes: asked once per host and path (while the copy runs); bytesOf sums what was copied, undefined for a path it does not list', async () => {
  const { bytesOf, closureSizes } = await import('../../src/transport/copy.js');
  const seen: { argv?: string[]; input?: string }[] = [];
  const run = async (argv: string[], options: RunOptions = {}): Promise<CommandResult> => {
    seen.push({ argv, ...(options.input !== undefined ? { input: String(options.input) } : {}) });
    const stdout = argv[2] === '--requisites' ? `${p('dep')}\n${p('sys')}\n` : '100\n2000\n';
    return { argv, exitCode: 0, stdout, stderr: '', failed: false, timedOut: false, canceled: false, message: '' };
  };
  const host: Host = { label: 'local', isLocal: true, run, runFresh: run, connect: async () => {}, close: async () => {}, closeSync: () => {} };
  const [a, b] = await Promise.all([closureSizes(host, p('sys')), closureSizes(host, p('sys'))]);
  assert.equal(a, b, 'one answer for every node copying the same system');
  assert.deepEqual(seen, [{ argv: ['nix-store', '--query', '--requisites', p('sys')] }, { argv: ['xargs', 'nix-store', '--query', '--size'], input: `${p('dep')}\n${p('sys')}\n` }]);
  assert.equal(bytesOf(a, [p('sys')]), 2000);
  assert.equal(bytesOf(a, [p('dep'), p('sys')]), 2100);
  assert.equal(bytesOf(a, []), 0);
  assert.equal(bytesOf(a, [p('other')]), undefined);
  assert.equal(bytesOf(undefined, [p('sys')]), undefined);
});
