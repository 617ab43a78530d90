// fleet doctor's parts other than the checks' words: the gathering script (run here, under the POSIX sh), what ssh
// says (ssh -G, its failures, host keys), the TCP probe, which machines are examined, the text report, the CLI.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { runCliCaptured } from './cli-harness.js';
import { loadFleet } from '../../src/config/index.js';
import { formatDoctorSummary, formatHostReport } from '../../src/doctor/render.js';
import { doctorExitCode, escalationProbe } from '../../src/doctor/run.js';
import { doctorArgv, parseDf, parseGathered } from '../../src/doctor/script.js';
import { classifyConnectFailure, fingerprint, knownHostsLine, knownHostsName, parseSshG, pickScannedKey, publicHostKeyValue } from '../../src/doctor/ssh-facts.js';
import { doctorSubjects } from '../../src/doctor/subjects.js';
import { reachPort } from '../../src/doctor/tcp.js';
import type { HostReport } from '../../src/doctor/types.js';

test('the script runs under the POSIX sh with its data as arguments: markers, clock, user, PATH, the lock read, run dirs counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-doctor-'));
  // A lock record as the agent writes it: a symlink whose target is the record (any path works for reading).
  const lock = join(dir, 'lock');
  await execa('ln', ['-s', 'run=r1 by=a@b pid=7 since=1 expires=2', lock]);
  const [file, ...args] = doctorArgv(lock);
  const r = await execa(file!, args, { reject: false });
  assert.equal(r.exitCode, 0, r.stderr);
  const g = parseGathered(r.stdout);
  assert.ok(g.complete, 'both markers');
  assert.deepEqual(g.preamble, []);
  assert.equal(g.lock, 'run=r1 by=a@b pid=7 since=1 expires=2');
  assert.ok(g.clock !== undefined && Math.abs(g.clock * 1000 - Date.now()) < 60_000, `a clock near ours: ${g.clock}`);
  assert.equal(g.user, (await execa('id', ['-un'])).stdout);
  assert.equal(g.path, process.env.PATH);
  assert.ok(g.have.get('sed'), 'sed found on the PATH');
  assert.ok(g.disk.run !== undefined, 'df of /run');
  assert.equal(g.escalation, undefined, 'no escalation asked');
  // The escalation runs `true` through the given argv, first, with the script's stdin.
  const [f2, ...a2] = doctorArgv('', ['sh', '-c', 'read -r pw; [ "$pw" = secret ] && "$@"', 'esc']);
  const withPw = parseGathered((await execa(f2!, a2, { input: 'secret\n' })).stdout);
  assert.deepEqual(withPw.escalation, { exit: 0, output: [] });
  const wrong = parseGathered((await execa(f2!, a2, { input: 'nope\n' })).stdout);
  assert.equal(wrong.escalation?.exit, 1);
});

test('parseGathered: what a login shell printed first is kept apart; conf lines trimmed; a clock without %N is whole seconds', () => {
  const g = parseGathered(['Welcome!', '', 'fleet-doctor=begin', 'clock=1700000000.N', 'conf.trusted-users =  root deploy', 'have.nix-store=/usr/bin/nix-store',
    'escExit=1', 'escOut=sudo: a password is required', 'escOut=second line', 'df.nix=my disk 100 50 50 50% /nix', 'fleet-doctor=end'].join('\n'));
  assert.deepEqual(g.preamble, ['Welcome!']);
  assert.deepEqual([g.clock, g.clockPrecise], [1700000000, false]);
  assert.equal(g.conf.get('trusted-users'), 'root deploy');
  assert.deepEqual(g.escalation, { exit: 1, output: ['sudo: a password is required', 'second line'] });
  assert.deepEqual(g.disk.nix, { availableKiB: 50, mountedOn: '/nix' });
  assert.ok(g.nixStore && g.complete);
  assert.equal(parseGathered('fleet-doctor=begin\nclock=1\n').complete, false, 'no end marker: cut short');
  assert.deepEqual(parseDf('/dev/mapper/vg-root 1000 10 990 1% /'), { availableKiB: 990, mountedOn: '/' });
  assert.equal(parseDf(''), undefined);
});

test('ssh -G: the effective host, port, user and known_hosts files for fleet\'s options; a proxy; an alias; the address family', async () => {
  const r = await execa('ssh', ['-G', '-p', '2201', '-o', 'UserKnownHostsFile=/l/kh', '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', 'deploy@127.0.0.1']);
  const s = parseSshG(r.stdout);
  assert.deepEqual(s, { hostname: '127.0.0.1', port: 2201, user: 'deploy', userKnownHostsFiles: ['/l/kh'], strictHostKeyChecking: 'yes', batchMode: true, addressFamily: 0 });
  const jump = parseSshG((await execa('ssh', ['-G', '-J', 'bastion', '-o', 'HostKeyAlias=web', '-4', 'web-1'])).stdout)!;
  assert.deepEqual([jump.proxy, jump.hostKeyAlias, jump.addressFamily], ['ProxyJump bastion', 'web', 4]);
  assert.equal(parseSshG('garbage'), undefined);
});

test('ssh\'s own words classified (OpenSSH 9.2): unknown and changed host keys, a refused login, an unreachable host', () => {
  assert.equal(classifyConnectFailure('No ED25519 host key is known for [127.0.0.1]:37701 and you have requested strict checking.; Host key verification failed.'), 'host-key-unknown');
  assert.equal(classifyConnectFailure('Host key for [127.0.0.1]:37701 has changed and you have requested strict checking.; Host key verification failed.'), 'host-key-changed');
  assert.equal(classifyConnectFailure('root@127.0.0.1: Permission denied (publickey).'), 'auth');
  assert.equal(classifyConnectFailure('ssh: connect to host 127.0.0.1 port 1: Connection refused'), 'unreachable');
  assert.equal(classifyConnectFailure('ssh: Could not resolve hostname nonexistent.invalid: Name or service not known'), 'unreachable');
  assert.equal(classifyConnectFailure('timed out'), 'unreachable');
  assert.equal(classifyConnectFailure('kex_exchange_identification: banner line contains invalid characters'), 'other');
});

test('host keys: the known_hosts name ssh looks up, the preferred scanned key, its fingerprint as ssh-keygen prints it, a builder\'s publicHostKey', async () => {
  assert.equal(knownHostsName({ hostname: '10.0.0.5', port: 22 }), '10.0.0.5');
  assert.equal(knownHostsName({ hostname: '10.0.0.5', port: 2222 }), '[10.0.0.5]:2222');
  assert.equal(knownHostsName({ hostname: '10.0.0.5', port: 2222, hostKeyAlias: 'web-1' }), 'web-1');
  const dir = mkdtempSync(join(tmpdir(), 'fleet-doctor-'));
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
  const [type, key] = readFileSync(join(dir, 'k.pub'), 'utf8').trim().split(' ');
  const scan = `# 10.0.0.5:2222 SSH-2.0-OpenSSH_9.2\n[10.0.0.5]:2222 ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQ\n[10.0.0.5]:2222 ${type} ${key}\n`;
  const picked = pickScannedKey(scan)!;
  assert.deepEqual(picked, { type, key }, 'ed25519 first');
  const byKeygen = (await execa('ssh-keygen', ['-l', '-f', join(dir, 'k.pub')])).stdout.split(' ')[1];
  assert.equal(fingerprint(picked), byKeygen);
  assert.equal(knownHostsLine({ hostname: '10.0.0.5', port: 2222 }, picked), `[10.0.0.5]:2222 ${type} ${key}`);
  assert.equal(Buffer.from(publicHostKeyValue(picked), 'base64').toString(), `${type} ${key}`);
  assert.equal(pickScannedKey('# only comments\n'), undefined);
});

function listen(onConnection: (socket: import('node:net').Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

test('reachPort: an SSH banner read (and answered); a port without SSH; a refused port', async () => {
  let answered = '';
  const sshd = await listen((s) => {
    s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
    s.on('data', (d) => (answered += d.toString()));
  });
  const r = await reachPort('127.0.0.1', sshd.port, 5000);
  assert.ok(r.ok && r.banner === 'SSH-2.0-OpenSSH_9.2p1 Debian-2' && r.rttMs >= 0, JSON.stringify(r));
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(answered, 'SSH-2.0-fleet-doctor\r\n', 'doctor identifies itself before closing');
  sshd.server.close();
  const quiet = await listen((s) => s.end());
  const q = await reachPort('127.0.0.1', quiet.port, 5000);
  assert.ok(q.ok && q.banner === undefined);
  quiet.server.close();
  const refused = await reachPort('127.0.0.1', quiet.port, 5000);
  assert.deepEqual(refused, { ok: false, address: '127.0.0.1', error: 'ECONNREFUSED' });
});

function writeFleet(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-doctor-'));
  writeFileSync(join(dir, 'hive.nix'), '{ }');
  const file = join(dir, 'fleet.yaml');
  writeFileSync(file, text);
  return file;
}

const FLEET = `version: 1
nix: { file: ./hive.nix }
builders:
  big: { host: nix@big, systems: [x86_64-linux] }
  arm: { host: arm, systems: [aarch64-linux] }
  idle: { host: idle, systems: [x86_64-linux] }
nodes:
  web-1: { host: web-1, buildHost: big }
  web-2: { host: deploy@web-2, port: 2222, buildHost: big }
  pi-1: { host: pi-1, buildHost: builders, system: aarch64-linux }
  db-1: { host: db-1, buildHost: root@10.0.0.9 }
  edge: { host: edge, buildHost: target }
`;

test('subjects: without --on every node and builder; with --on the builders those nodes use (all for buildHost: builders), ad-hoc build hosts too', async () => {
  const fleet = await loadFleet(writeFleet(FLEET));
  const all = doctorSubjects(fleet, Object.values(fleet.nodes), true);
  assert.deepEqual(all.map((s) => `${s.role}:${s.name}:${s.address}`), [
    'node:web-1:root@web-1', 'node:web-2:deploy@web-2:2222', 'node:pi-1:root@pi-1', 'node:db-1:root@db-1', 'node:edge:root@edge',
    'builder:big:nix@big', 'builder:arm:arm', 'builder:idle:idle', 'builder:root@10.0.0.9:root@10.0.0.9',
  ]);
  const big = all.find((s) => s.name === 'big');
  assert.deepEqual(big?.role === 'builder' ? big.nodes.map((n) => n.name) : [], ['web-1', 'web-2']);
  const some = doctorSubjects(fleet, [fleet.nodes['web-1']!, fleet.nodes['db-1']!], false);
  assert.deepEqual(some.map((s) => s.name), ['web-1', 'db-1', 'big', 'root@10.0.0.9']);
  const viaBuilders = doctorSubjects(fleet, [fleet.nodes['pi-1']!], false);
  assert.deepEqual(viaBuilders.map((s) => s.name), ['pi-1', 'big', 'arm', 'idle']);
});

test('escalationProbe: root needs none; sudo and doas never ask (-n); with a password, sudo -S reads it from stdin; other tools as they are', () => {
  const node = (user: string, privilegeEscalation: string[]) => ({ user, privilegeEscalation });
  assert.deepEqual(escalationProbe(node('root', ['sudo', '-H', '--'])), {});
  assert.deepEqual(escalationProbe(node('deploy', ['sudo', '-H', '--'])), { escalation: ['sudo', '-n', '-H', '--'] });
  assert.deepEqual(escalationProbe(node('deploy', ['/usr/bin/doas'])), { escalation: ['/usr/bin/doas', '-n'] });
  assert.deepEqual(escalationProbe(node('deploy', ['sudo', '-H', '--']), 'pw'), { escalation: ['sudo', '-S', '-p', '', '-H', '--'], input: 'pw\n' });
  assert.deepEqual(escalationProbe(node('deploy', ['run0'])), { escalation: ['run0'] });
});

test('the report: a block per machine, fixes under failures, skips sharing a reason on one line, what a machine said cleaned of control sequences', () => {
  const report: HostReport = {
    name: 'web-1', role: 'node', address: 'root@web-1',
    checks: [
      { check: 'reach', status: 'ok', detail: '10.0.0.5:22 answers: SSH-2.0-Evil\u001b]0;pwned\u0007\u001b[2J' },
      { check: 'nix-path', status: 'fail', detail: 'nix-store is in /x\nFAKE ok line', fix: 'add `SetEnv PATH=/x`' },
      { check: 'clock', status: 'warn', detail: 'off', fix: 'sync' },
      { check: 'lock', status: 'skip', detail: 'no session' },
      { check: 'run-dirs', status: 'skip', detail: 'no session' },
    ],
  };
  assert.equal(formatHostReport(report), [
    'node web-1  root@web-1',
    '  ok    reach        10.0.0.5:22 answers: SSH-2.0-Evil',
    '  FAIL  nix-path     nix-store is in /x FAKE ok line',
    '                     fix: add `SetEnv PATH=/x`',
    '  WARN  clock        off',
    '                     fix: sync',
    '  skip  lock, run-dirs: no session',
  ].join('\n'));
  const deployer: HostReport = { name: 'deployer', role: 'deployer', address: 'local', checks: [{ check: 'nix', status: 'ok', detail: 'Nix' }] };
  assert.equal(formatHostReport(deployer).split('\n')[0], 'deployer  local');
  assert.equal(formatDoctorSummary([deployer, report]), '2 machines, 6 checks: 2 ok, 1 warning, 1 failed, 2 skipped\nfailed: web-1 (nix-path)');
  assert.equal(doctorExitCode([deployer, report], false), 1);
  assert.equal(doctorExitCode([deployer], false), 0);
  assert.equal(doctorExitCode([deployer, { ...report, checks: report.checks.filter((c) => c.status !== 'fail') }], false), 0, 'warnings and skips do not fail');
  assert.equal(doctorExitCode([deployer], true), 130);
});

const cli = (args: string[], env: Record<string, string> = {}) => runCliCaptured(args, { env });

test('CLI: doctor --help has the checks, thresholds, exit codes and examples; a selector matching nothing and --ask-sudo-password without a terminal are usage errors (exit 2)', async () => {
  const help = await cli(['doctor', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: fleet doctor \[options\]/);
  assert.match(help.stdout, /FAIL below 1 GiB free on \/nix or 16 MiB on \/run; WARN for a clock off by more than 10 s/);
  assert.match(help.stdout, /Exit codes of doctor: 0 no check failed \(warnings allowed\), 1 a check failed, 2 usage, 130 interrupted\./);
  assert.match(help.stdout, /Examples:\n {2}fleet doctor\n {2}fleet doctor --on tag:web\n/);
  const file = writeFleet(FLEET);
  const none = await cli(['-f', file, 'doctor', '--on', 'nosuch']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^fleet: /);
  const ask = await cli(['-f', file, 'doctor', '--ask-sudo-password']);
  assert.equal(ask.code, 2);
  assert.equal(ask.stderr, 'fleet: --ask-sudo-password needs a terminal to ask on; in CI put the password in a file and set FLEET_SUDO_PASSWORD_FILE\n');
  const top = await cli(['--help']);
  assert.match(top.stdout, /doctor \[options\]\s+check, read-only and in parallel/);
});
