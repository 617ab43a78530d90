// fleet's open-files limit (issue 19 §1): computed from --parallel and --probe-parallel (not the fleet's size),
// checked before any connection, else a typed error that names the fix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execa } from 'execa';
import { ensureFileLimit, FileLimitError, filesNeeded, readFileLimits } from '../../src/transport/fd-limit.js';

const MODULE = JSON.stringify(new URL('../../src/transport/fd-limit.ts', import.meta.url).pathname);

test('the need follows the connections at once, not the fleet: the defaults fit the usual 1024', () => {
  assert.equal(filesNeeded(10, 32), 64 + 4 * (30 + 32));
  assert.ok(filesNeeded(10, 32) < 1024);
});

test('limits read from /proc/self/limits, unlimited as Infinity', () => {
  assert.deepEqual(readFileLimits('Limit Soft Limit Hard Limit Units\nMax open files            1024                 524288               files\n'), { soft: 1024, hard: 524288 });
  assert.deepEqual(readFileLimits('Max open files            unlimited            unlimited            files\n'), { soft: Infinity, hard: Infinity });
  assert.equal(readFileLimits(''), undefined);
});

test('node raises its own soft limit to the hard one at start-up: only the hard limit can be short', async () => {
  const script = `const { readFileLimits } = await import(${MODULE}); console.log(JSON.stringify(readFileLimits()));`;
  const r = await execa('prlimit', ['--nofile=100:4096', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script]);
  assert.deepEqual(JSON.parse(r.stdout), { soft: 4096, hard: 4096 });
});

test('a hard limit below the need: FileLimitError naming the need, the limits and the fix (a process limited to 300)', async () => {
  const script = `const { ensureFileLimit, filesNeeded } = await import(${MODULE});
try { ensureFileLimit(filesNeeded(50, 32), '--parallel 50 and --probe-parallel 32'); console.log('ok'); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const r = await execa('prlimit', ['--nofile=300:300', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script]);
  assert.equal(r.stdout, 'FileLimitError: fleet needs up to 792 open files for --parallel 50 and --probe-parallel 32, but its limit is 300 (hard limit 300): raise the hard limit (`ulimit -Hn 792` as root, LimitNOFILE=792 in a systemd unit, or nofile in /etc/security/limits.conf) or lower --parallel / --probe-parallel');
});

test('enough: nothing to say', () => {
  assert.doesNotThrow(() => ensureFileLimit(312, 'x', { soft: 1024, hard: 1024 }));
  assert.throws(() => ensureFileLimit(312, 'x', { soft: 256, hard: 256 }), FileLimitError);
});
