// fleet doctor on light lab hosts: a healthy lab is reported clean (one TCP probe, one SSH handshake and one session
// per host, from sshd's own logs); hosts broken on purpose (nix-store off the PATH of SSH sessions, an unknown host
// key, a full /nix, a noisy login shell, another run's lock) are each reported with the fix, checked on the host
// itself, and the fix applied as printed makes the check pass again.
import assert from 'node:assert/strict';
import { readdir, readFile, symlink, writeFile, mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import type { Lab, LabHost } from '../../lab/index.js';
import { lockPath } from '../../src/agent/lock.js';
import type { EventOf } from '../../src/events.js';
import { waitFor } from '../poll.js';
import { runFleet, type FleetRun } from './run-fleet.js';
import { requireLabCapable, useLab } from './support.js';

const NODES = ['l1', 'l2', 'l3', 'l4'];
const LOCK = lockPath('/nix/var/nix/profiles/system');

type Check = EventOf<'doctor-check'>;

function checksOf(run: FleetRun, host: string): Map<string, Check> {
  return new Map(run.events.filter((e): e is Check => e.type === 'doctor-check' && e.host === host).map((e) => [e.check, e]));
}

function checkOf(run: FleetRun, host: string, check: string): Check {
  const c = checksOf(run, host).get(check);
  assert.ok(c, `a ${check} check of ${host}; exit ${run.code}\n${run.stdout}\n${run.stderr}`);
  return c;
}

function summaryOf(run: FleetRun): EventOf<'doctor-summary'> {
  const s = run.events.at(-1);
  assert.ok(s?.type === 'doctor-summary', `doctor-summary last; exit ${run.code}\n${run.stderr}`);
  return s;
}

/** Not ok and not skipped, as `host check: status`: what a clean run must not have. */
function problems(run: FleetRun): string[] {
  return run.events.filter((e): e is Check => e.type === 'doctor-check' && (e.status === 'fail' || e.status === 'warn')).map((e) => `${e.host} ${e.check}: ${e.status}: ${e.detail}`);
}

async function countLog(host: LabHost, pattern: RegExp): Promise<number> {
  const log = await readFile(`${host.dir}/sshd.log`, 'utf8');
  return log.split('\n').filter((l) => pattern.test(l)).length;
}

describe('fleet doctor on light lab hosts', { skip: requireLabCapable() }, () => {
  const ctx = useLab({ before, after }, NODES);
  const lab = (): Lab => ctx.lab;
  const hostOf = (name: string) => lab().hosts.find((h) => h.name === name)!;
  let fleetFile: string;
  before(async () => {
    await writeFile(`${lab().dir}/hive.nix`, '{ }\n');
    fleetFile = await lab().writeFleet({ nixFile: `${lab().dir}/hive.nix` });
  });
  const doctor = (...args: string[]) => runFleet(['-f', fleetFile, 'doctor', '--json', ...args]);
  /** Runs a command over a new SSH session, as fleet's would (the lab's ssh_config, BatchMode). */
  const overSsh = (host: string, command: string) => execa('ssh', ['-F', lab().sshConfig, host, command], { reject: false });
  /** sshd re-reads its config on SIGHUP (it re-executes itself): wait until it accepts logins again. */
  const reloadSshd = async (host: LabHost) => {
    process.kill(host.sshdPid, 'SIGHUP');
    await waitFor(`sshd of ${host.name} to accept logins again`, async () => (await overSsh(host.name, 'true')).exitCode === 0);
  };

  test('a healthy lab: exit 0, no failure or warning; per host one TCP probe, one SSH handshake, one session (sshd logs)', async () => {
    const before = await Promise.all(lab().hosts.map(async (h) => ({ connections: await countLog(h, /^Connection from /), sessions: await countLog(h, /^Starting session: /), handshakes: await lab().handshakes(h.name) })));
    const run = await doctor();
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.deepEqual(problems(run), []);
    const start = run.events[0];
    assert.ok(start?.type === 'doctor-start');
    assert.deepEqual(start.hosts.map((h) => `${h.role}:${h.name}`), ['deployer:deployer', ...NODES.map((n) => `node:${n}`)]);
    for (const n of NODES) {
      const checks = checksOf(run, n);
      assert.deepEqual([...checks.keys()], ['resolve', 'reach', 'rtt', 'host-key', 'auth', 'session', 'nix-path', 'nix-version', 'store', 'trusted', 'sudo', 'activation', 'tools', 'disk-nix', 'disk-run', 'clock', 'lock', 'run-dirs']);
      assert.ok([...checks.values()].every((c) => c.status === 'ok'), n);
      assert.equal(checks.get('activation')!.detail, 'no systemd: activations are detached with setsid');
      assert.match(checks.get('reach')!.detail, new RegExp(`^127\\.0\\.0\\.1:${hostOf(n).port} answers: SSH-2\\.0-OpenSSH`));
    }
    assert.equal(summaryOf(run).exitCode, 0);
    for (const [i, h] of lab().hosts.entries()) {
      const b = before[i]!;
      assert.equal(await countLog(h, /^Connection from /) - b.connections, 2, `${h.name}: the TCP probe and the SSH connection`);
      assert.equal(await lab().handshakes(h.name) - b.handshakes, 1, `${h.name}: one SSH handshake`);
      assert.equal(await countLog(h, /^Starting session: /) - b.sessions, 1, `${h.name}: one session`);
    }
    const text = await runFleet(['-f', fleetFile, 'doctor']);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^deployer {2}local\n {2}ok {4}nix {10}nix-store \(Nix\) /);
    assert.match(text.stdout, /\nnode l1 {2}root@l1\n {2}ok {4}resolve {6}127\.0\.0\.1 is an address \(HostName of l1 in the ssh config\)\n/);
    assert.match(text.stdout, /\n5 machines, 76 checks: 75 ok, 1 skipped\n?$/);
  });

  test('nix-store off the PATH of SSH sessions (sshd SetEnv PATH): nix-path fails with the SetEnv line; applied, it passes', async () => {
    const h = hostOf('l2');
    const bin = `${h.dir}/bin-without-nix`;
    await mkdir(bin);
    for (const f of await readdir('/usr/bin')) if (!f.startsWith('nix')) await symlink(`/usr/bin/${f}`, `${bin}/${f}`);
    const config = await readFile(`${h.dir}/sshd_config`, 'utf8');
    await writeFile(`${h.dir}/sshd_config`, config.replace(/ PATH=\S+/, ` PATH=${bin}`));
    try {
      await reloadSshd(h);
      const broken = await overSsh('l2', 'command -v nix-store');
      assert.notEqual(broken.exitCode, 0, 'a session on l2 does not find nix-store');
      assert.equal((await overSsh('l2', 'echo $PATH')).stdout, bin);

      const run = await doctor('--on', 'l2');
      assert.equal(run.code, 1);
      const c = checkOf(run, 'l2', 'nix-path');
      assert.equal(c.status, 'fail');
      assert.equal(c.detail, `nix-store is in /usr/bin, which is not on the PATH of non-interactive SSH sessions (PATH=${bin}): nix-copy-closure fails there with "nix-store: command not found"`);
      const setEnv = /add `SetEnv (PATH=\S+)` to \/etc\/ssh\/sshd_config and reload sshd \(systemctl reload sshd\)/.exec(c.fix ?? '');
      assert.ok(setEnv, c.fix);
      assert.equal(setEnv[1], `PATH=${bin}:/usr/bin`);
      assert.deepEqual(problems(run), [`l2 nix-path: fail: ${c.detail}`], 'only nix-path: the other Nix checks used the nix-store it found');

      // The fix as printed: the session's PATH with nix-store's directory.
      await writeFile(`${h.dir}/sshd_config`, config.replace(/ PATH=\S+/, ` ${setEnv[1]}`));
      await reloadSshd(h);
      assert.equal((await overSsh('l2', 'command -v nix-store')).stdout, '/usr/bin/nix-store');
      const fixed = await doctor('--on', 'l2');
      assert.equal(fixed.code, 0, fixed.stdout);
      assert.equal(checkOf(fixed, 'l2', 'nix-path').detail, 'nix-store is /usr/bin/nix-store on the PATH of non-interactive SSH sessions');
    } finally {
      await writeFile(`${h.dir}/sshd_config`, config);
      await reloadSshd(h);
    }
  });

  test('an unknown host key: host-key fails with the known_hosts line (the host\'s own key); the login is tried, nothing else runs; the line added, it passes', async () => {
    const h = hostOf('l3');
    const name = `[127.0.0.1]:${h.port}`;
    const knownHosts = `${lab().dir}/known_hosts-without-l3`;
    const all = await readFile(lab().knownHosts, 'utf8');
    await writeFile(knownHosts, all.split('\n').filter((l) => !l.startsWith(`${name} `)).join('\n'));
    const sshConfig = `${lab().dir}/ssh_config-without-l3`;
    await writeFile(sshConfig, (await readFile(lab().sshConfig, 'utf8')).replaceAll(lab().knownHosts, knownHosts));
    const file = await lab().writeFleet({ nixFile: `${lab().dir}/hive.nix`, path: `${lab().dir}/fleet-without-l3.yaml`, defaults: { sshConfig } });
    const found = await execa('ssh-keygen', ['-F', name, '-f', knownHosts], { reject: false });
    assert.notEqual(found.exitCode, 0, `${name} is not in ${knownHosts}`);

    const sessions = await countLog(h, /^Starting session: /);
    const run = await runFleet(['-f', file, 'doctor', '--on', 'l3', '--json']);
    assert.equal(run.code, 1);
    const c = checkOf(run, 'l3', 'host-key');
    assert.equal(c.status, 'fail');
    assert.equal(c.detail, `unknown: 127.0.0.1 port ${h.port} is not in ${knownHosts}, and fleet never accepts a key unasked`);
    const hostKey = (await readFile(`${h.dir}/ssh_host_ed25519_key.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const fingerprint = (await execa('ssh-keygen', ['-l', '-f', `${h.dir}/ssh_host_ed25519_key.pub`])).stdout.split(' ')[1];
    assert.equal(c.fix, `add this line to ${knownHosts} (fingerprint ${fingerprint}: compare it with \`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` run on l3): ${name} ${hostKey}`);
    assert.equal(checkOf(run, 'l3', 'auth').detail, 'root@127.0.0.1 logs in without a prompt (BatchMode), with the key ssh-keyscan read trusted for this check only');
    assert.equal(checkOf(run, 'l3', 'nix-path').status, 'skip');
    assert.equal(await countLog(h, /^Starting session: /) - sessions, 1, 'one session: the login check\'s `true`, no doctor script');
    assert.equal(await readFile(knownHosts, 'utf8'), all.split('\n').filter((l) => !l.startsWith(`${name} `)).join('\n'), 'known_hosts untouched');

    await writeFile(knownHosts, `${await readFile(knownHosts, 'utf8')}\n${c.fix!.split('): ')[1]}\n`);
    const fixed = await runFleet(['-f', file, 'doctor', '--on', 'l3', '--json']);
    assert.equal(fixed.code, 0, fixed.stdout);
    assert.equal(checkOf(fixed, 'l3', 'host-key').detail, `known: ssh verified it (${knownHosts})`);
  });

  test('a full /nix (a small file system over it, filled): disk-nix fails with the fix, the Nix checks point at it; emptied, it passes', async () => {
    const full = '/run/fleet-lab/full';
    const fill = [`mkdir -p ${full}`, `mount -t tmpfs -o size=64m fleet-full ${full}`, `cp -a /nix/. ${full}/`, `mount --bind ${full} /nix`, 'dd if=/dev/zero of=/nix/fill bs=1M count=100 2>/dev/null || true'].join(' && ');
    const r = await lab().exec('l4', ['sh', '-c', fill]);
    assert.equal(r.exitCode, 0, r.stderr);
    try {
      const df = await lab().exec('l4', ['df', '-Pk', '/nix']);
      assert.match(df.stdout.split('\n')[1] ?? '', /^fleet-full\s+65536\s+\d+\s+0\s+100% \/nix$/, 'l4\'s /nix is full');
      const run = await doctor('--on', 'l4');
      assert.equal(run.code, 1);
      const c = checkOf(run, 'l4', 'disk-nix');
      assert.equal(c.status, 'fail');
      assert.equal(c.detail, '/nix has only 0 B free on l4: fleet wants at least 1.0 GiB; copies and builds there fail when it fills');
      assert.equal(c.fix, 'free space on l4: nix-collect-garbage --delete-older-than 14d as root (it also drops old system generations), or grow the file system');
      assert.equal(c.value, 0);
      for (const check of ['nix-version', 'store']) {
        assert.equal(checkOf(run, 'l4', check).fix, 'free space on /nix first (see disk-nix): Nix cannot even open its database on a full disk', check);
      }
      assert.equal(checkOf(run, 'l4', 'disk-run').status, 'ok');
    } finally {
      await lab().exec('l4', ['sh', '-c', `umount /nix; umount ${full}`]);
    }
    const fixed = await doctor('--on', 'l4');
    assert.equal(fixed.code, 0, fixed.stdout);
    assert.equal(checkOf(fixed, 'l4', 'disk-nix').status, 'ok');
  });

  test('a builder whose publicHostKey is not the machine\'s: host-key fails with the value to pin; pinned as printed, it passes', async () => {
    const h = hostOf('l1');
    const keyOf = async (name: string) => (await readFile(`${hostOf(name).dir}/ssh_host_ed25519_key.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const wrong = Buffer.from(await keyOf('l2')).toString('base64');
    const withKey = (publicHostKey: string) => lab().writeFleet({
      nixFile: `${lab().dir}/hive.nix`, path: `${lab().dir}/fleet-pinned.yaml`, nodes: { l1: { buildHost: 'bk' } },
      extra: { builders: { bk: { host: `ssh://root@127.0.0.1:${h.port}`, systems: ['x86_64-linux'], publicHostKey, sshOptions: ['-i', lab().key, '-o', 'IdentitiesOnly=yes'] } } },
    });
    const run = await runFleet(['-f', await withKey(wrong), 'doctor', '--on', 'l1', '--json']);
    assert.equal(run.code, 1, run.stderr);
    const c = checkOf(run, 'bk', 'host-key');
    assert.equal(c.role, 'builder');
    assert.match(c.detail, /^the machine's host key is not the publicHostKey of builder bk: /);
    const right = Buffer.from(await keyOf('l1')).toString('base64');
    assert.match(c.fix ?? '', new RegExp(`, set builder bk's publicHostKey in the fleet file to ${right.replace(/[+/=]/g, '\\$&')}$`));
    assert.equal(checkOf(run, 'l1', 'host-key').status, 'ok', 'the node itself, through the lab\'s known_hosts, is fine');

    const pinned = await runFleet(['-f', await withKey(/to (\S+)$/.exec(c.fix!)![1]!), 'doctor', '--on', 'l1', '--json']);
    assert.equal(pinned.code, 0, pinned.stdout);
    assert.equal(checkOf(pinned, 'bk', 'host-key').detail, 'matches the publicHostKey of builder bk');
    assert.match(checkOf(pinned, 'bk', 'systems').detail, /^builds x86_64-linux .*; declared x86_64-linux; builds for l1 \(x86_64-linux\)$/);
  });

  test('a login shell that prints on stdout (~/.bashrc): session fails, naming the line; another run\'s live lock and an unfinished run dir', async () => {
    const h = hostOf('l1');
    await writeFile(`${h.dir}/home/.bashrc`, 'echo "Welcome to l1"\n');
    const holder = `run=20261121T091502Z-3fa9c1d2 by=alice@laptop pid=4242 since=${Math.floor(Date.now() / 1000)} expires=${Math.floor(Date.now() / 1000) + 3600}`;
    const setup = `mkdir -p /run/fleet/locks /run/fleet/r1/l1 && ln -s '${holder}' ${LOCK} && : > /run/fleet/r1/l1/activate.log`;
    assert.equal((await lab().exec('l1', ['sh', '-c', setup])).exitCode, 0);
    try {
      assert.equal((await overSsh('l1', 'true')).stdout, 'Welcome to l1', 'the session prints it');
      const run = await doctor('--on', 'l1');
      assert.equal(run.code, 1);
      const s = checkOf(run, 'l1', 'session');
      assert.equal(s.detail, 'the login shell of root prints on stdout in a non-interactive session ("Welcome to l1"): nix-copy-closure and remote builds then fail with a protocol error');
      assert.equal(s.fix, 'make root\'s shell start-up files on l1 print only in interactive shells: at the top of ~/.bashrc, `case $- in *i*) ;; *) return ;; esac`, or send the output to stderr');
      const lock = checkOf(run, 'l1', 'lock');
      assert.equal(lock.status, 'fail');
      assert.match(lock.detail, /^held by run 20261121T091502Z-3fa9c1d2 \(alice@laptop, pid 4242\) since \S+, until \S+ unless renewed: an apply now leaves l1 alone \(locked\)$/);
      assert.equal(lock.fix, 'wait for that run to end; if it is gone (its deployer crashed), take the lock over: fleet apply --break-lock --on l1');
      const dirs = checkOf(run, 'l1', 'run-dirs');
      assert.match(dirs.detail, /^1 run dir in \/run\/fleet, [\d.]+ (B|KiB); 1 with an activation that has not written its status/);
      assert.equal((await lab().exec('l1', ['readlink', LOCK])).stdout, holder, 'the lock is read, not taken');
    } finally {
      await writeFile(`${h.dir}/home/.bashrc`, 'case $- in *i*) ;; *) return ;; esac\necho "Welcome to l1"\n');
      await lab().exec('l1', ['rm', '-rf', '/run/fleet']);
    }
    const fixed = await doctor('--on', 'l1');
    assert.equal(fixed.code, 0, fixed.stdout);
    assert.deepEqual(problems(fixed), [], 'the .bashrc fix as printed quiets the session');
  });
});
