import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { quoteArgv } from '../../src/transport/quote.js';
import { buildSshOptions } from '../../src/transport/ssh.js';
import { readNixSshOpts } from '../../src/transport/pool.js';
import { runLocal } from '../../src/transport/run.js';

test('quoteArgv round-trips hostile arguments through a real shell', () => {
  const argv = ['printf', '%s\\n', "it's", '$(touch /tmp/pwned)', '`id`', 'a b', '', ';rm -rf /', '\\', '"q"', '\n', '*', '-n'];
  const out = execFileSync('sh', ['-c', quoteArgv(argv)], { encoding: 'utf8' });
  assert.deepEqual(out.split('\n').slice(0, -1), argv.slice(2).flatMap((a) => (a === '\n' ? ['', ''] : [a])));
});

test('quoteArgv leaves plain words readable and refuses an empty argv', () => {
  assert.equal(quoteArgv(['nix-env', '-p', '/nix/var/nix/profiles/system', '--set', '/nix/store/abc-x']), 'nix-env -p /nix/var/nix/profiles/system --set /nix/store/abc-x');
  assert.throws(() => quoteArgv([]), /empty argv/);
});

test('ssh options: config, NIX_SSHOPTS and fleet options, port, timeouts, control path', () => {
  const opts = buildSshOptions({ label: 'a', host: 'h', port: 2201, sshConfig: '/lab/ssh_config', sshOptions: ['-i', 'k'], connectTimeoutMs: 2500 }, '/tmp/fleet-x/0');
  assert.deepEqual(opts, ['-F', '/lab/ssh_config', '-i', 'k', '-p', '2201', '-o', 'ConnectTimeout=3', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3', '-o', 'ControlPath=/tmp/fleet-x/0']);
});

test('a pinned builder key turns strict host key checking on against that key only', () => {
  const opts = buildSshOptions({ label: 'b', host: 'h', sshOptions: [], connectTimeoutMs: 10_000, knownHostsFile: '/tmp/k' });
  assert.ok(opts.includes('UserKnownHostsFile=/tmp/k') && opts.includes('StrictHostKeyChecking=yes'));
});

test('NIX_SSHOPTS is split on whitespace as Nix does', () => {
  assert.deepEqual(readNixSshOpts({ NIX_SSHOPTS: ' -F /x/cfg  -o  BatchMode=yes ' }), ['-F', '/x/cfg', '-o', 'BatchMode=yes']);
  assert.deepEqual(readNixSshOpts({}), []);
});

test('runLocal streams whole lines: a UTF-8 character split across writes, and a last line without a newline', async () => {
  // Two writes 200 ms apart cut "é" (0xc3 0xa9) in half: they arrive as two chunks.
  const child = `const w = (b) => process.stdout.write(Buffer.from(b));
w([0x63, 0x61, 0x66, 0xc3]);
setTimeout(() => { w([0xa9, 0x0a]); process.stderr.write('err line\\n'); w('last'); }, 200);`;
  const lines: string[] = [];
  const r = await runLocal([process.execPath, '-e', child], { onLine: (line) => lines.push(line) });
  assert.equal(r.failed, false, r.message);
  assert.deepEqual(lines.filter((l) => l !== 'err line'), ['café', 'last']);
  assert.ok(lines.includes('err line'), 'stderr lines are streamed too');
  assert.equal(r.stdout, 'café\nlast', 'the result keeps the output as printed');
  assert.equal(r.stderr, 'err line');
});
