// fleet doctor's checks as pure functions: facts in, ok or what is wrong with its exact fix out. Every message a
// person may read is asserted here (the lab tests check the same messages against broken hosts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authCheck, hostKeyCheck, reachCheck, resolveCheck, rttCheck, sessionCheck } from '../../src/doctor/checks-connection.js';
import { deployerNixCheck, featuresCheck, matchesUser, nixPathCheck, nixVersionCheck, serveVersion, storeCheck, storeMode, systemsCheck, trustedCheck } from '../../src/doctor/checks-nix.js';
import { activationCheck, clockCheck, diskCheck, lockCheck, runDirsCheck, sudoCheck, toolsCheck } from '../../src/doctor/checks-target.js';
import { parseGathered, type Gathered } from '../../src/doctor/script.js';
import type { EffectiveSsh } from '../../src/doctor/ssh-facts.js';

/** A healthy single-user root machine's answer, with `lines` replacing or adding keys. */
function gathered(lines: Record<string, string | undefined> = {}, preamble: string[] = []): Gathered {
  const base: Record<string, string | undefined> = {
    clock: '1700000000.250000000', user: 'root', uid: '0', groups: 'root', path: '/usr/bin:/bin',
    'have.nix-store': '/usr/bin/nix-store', 'have.nix-env': '/usr/bin/nix-env', 'have.nix-copy-closure': '/usr/bin/nix-copy-closure',
    'have.nix-instantiate': '/usr/bin/nix-instantiate', 'have.ssh': '/usr/bin/ssh', 'have.setsid': '/usr/bin/setsid',
    ...Object.fromEntries(['readlink', 'sed', 'date', 'mkdir', 'mv', 'ln', 'rm', 'cat', 'wc', 'tail', 'dirname', 'flock', 'timeout'].map((t) => [`have.${t}`, `/usr/bin/${t}`])),
    nixVersion: 'nix-store (Nix) 2.8.0', serve: 'cbee5254000000000702000000000000', ping: '0',
    'conf.system ': ' x86_64-linux', 'conf.extra-platforms ': ' i686-linux', 'conf.system-features ': ' benchmark big-parallel kvm nixos-test',
    'conf.trusted-users ': ' root', 'conf.allowed-users ': ' *',
    nixRemote: '', stateWritable: '1', 'df.nix': '/dev/vda 264212084 23419532 82971380 23% /', 'df.run': 'tmpfs 12341280 0 12341280 0% /run',
    runDirs: '0', runDirsUnfinished: '0',
  };
  const merged = { ...base, ...lines };
  const body = Object.entries(merged).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return parseGathered([...preamble, 'fleet-doctor=begin', ...body, 'fleet-doctor=end', ''].join('\n'));
}

const ssh: EffectiveSsh = { hostname: '10.0.0.5', port: 2222, user: 'deploy', userKnownHostsFiles: ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'], strictHostKeyChecking: 'ask', batchMode: true, addressFamily: 0 };

test('nix-path: on the PATH; off it (the SetEnv line with the session PATH and where nix-store is); not installed at all', () => {
  assert.deepEqual(nixPathCheck('web-1', gathered()), { check: 'nix-path', status: 'ok', detail: 'nix-store is /usr/bin/nix-store on the PATH of non-interactive SSH sessions' });
  const off = nixPathCheck('web-1', gathered({ 'have.nix-store': undefined, 'have.nix-env': undefined, nixFoundIn: '/nix/var/nix/profiles/default/bin' }));
  assert.equal(off.status, 'fail');
  assert.equal(off.detail, 'nix-store is in /nix/var/nix/profiles/default/bin, which is not on the PATH of non-interactive SSH sessions (PATH=/usr/bin:/bin): nix-copy-closure fails there with "nix-store: command not found"');
  assert.match(off.fix!, /^on web-1, add `SetEnv PATH=\/usr\/bin:\/bin:\/nix\/var\/nix\/profiles\/default\/bin` to \/etc\/ssh\/sshd_config and reload sshd \(systemctl reload sshd\)/);
  const none = nixPathCheck('web-1', gathered({ 'have.nix-store': undefined, nixVersion: undefined }));
  assert.equal(none.status, 'fail');
  assert.equal(none.detail, 'Nix is not installed for root on web-1: nix-store is neither on the PATH (/usr/bin:/bin) nor in /run/current-system/sw/bin, /nix/var/nix/profiles/default/bin, ' +
    '~/.nix-profile/bin, /etc/profiles/per-user/root/bin, /nix/var/nix/profiles/per-user/root/profile/bin, /usr/local/bin, /usr/bin, /opt/homebrew/bin');
  assert.equal(none.fix, 'install Nix on web-1 (https://nixos.org/download), then run fleet doctor again');
});

test('nix-version: both sides named; a missing program; an old Nix warns; a failing nix-store says why (a full /nix: free space first)', () => {
  const fine = nixVersionCheck('node', gathered(), 'nix (Nix) 2.18.1');
  assert.deepEqual([fine.status, fine.detail], ['ok', 'nix-store (Nix) 2.8.0 (the deployer: nix (Nix) 2.18.1); nix-store, nix-env there']);
  const noEnv = nixVersionCheck('node', gathered({ 'have.nix-env': undefined }), undefined);
  assert.deepEqual([noEnv.status, noEnv.detail], ['fail', 'nix-store (Nix) 2.8.0, but nix-env is not on the PATH: fleet runs nix-env there']);
  assert.equal(noEnv.fix, 'install the whole of Nix on it (nix-env comes with nix-store), or put its bin directory on the sessions\' PATH');
  assert.equal(nixVersionCheck('builder', gathered({ 'have.nix-env': undefined }), undefined).status, 'ok', 'builders need only nix-store');
  const old = nixVersionCheck('node', gathered({ nixVersion: 'nix-store (Nix) 2.3.16' }), undefined);
  assert.deepEqual([old.status, old.detail, old.fix], ['warn', 'nix-store (Nix) 2.3.16: older than any Nix fleet is tested with (2.8)', 'upgrade Nix on it to 2.8 or later']);
  assert.equal(nixVersionCheck('node', gathered({ nixVersion: 'nix-store (Lix, like Nix) 2.91.1' }), undefined).status, 'ok');
  const broken = nixVersionCheck('node', gathered({ nixVersion: undefined, nixVersionError: 'error: disk I/O error', 'df.nix': 'fleet-full 65536 65536 0 100% /nix' }), undefined);
  assert.deepEqual([broken.status, broken.detail, broken.fix], ['fail', 'nix-store --version failed: error: disk I/O error', 'free space on /nix first (see disk-nix): Nix cannot even open its database on a full disk']);
  const noCopy = nixVersionCheck('builder', gathered({ 'have.nix-copy-closure': undefined }), undefined);
  assert.match(noCopy.detail, /no nix-copy-closure: closures go to targets through the deployer$/);
});

test('the deployer: its Nix tools on the PATH, and Nix 2.4 or later for a flake fleet', () => {
  assert.equal(deployerNixCheck(gathered(), true).status, 'ok');
  const missing = deployerNixCheck(gathered({ 'have.nix-copy-closure': undefined, 'have.ssh': undefined }), false);
  assert.deepEqual([missing.status, missing.detail], ['fail', 'nix-copy-closure, ssh not on this machine\'s PATH (PATH=/usr/bin:/bin)']);
  assert.equal(missing.fix, 'install Nix here (https://nixos.org/download; Debian: apt-get install nix-bin openssh-client) or put its bin directory on the PATH');
  const old = deployerNixCheck(gathered({ nixVersion: 'nix-store (Nix) 2.3.16' }), true);
  assert.deepEqual([old.status, old.detail], ['fail', 'nix-store (Nix) 2.3.16: flakes need Nix 2.4 or later']);
});

test('store: the serve handshake and the store answering; a daemon that is down; a handshake nobody answers', () => {
  assert.equal(serveVersion('cbee5254000000000702000000000000'), '2.7');
  assert.equal(serveVersion('deadbeef'), undefined);
  assert.deepEqual(storeCheck('b', gathered()), { check: 'store', status: 'ok', detail: 'nix-store --serve answers (serve protocol 2.7); the store answers directly (no daemon)' });
  const viaDaemon = gathered({ stateWritable: undefined, daemonSocket: '1', user: 'deploy' });
  assert.equal(storeMode(viaDaemon), 'daemon');
  assert.match(storeCheck('b', viaDaemon).detail, /the store answers through nix-daemon$/);
  const down = storeCheck('b', gathered({ ping: '1', pingOut: 'error: cannot connect to socket at \'/nix/var/nix/daemon-socket/socket\': Connection refused' }));
  assert.deepEqual([down.status, down.fix], ['fail', 'start nix-daemon on b (systemctl start nix-daemon)']);
  assert.match(down.detail, /^the store does not answer \(nix-store --check-validity \/nix\/store\/0{32}-fleet-doctor\): error: cannot connect to socket/);
  const silent = storeCheck('b', gathered({ serve: '' }));
  assert.deepEqual([silent.status, silent.fix], ['fail', 'run `nix-store --serve` on b by hand: Nix\'s own error says why']);
  const noDaemon = storeCheck('b', gathered({ stateWritable: undefined, user: 'alice' }));
  assert.equal(noDaemon.detail, 'alice cannot write /nix/var/nix and there is no nix-daemon socket: copies to b fail');
});

test('trusted: the store written directly; trusted by name, by @group and by *; untrusted with the exact trusted-users line', () => {
  assert.equal(trustedCheck('n', 'node', gathered()).detail, 'root writes the store itself (no nix-daemon in between): nothing to trust');
  const daemon = (users: string, groups = 'deploy nix-users') => gathered({ stateWritable: undefined, daemonSocket: '1', user: 'deploy', groups, 'conf.trusted-users ': ` ${users}` });
  assert.equal(trustedCheck('n', 'node', daemon('root deploy')).status, 'ok');
  assert.equal(trustedCheck('n', 'node', daemon('root @nix-users')).status, 'ok');
  assert.equal(trustedCheck('n', 'node', daemon('*')).status, 'ok');
  assert.ok(matchesUser(['@wheel'], 'alice', ['users', 'wheel']));
  assert.ok(!matchesUser(['@wheel', 'root'], 'alice', ['users']));
  const no = trustedCheck('build-1', 'builder', daemon('root'));
  assert.equal(no.status, 'fail');
  assert.equal(no.detail, 'deploy is not in nix-daemon\'s trusted-users (root) on build-1: derivations sent to it to build and the paths copied to it are refused');
  assert.equal(no.fix, 'on build-1, set `trusted-users = root deploy` in /etc/nix/nix.conf and restart nix-daemon (systemctl restart nix-daemon); NixOS: nix.settings.trusted-users = [ "deploy" ]; or connect as root');
  assert.match(trustedCheck('web-1', 'node', daemon('root')).detail, /closures copied to it are refused \("lacks a valid signature"\)$/);
  const unknown = trustedCheck('n', 'node', gathered({ stateWritable: undefined, daemonSocket: '1', 'conf.trusted-users ': undefined }));
  assert.equal(unknown.status, 'warn');
});

test('systems: declared against what the machine builds, and the nodes built there against what is declared', () => {
  assert.deepEqual(systemsCheck({ name: 'b', declared: ['x86_64-linux'], needed: [{ node: 'web-1', system: 'x86_64-linux' }] }, gathered()),
    { check: 'systems', status: 'ok', detail: 'builds x86_64-linux (and i686-linux); declared x86_64-linux; builds for web-1 (x86_64-linux)' });
  const claims = systemsCheck({ name: 'b', declared: ['aarch64-linux'], needed: [] }, gathered());
  assert.deepEqual([claims.status, claims.detail], ['fail', 'builder b declares aarch64-linux, but the machine builds x86_64-linux (and i686-linux)']);
  assert.equal(claims.fix, 'set builder b\'s systems to what it builds (systems: [x86_64-linux]), or make it build aarch64-linux (extra-platforms in its nix.conf; NixOS: boot.binfmt.emulatedSystems)');
  const wrongNode = systemsCheck({ name: 'b', declared: ['x86_64-linux'], needed: [{ node: 'pi-1', system: 'aarch64-linux' }] }, gathered());
  assert.deepEqual([wrongNode.status, wrongNode.detail], ['fail', 'pi-1 (aarch64-linux) is built on b, which declares only x86_64-linux']);
  assert.equal(wrongNode.fix, 'build pi-1 elsewhere (buildHost), or add aarch64-linux to builder b\'s systems if the machine builds it');
  const adHoc = systemsCheck({ name: 'root@h', needed: [{ node: 'pi-1', system: 'aarch64-linux' }] }, gathered());
  assert.deepEqual([adHoc.status, adHoc.fix], ['fail', 'build pi-1 on a machine of that system (buildHost)']);
});

test('features: declared features the machine lacks fail; the machine\'s own are listed', () => {
  assert.deepEqual(featuresCheck('b', ['kvm', 'big-parallel'], [], gathered()), { check: 'features', status: 'ok', detail: 'declared kvm, big-parallel; the machine has benchmark big-parallel kvm nixos-test' });
  const lacks = featuresCheck('b', ['cuda'], ['cuda'], gathered());
  assert.deepEqual([lacks.status, lacks.detail], ['fail', 'builder b declares cuda, which the machine\'s system-features (benchmark big-parallel kvm nixos-test) lack: builds that need it fail there']);
  assert.equal(lacks.fix, 'drop cuda from builder b\'s supportedFeatures/mandatoryFeatures in the fleet file, or add it to system-features in its nix.conf');
});

test('sudo: root needs nothing; sudo -n that works; a password asked (--ask-sudo-password or the sudoers line); no sudo rights; a wrong password; no sudo', () => {
  const facts = { name: 'web-1', user: 'deploy', escalation: ['sudo', '-H', '--'], passwordGiven: false };
  assert.equal(sudoCheck({ ...facts, user: 'root' }, gathered()).detail, 'the SSH user is root: nothing to escalate');
  assert.equal(sudoCheck(facts, gathered({ escExit: '0' })).detail, '`sudo -H --` runs commands as root without asking for a password');
  assert.equal(sudoCheck({ ...facts, passwordGiven: true }, gathered({ escExit: '0' })).detail, '`sudo -H --` runs commands as root with the password given');
  const asks = sudoCheck(facts, gathered({ escExit: '1', escOut: 'sudo: a password is required' }));
  assert.deepEqual([asks.status, asks.detail], ['fail', 'sudo asks deploy for a password on web-1 (sudo: a password is required): a deploy there stops before activating']);
  assert.equal(asks.fix, 'run fleet with --ask-sudo-password (CI: FLEET_SUDO_PASSWORD_FILE=<file>) if deploy has sudo with a password; to need none, as root on web-1: ' +
    'echo \'deploy ALL=(ALL:ALL) NOPASSWD: ALL\' > /etc/sudoers.d/fleet-deploy && chmod 440 /etc/sudoers.d/fleet-deploy ' +
    '(NixOS: security.sudo.extraRules = [ { users = [ "deploy" ]; commands = [ { command = "ALL"; options = [ "NOPASSWD" ]; } ]; } ];)');
  const none = sudoCheck({ ...facts, passwordGiven: true }, gathered({ escExit: '1', escOut: 'deploy is not in the sudoers file.' }));
  assert.deepEqual([none.status, none.detail], ['fail', 'deploy may not use sudo on web-1: deploy is not in the sudoers file.']);
  assert.match(none.fix!, /^as root on web-1: echo 'deploy ALL=\(ALL:ALL\) NOPASSWD: ALL' > \/etc\/sudoers\.d\/fleet-deploy/);
  const wrong = sudoCheck({ ...facts, passwordGiven: true }, gathered({ escExit: '1', escOut: 'Sorry, try again.' }));
  assert.equal(wrong.fix, 'give deploy\'s password on web-1 (--ask-sudo-password, or FLEET_SUDO_PASSWORD_FILE)');
  const missing = sudoCheck(facts, gathered({ escExit: '127', escOut: 'sh: 1: sudo: not found' }));
  assert.equal(missing.detail, 'sudo is not installed on web-1 (sh: 1: sudo: not found)');
  const hangs = sudoCheck({ ...facts, escalation: ['run0'] }, gathered({ escExit: '124' }));
  assert.equal(hangs.detail, '`run0 true` did not end within 20 s on web-1: it waits for something');
});

test('activation, tools: systemd or setsid; the agent\'s tools, with the packages that bring the missing ones', () => {
  assert.equal(activationCheck('n', gathered({ systemd: '1' })).detail, 'systemd runs: activations are detached into a transient unit (systemd-run)');
  assert.equal(activationCheck('n', gathered()).detail, 'no systemd: activations are detached with setsid');
  const none = activationCheck('n', gathered({ 'have.setsid': undefined }));
  assert.deepEqual([none.status, none.fix], ['fail', 'install util-linux on n (it has setsid)']);
  const tools = toolsCheck('n', gathered({ 'have.flock': undefined, 'have.timeout': undefined }));
  assert.deepEqual([tools.status, tools.detail, tools.fix], ['fail', 'fleet\'s agent needs flock, timeout, missing on n', 'install util-linux and coreutils on n']);
});

test('disk: free space against 1 GiB on /nix and 16 MiB on /run; a full one fails with what to do; unreadable warns', () => {
  const g = gathered();
  assert.deepEqual(diskCheck('n', 'nix', g.disk.nix), { check: 'disk-nix', status: 'ok', detail: '79.1 GiB free on /nix (on /)', value: 82971380 * 1024 });
  const full = diskCheck('n', 'nix', { availableKiB: 0, mountedOn: '/nix' });
  assert.deepEqual([full.status, full.detail, full.value], ['fail', '/nix has only 0 B free on n: fleet wants at least 1.0 GiB; copies and builds there fail when it fills', 0]);
  assert.equal(full.fix, 'free space on n: nix-collect-garbage --delete-older-than 14d as root (it also drops old system generations), or grow the file system');
  const run = diskCheck('n', 'run', { availableKiB: 1024, mountedOn: '/run' });
  assert.deepEqual([run.status, run.fix], ['fail', 'as root on n, find what fills it (du -sh /run/* | sort -h), or enlarge it (NixOS: boot.runSize)']);
  assert.equal(diskCheck('n', 'run', undefined).status, 'warn');
});

test('clock: the offset from the deployer\'s with what the measurement cannot tell; beyond 10 s a warning', () => {
  const at = (clock: string) => gathered({ clock });
  const close = clockCheck('n', at('1700000000.300'), { beforeMs: 1_700_000_000_000, afterMs: 1_700_000_000_200 });
  assert.deepEqual(close, { check: 'clock', status: 'ok', detail: '200 ms ahead of the deployer\'s (± 100 ms)', value: 200 });
  const behind = clockCheck('n', at('1699999958'), { beforeMs: 1_700_000_000_000, afterMs: 1_700_000_000_000 });
  assert.equal(behind.status, 'warn');
  assert.equal(behind.detail, 'the clock of n is 42.0 s behind the deployer\'s (± 1000 ms): its lock expiries and the watchdog\'s window run on its own clock, the deploy records\' times on the deployer\'s');
  assert.equal(behind.fix, 'sync the clocks (on n: timedatectl set-ntp true; NixOS: services.timesyncd.enable = true)');
  assert.equal(behind.value, -42000);
  // 10.5 s off, but the window was 2 s wide: it may be within the tolerance.
  assert.equal(clockCheck('n', at('1700000011.500'), { beforeMs: 1_700_000_000_000, afterMs: 1_700_000_002_000 }).status, 'ok');
});

test('lock: free; held by a live run (fails: the node would be left alone, --break-lock named); expired (warns); unreadable', () => {
  const file = '/run/fleet/locks/nix-var-nix-profiles-system';
  assert.deepEqual(lockCheck('web-1', file, gathered()), { check: 'lock', status: 'ok', detail: `free (${file})` });
  const record = 'run=20261121T091502Z-3fa9c1d2 by=alice@laptop pid=4242 since=1700000000 expires=1700000300';
  const held = lockCheck('web-1', file, gathered({ lock: record, clock: '1700000100' }));
  assert.equal(held.status, 'fail');
  assert.equal(held.detail, 'held by run 20261121T091502Z-3fa9c1d2 (alice@laptop, pid 4242) since 2023-11-14T22:13:20Z, until 2023-11-14T22:18:20Z unless renewed: an apply now leaves web-1 alone (locked)');
  assert.equal(held.fix, 'wait for that run to end; if it is gone (its deployer crashed), take the lock over: fleet apply --break-lock --on web-1');
  const stale = lockCheck('web-1', file, gathered({ lock: record, clock: '1700000301' }));
  assert.deepEqual([stale.status, stale.fix], ['warn', 'nothing to do (fleet apply takes an expired lock over)']);
  assert.equal(lockCheck('web-1', file, gathered({ lock: 'garbage' })).status, 'warn');
});

test('run dirs: counted with their size and unfinished activations; above 64 MiB a warning with what to remove', () => {
  assert.deepEqual(runDirsCheck('n', gathered()), { check: 'run-dirs', status: 'ok', detail: 'no run dirs in /run/fleet', value: 0 });
  assert.equal(runDirsCheck('n', gathered({ runDirs: '3', runDirsUnfinished: '1', runDirsKiB: '120' })).detail,
    '3 run dirs in /run/fleet, 120.0 KiB; 1 with an activation that has not written its status (running now, or cut off by a crash) (cleared at boot)');
  const big = runDirsCheck('n', gathered({ runDirs: '900', runDirsKiB: String(80 * 1024) }));
  assert.equal(big.status, 'warn');
  assert.equal(big.fix, 'as root on n, remove the run dirs of runs older than a day: find /run/fleet -mindepth 1 -maxdepth 1 -type d ! -name locks -mtime +0 -exec rm -rf {} +');
});

test('resolve, reach, rtt: an address; a name that does not resolve; refused; silent; not SSH; a proxy skips them; slow round trips warn', () => {
  assert.equal(resolveCheck('web-1', { ...ssh, hostname: '10.0.0.5' }, undefined).detail, '10.0.0.5 is an address (HostName of web-1 in the ssh config)');
  assert.equal(resolveCheck('web-1.example', { ...ssh, hostname: 'web-1.example' }, { ok: true, addresses: ['192.0.2.1', '2001:db8::1'] }).detail, 'web-1.example resolves to 192.0.2.1, 2001:db8::1');
  const unknown = resolveCheck('nope.invalid', { ...ssh, hostname: 'nope.invalid' }, { ok: false, error: 'ENOTFOUND' });
  assert.deepEqual([unknown.status, unknown.detail], ['fail', 'nope.invalid does not resolve (ENOTFOUND)']);
  assert.equal(resolveCheck('web-1', { ...ssh, proxy: 'ProxyJump bastion' }, undefined).status, 'skip');
  const refused = reachCheck(ssh, { ok: false, address: '10.0.0.5', error: 'ECONNREFUSED' });
  assert.deepEqual([refused.detail, refused.fix], ['10.0.0.5:2222: connection refused', 'nothing listens there: start sshd on it (systemctl start sshd), or set the port fleet uses (port: in the fleet file, or Port in the ssh config)']);
  assert.equal(reachCheck(ssh, { ok: false, address: '10.0.0.5', error: 'no answer within 10 s (connection timed out)' }).fix, 'check that the machine is up and that sshd listens on that port, and that no firewall between drops it');
  assert.equal(reachCheck(ssh, { ok: true, address: '10.0.0.5', rttMs: 1 }).detail, '10.0.0.5:2222 accepts connections but does not speak SSH (no SSH banner)');
  assert.equal(reachCheck({ ...ssh, port: 22 }, { ok: true, address: 'fd00::5', rttMs: 1, banner: 'SSH-2.0-OpenSSH_9.6' }).detail, '[fd00::5]:22 answers: SSH-2.0-OpenSSH_9.6');
  assert.deepEqual(rttCheck({ ok: true, address: 'a', rttMs: 0.42 }, 38), { check: 'rtt', status: 'ok', detail: 'TCP handshake 0.4 ms, a command over the SSH connection 38 ms', value: 0.4 });
  const slow = rttCheck({ ok: true, address: 'a', rttMs: 240 }, 900);
  assert.deepEqual([slow.status, slow.fix], ['warn', 'copies pay round trips (Nix 2.8 about one per store path): build on a machine near it (buildHost) or use --use-substitutes']);
});

test('host-key: verified; unknown with the exact known_hosts line and its fingerprint; changed; a builder\'s pinned key; checking turned off', () => {
  const scanned = { type: 'ssh-ed25519', key: 'AAAAC3NzaC1lZDI1NTE5AAAAIIDE95QXCnEGx5cwo7omSKQsD5DLAsbCKn50GPoDjY88' };
  assert.equal(hostKeyCheck({ name: 'web-1', ssh, connected: { ok: true } }).detail, 'known: ssh verified it (~/.ssh/known_hosts ~/.ssh/known_hosts2)');
  const unknown = hostKeyCheck({ name: 'web-1', ssh, connected: { ok: false, kind: 'host-key-unknown', message: 'Host key verification failed.' }, scanned });
  assert.equal(unknown.detail, 'unknown: 10.0.0.5 port 2222 is not in ~/.ssh/known_hosts ~/.ssh/known_hosts2, and fleet never accepts a key unasked');
  assert.equal(unknown.fix, 'add this line to ~/.ssh/known_hosts (fingerprint SHA256:Jg7o9Y1VDf3Cb/Oh+8yomr0LbRN3uLuTV2zEMLTG3vQ: compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on web-1): ' +
    '[10.0.0.5]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIDE95QXCnEGx5cwo7omSKQsD5DLAsbCKn50GPoDjY88');
  const changed = hostKeyCheck({ name: 'web-1', ssh, connected: { ok: false, kind: 'host-key-changed', message: 'Host key for [10.0.0.5]:2222 has changed and you have requested strict checking.' }, scanned });
  assert.match(changed.fix!, /^if web-1 was reinstalled \(fingerprint SHA256:.*\), replace its old key: ssh-keygen -R '\[10\.0\.0\.5\]:2222' -f ~\/\.ssh\/known_hosts, then add to ~\/\.ssh\/known_hosts: \[10\.0\.0\.5\]:2222 ssh-ed25519 AAAA.*; if it was not, do not deploy to it: something else answers there$/);
  const pinned = hostKeyCheck({ name: 'big', ssh, connected: { ok: false, kind: 'host-key-changed', message: 'Host key verification failed.' }, scanned, pinned: { builder: 'big' } });
  assert.match(pinned.fix!, /set builder big's publicHostKey in the fleet file to c3NoLWVkMjU1MTkgQUFBQUMzTnph/);
  const off = hostKeyCheck({ name: 'web-1', ssh: { ...ssh, strictHostKeyChecking: 'no' }, connected: { ok: true } });
  assert.equal(off.status, 'warn');
  assert.deepEqual(hostKeyCheck({ name: 'web-1', ssh, connected: { ok: false, kind: 'unreachable', message: 'Connection refused' } }), { check: 'host-key', status: 'skip', detail: 'no SSH connection (see auth)' });
  assert.equal(hostKeyCheck({ name: 'web-1', ssh, connected: { ok: false, kind: 'auth', message: 'Permission denied (publickey).' } }).status, 'ok', 'a refused login got past the host key');
});

test('auth: a login without a prompt; refused (ssh-copy-id with the port and user); tried with the scanned key; BatchMode off warns', () => {
  assert.equal(authCheck({ name: 'web-1', ssh, connected: { ok: true } }).detail, 'deploy@10.0.0.5 logs in without a prompt (BatchMode)');
  const refused = authCheck({ name: 'web-1', ssh, connected: { ok: false, kind: 'auth', message: 'deploy@10.0.0.5: Permission denied (publickey).' } });
  assert.deepEqual([refused.status, refused.detail], ['fail', 'deploy@10.0.0.5 was refused: deploy@10.0.0.5: Permission denied (publickey).']);
  assert.equal(refused.fix, 'install this machine\'s public key for deploy on web-1: ssh-copy-id -p 2222 deploy@10.0.0.5 (or append it to ~deploy/.ssh/authorized_keys there; ' +
    'NixOS: users.users.deploy.openssh.authorizedKeys.keys); a key with a passphrase must be in ssh-agent (fleet never prompts)');
  const probed = authCheck({ name: 'web-1', ssh, connected: { ok: false, kind: 'host-key-unknown', message: 'x' }, probe: { ok: true, message: '' } });
  assert.equal(probed.detail, 'deploy@10.0.0.5 logs in without a prompt (BatchMode), with the key ssh-keyscan read trusted for this check only');
  assert.deepEqual(authCheck({ name: 'web-1', ssh, connected: { ok: false, kind: 'host-key-changed', message: 'x' } }), { check: 'auth', status: 'skip', detail: 'not tried: the host key is not known' });
  // Through a proxy the TCP checks were left to ssh: its failure must fail a check, or an unreachable node would pass.
  const proxied = authCheck({ name: 'web-1', ssh: { ...ssh, proxy: 'ProxyJump bastion' }, connected: { ok: false, kind: 'unreachable', message: 'ssh: connect to host bastion port 22: Connection refused' } });
  assert.deepEqual([proxied.status, proxied.detail, proxied.fix], ['fail', 'no SSH connection to deploy@10.0.0.5 (through ProxyJump bastion): ssh: connect to host bastion port 22: Connection refused', 'see where it stops: ssh -v -p 2222 deploy@10.0.0.5 true']);
  assert.equal(authCheck({ name: 'web-1', ssh: { ...ssh, batchMode: false }, connected: { ok: true } }).status, 'warn');
});

test('session: start-up files printing on stdout fail (they break nix-copy-closure); a session that cannot run; a clean one', () => {
  const noisy = sessionCheck('web-1', ssh, gathered({}, ['Welcome to web-1!']), undefined);
  assert.equal(noisy.status, 'fail');
  assert.equal(noisy.detail, 'the login shell of deploy prints on stdout in a non-interactive session ("Welcome to web-1!"): nix-copy-closure and remote builds then fail with a protocol error');
  assert.equal(noisy.fix, 'make deploy\'s shell start-up files on web-1 print only in interactive shells: at the top of ~/.bashrc, `case $- in *i*) ;; *) return ;; esac`, or send the output to stderr');
  const broken = sessionCheck('web-1', ssh, undefined, 'exit 126: This account is currently not available.');
  assert.deepEqual([broken.status, broken.detail], ['fail', 'the checks could not run on web-1: exit 126: This account is currently not available.']);
  assert.equal(sessionCheck('web-1', ssh, gathered(), undefined).status, 'ok');
});
