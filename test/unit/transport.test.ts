import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { quoteArgv } from '../../src/transport/quote.js';
import { buildSshOptions } from '../../src/transport/ssh.js';
import { readNixSshOpts } from '../../src/transport/pool.js';
import { runLocal } from '../../src/transport/run.js';
import { eventually } from '../poll.js';
import { isRunning } from '../procs.js';

test('quoteArgv round-trips hostile arguments through a real shell', () => {
  const argv = ['printf', '%s\\n', "it's", '$(touch /tmp/pwned)', '`id`', 'a b', '', ';rm -rf /', '\\', '"q"', '\n', '*', '-n'];
  const out = execFileSync('sh', ['-c', quoteArgv(argv)], { encoding: 'utf8' });
  assert.deepEqual(out.split('\n').slice(0, -1), argv.slice(2).flatMap((a) => (a === '\n' ? ['', ''] : [a])));
});

test('quoteArgv leaves plain words readable and refuses an empty argv', () => {
  assert.equal(quoteArgv(['nix-env', '-p', '/nix/var/nix/profiles/system', '--set', '/nix/store/abc-x']), 'nix-env -p /nix/var/nix/profiles/system --set /nix/store/abc-x');
  assert.throws(() => quoteArgv([]), /empty argv/);
});

test('ssh options: fleet\'s mux options first, then config and the user\'s options, port, defaults, the socket last', () => {
  const endpoint = { label: 'a', host: 'h', port: 2201, sshConfig: '/lab/ssh_config', sshOptions: ['-i', 'k'], connectTimeoutMs: 2500 };
  const defaults = ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3'];
  assert.deepEqual(buildSshOptions(endpoint, { role: 'client', controlPath: '/tmp/fleet-x/0' }), [
    '-o', 'ControlMaster=no', '-F', '/lab/ssh_config', '-i', 'k', '-p', '2201', ...defaults, '-S', '/tmp/fleet-x/0',
  ]);
  assert.deepEqual(buildSshOptions(endpoint, { role: 'master', controlPath: '/tmp/fleet-x/0' }).slice(0, 4), ['-o', 'ControlMaster=yes', '-o', 'ControlPersist=no']);
  assert.deepEqual(buildSshOptions(endpoint, { role: 'fresh' }), ['-o', 'ControlMaster=no', '-F', '/lab/ssh_config', '-i', 'k', '-p', '2201', ...defaults, '-S', 'none']);
  assert.deepEqual(buildSshOptions(endpoint), ['-F', '/lab/ssh_config', '-i', 'k', '-p', '2201', ...defaults], 'no mux: a build host\'s own ssh');
});

test('a pinned builder key comes before NIX_SSHOPTS and sshOptions: ssh keeps the first value of an option', () => {
  const nixSshOpts = readNixSshOpts({ NIX_SSHOPTS: '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null' });
  const opts = buildSshOptions({ label: 'b', host: 'h', sshConfig: '/c', sshOptions: [...nixSshOpts, '-o', 'GlobalKnownHostsFile=/g'], connectTimeoutMs: 10_000, knownHostsFile: '/tmp/k' }, { role: 'client', controlPath: '/s' });
  const first = (name: string) => opts.find((o) => o.startsWith(`${name}=`));
  assert.equal(first('UserKnownHostsFile'), 'UserKnownHostsFile=/tmp/k');
  assert.equal(first('StrictHostKeyChecking'), 'StrictHostKeyChecking=yes');
  assert.equal(first('GlobalKnownHostsFile'), 'GlobalKnownHostsFile=/dev/null', 'only the pinned key is trusted');
  assert.equal(first('VerifyHostKeyDNS'), 'VerifyHostKeyDNS=no');
  assert.ok(opts.indexOf('StrictHostKeyChecking=yes') < opts.indexOf('-F'), 'before the -F config too (a Host block cannot turn checking off)');
});

test('BatchMode=yes by default, but a user\'s own BatchMode comes first and wins', () => {
  const opts = buildSshOptions({ label: 'a', host: 'h', sshOptions: ['-o', 'BatchMode=no'], connectTimeoutMs: 1000 });
  assert.equal(opts.find((o) => o.startsWith('BatchMode=')), 'BatchMode=no');
  assert.ok(buildSshOptions({ label: 'a', host: 'h', sshOptions: [], connectTimeoutMs: 1000 }).includes('BatchMode=yes'));
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

test('a failure is described by how it ended and what it said, never by its (kilobytes of) argv', async () => {
  const { failureReason } = await import('../../src/transport/run.js');
  assert.equal(failureReason({ exitCode: 1, timedOut: false, canceled: false, stderr: 'noise\nsudo: a password is required\n' }), 'exit 1: noise; sudo: a password is required');
  assert.equal(failureReason({ exitCode: undefined, timedOut: true, canceled: false, stderr: '' }), 'timed out');
  assert.equal(failureReason({ exitCode: undefined, timedOut: false, canceled: true, stderr: '' }), 'interrupted');
  assert.equal(failureReason({ exitCode: undefined, timedOut: false, canceled: false, stderr: '' }), 'could not run');
  assert.equal(failureReason({ exitCode: undefined, timedOut: false, canceled: false, stderr: '', message: 'Command failed with EAGAIN: ssh h\nspawn ssh EAGAIN' }), 'could not run (EAGAIN)');
});

test('a master that fails says what ssh said, line by line, without the \\r of its \\r\\n line ends', async () => {
  const { startMaster } = await import('../../src/transport/master.js');
  // A real ssh whose connection closes after reading its version line (so ssh's own write never meets a closed pipe,
  // which under load made it say "Broken pipe" instead): "kex_exchange_identification: ...\r\nConnection closed ...\r\n".
  const r = await startMaster({ sshArgs: ['-o', 'ProxyCommand=sh -c "read line; exit 1"', '-N', 'nowhere'], controlPath: '/nonexistent/fleet-test-sock', timeoutMs: 10_000 });
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.reason === 'failed');
  assert.match(r.detail, /^kex_exchange_identification: Connection closed by remote host; Connection closed by UNKNOWN port \d+$/);
});

test('a Target escalates in one place: run as the SSH user, runPrivileged and runFresh through sudo -S with the password on stdin only', async () => {
  const { createTarget } = await import('../../src/transport/target.js');
  const { resolvedNode } = await import('../resolved-node.js');
  const calls: [string, string[], string | undefined][] = [];
  const answer = (how: string) => async (argv: string[], options?: { input?: string | Uint8Array }) => {
    calls.push([how, argv, options?.input === undefined ? undefined : Buffer.from(options.input).toString()]);
    return { argv, exitCode: 0, stdout: '', stderr: '', failed: false, timedOut: false, canceled: false, message: '' };
  };
  const host = { label: 'web-1', isLocal: false, run: answer('master'), runFresh: answer('fresh'), connect: async () => {}, close: async () => {}, closeSync: () => {} };
  const ops = createTarget({ node: resolvedNode('web-1', { user: 'ops' }), host, run: answer('local'), directSshOpts: [], sudoPassword: 'pw' });
  await ops.run(['id']);
  await ops.runPrivileged(['id'], { timeoutMs: 5 });
  await ops.runFresh(['id']);
  const root = createTarget({ node: resolvedNode('web-2'), host, run: answer('local'), directSshOpts: [], sudoPassword: 'pw' });
  await root.runPrivileged(['id']);
  const nopw = createTarget({ node: resolvedNode('web-3', { user: 'ops' }), host, run: answer('local'), directSshOpts: [] });
  await nopw.runFresh(['id']);
  assert.deepEqual(calls, [
    ['master', ['id'], undefined],
    ['master', ['sudo', '-S', '-p', '', '-H', '--', 'id'], 'pw\n'],
    ['fresh', ['sudo', '-S', '-p', '', '-H', '--', 'id'], 'pw\n'],
    ['master', ['id'], undefined],
    ['fresh', ['sudo', '-H', '--', 'id'], undefined],
  ]);
});

test('runLocal onOutput: every line with its stream, blank ones and a last one without a newline included; none kept', async () => {
  const seen: string[] = [];
  const r = await runLocal(['sh', '-c', 'printf "a\\n\\nb\\r\\n"; echo oops >&2; printf tail'], { onOutput: (line, stream) => seen.push(`${stream}:${line}`) });
  assert.equal(r.exitCode, 0);
  assert.deepEqual(seen.filter((l) => l.startsWith('stdout:')), ['stdout:a', 'stdout:', 'stdout:b', 'stdout:tail']);
  assert.deepEqual(seen.filter((l) => l.startsWith('stderr:')), ['stderr:oops']);
  assert.deepEqual([r.stdout, r.stderr], ['', ''], 'the output went to onOutput only');
});

test('Target.runPrivileged with input: the sudo password line first, then the bytes as they are; no password: the bytes alone', async () => {
  const { createTarget } = await import('../../src/transport/target.js');
  const { resolvedNode } = await import('../resolved-node.js');
  const seen: (string | Uint8Array | undefined)[] = [];
  const run = async (argv: string[], options?: { input?: string | Uint8Array }) => {
    seen.push(options?.input);
    return { argv, exitCode: 0, stdout: '', stderr: '', failed: false, timedOut: false, canceled: false, message: '' };
  };
  const host = { label: 'web-1', isLocal: false, run, runFresh: run, connect: async () => {}, close: async () => {}, closeSync: () => {} };
  const bytes = Buffer.from([0, 255, 10, 65]);
  await createTarget({ node: resolvedNode('web-1', { user: 'ops' }), host, run, directSshOpts: [], sudoPassword: 'pw' }).runPrivileged(['cat'], { input: bytes });
  await createTarget({ node: resolvedNode('web-2', { user: 'ops' }), host, run, directSshOpts: [] }).runPrivileged(['cat'], { input: bytes });
  await createTarget({ node: resolvedNode('web-3'), host, run, directSshOpts: [], sudoPassword: 'pw' }).runPrivileged(['cat'], { input: 'text' });
  assert.deepEqual(seen.map((i) => (i === undefined ? i : Buffer.from(i).toString('hex'))), [Buffer.concat([Buffer.from('pw\n'), bytes]).toString('hex'), bytes.toString('hex'), Buffer.from('text').toString('hex')]);
});

/** A command that prints the pid of a child it leaves holding its stdout, then hangs: what an ssh client riding a
 *  master looks like (the master keeps the client's pipes open after the client is killed). */
const HOLDS_PIPES = ['sh', '-c', 'sleep 60 & echo "holder $!"; exec sleep 60'];
const holderOf = (stdout: string) => Number(/holder (\d+)/.exec(stdout)?.[1]);
test('runLocal: a command killed at its timeout returns once it is gone, though another process still holds its pipes', { timeout: 20_000 }, async () => {
  const r = await runLocal(HOLDS_PIPES, { timeoutMs: 300 });
  const holder = holderOf(r.stdout);
  try {
    assert.equal(r.timedOut, true, r.message);
    assert.ok(isRunning(holder), 'the holder still runs: the result did not wait for the pipes to close');
  } finally {
    if (holder) process.kill(holder, 'SIGKILL');
  }
});

test('runLocal: the same after Ctrl+C (its signal): interrupted, the output before it kept', { timeout: 20_000 }, async () => {
  const controller = new AbortController();
  const r = await runLocal(HOLDS_PIPES, { signal: controller.signal, onLine: (line) => line.startsWith('holder') && controller.abort() });
  const holder = holderOf(r.stdout);
  try {
    assert.equal(r.canceled, true, r.message);
    assert.match(r.stdout, /^holder \d+$/);
  } finally {
    if (holder) process.kill(holder, 'SIGKILL');
  }
});

test('a remote command with a limit runs under the target\'s own timeout (a grace later), which ends its children too', { timeout: 20_000 }, async () => {
  const { remoteCommand } = await import('../../src/transport/ssh.js');
  assert.equal(remoteCommand(['systemctl', 'is-active', 'a b'], undefined), "systemctl is-active 'a b'", 'no limit: as it is');
  assert.equal(remoteCommand(['systemctl', 'is-active', 'a b'], 7000), "timeout -k 5 8 systemctl is-active 'a b'");
  assert.equal(remoteCommand(['true'], 1500), 'timeout -k 5 2.5 true');
  // The command line a target's shell gets: the bound kills the command's whole process group at the deadline.
  const r = await runLocal(['sh', '-c', remoteCommand(['sh', '-c', 'sleep 60 & echo "holder $!"; wait'], 200)]);
  const holder = holderOf(r.stdout);
  assert.equal(r.exitCode, 124, 'timeout\'s own exit code');
  assert.ok(await eventually(() => !isRunning(holder), { timeoutMs: 10_000, everyMs: 20 }), 'the background child ended with it (its SIGTERM is on its way)');
});

test('a command whose output is over the limit fails naming that, not "exit 0"; binary output that large does not crash fleet', async () => {
  const { OUTPUT_LIMIT, failureReason } = await import('../../src/transport/run.js');
  for (const source of ['yes abcdefghij', 'cat /dev/zero']) {
    const r = await runLocal(['sh', '-c', `${source} | head -c ${OUTPUT_LIMIT + 1024}; exit 0`]);
    assert.equal(r.failed, true, source);
    assert.equal(r.overflow, true, source);
    assert.match(failureReason(r), /^its output was over 16 MiB/, source);
  }
});
