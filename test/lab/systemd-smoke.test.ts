// Systemd lab hosts are what the production-like tests trust: prove they are real systemd machines with separate
// stores, own addresses, a nix-daemon, sudo users, reboots, cuts, shaping, and that teardown leaves nothing behind.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { cgroupPids, hierarchies, labCgroup, labNixEnv, PROFILE, instantiateStandIn, readSystemState, readWitness, up } from '../../lab/index.js';
import { requireSystemdLabCapable, useSystemdLab, type SystemdLab } from './support.js';

const LAB_INDEX = fileURLToPath(new URL('../../lab/index.ts', import.meta.url));

async function buildLocally(lab: SystemdLab, name: string): Promise<string> {
  const { drv, out } = await instantiateStandIn(lab, { name, nonce: randomUUID() });
  await execa('nix-store', ['--realise', drv], { env: labNixEnv });
  return out;
}

const copyTo = (lab: SystemdLab, target: string, paths: string[]) =>
  execa('nix-copy-closure', ['--to', target, ...paths], { env: { ...labNixEnv, NIX_SSHOPTS: `-F ${lab.sshConfig}` }, reject: false });

const inStore = async (lab: SystemdLab, host: string, path: string) => (await lab.exec(host, ['nix-store', '--check-validity', path])).exitCode === 0;

/** Namespaces (net, mnt) of every live process, and every process whose command line names dir. */
function scanProcesses(dir: string): { ns: Set<string>; naming: string[] } {
  const ns = new Set<string>();
  const naming: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    for (const kind of ['net', 'mnt']) {
      try {
        ns.add(readlinkSync(`/proc/${entry}/ns/${kind}`));
      } catch {
        // gone
      }
    }
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(dir)) naming.push(`${entry}: ${cmd}`);
    } catch {
      // gone
    }
  }
  return { ns, naming };
}

function labNamespaces(pids: number[]): Set<string> {
  const own = new Set(['net', 'mnt'].map((k) => readlinkSync(`/proc/self/ns/${k}`)));
  const found = new Set<string>();
  for (const pid of pids) {
    for (const kind of ['net', 'mnt']) {
      try {
        const ns = readlinkSync(`/proc/${pid}/ns/${kind}`);
        if (!own.has(ns)) found.add(ns);
      } catch {
        // gone
      }
    }
  }
  return found;
}

const isLive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** What a torn-down lab must not leave: processes, namespaces, mounts, cgroups, the uplink veth. */
function leftovers(lab: { dir: string; id: string; uplink: string }, pids: number[], namespaces: Set<string>): string[] {
  const scan = scanProcesses(lab.dir);
  return [
    ...pids.filter(isLive).map((pid) => `process ${pid}`),
    ...[...namespaces].filter((ns) => scan.ns.has(ns)).map((ns) => `namespace ${ns}`),
    ...scan.naming.map((p) => `process naming the lab dir: ${p}`),
    ...(readFileSync('/proc/self/mountinfo', 'utf8').includes(lab.dir) ? ['a mount under the lab dir'] : []),
    ...hierarchies().all.map((h) => `${h}/${labCgroup(lab.id)}`).filter((d) => existsSync(d)).map((d) => `cgroup ${d}`),
    ...(existsSync(`/sys/class/net/${lab.uplink}`) ? [`veth ${lab.uplink}`] : []),
  ];
}

describe('systemd lab smoke', { skip: requireSystemdLabCapable() }, () => {
  const ctx = useSystemdLab({ before, after }, { hosts: ['alpha', 'beta', 'gamma'] });
  const names = ['alpha', 'beta', 'gamma'];

  test('systemd is PID 1 and the system is running; each host has its own name', async () => {
    for (const name of names) {
      assert.equal((await ctx.lab.exec(name, ['cat', '/proc/1/comm'])).stdout.trim(), 'systemd', name);
      const state = await ctx.lab.exec(name, ['systemctl', 'is-system-running', '--wait']);
      assert.equal(state.stdout.trim(), 'running', `${name}: ${state.stdout}${state.stderr}`);
      const r = await ctx.lab.ssh(name, ['hostname']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout.trim(), name);
      assert.equal((await ctx.lab.exec(name, ['systemctl', 'is-active', 'ssh.service', 'nix-daemon.socket'])).stdout.trim(), 'active\nactive');
    }
    assert.notEqual(hostname(), 'alpha');
  });

  test('each host has its own addresses in 198.18.0.0/15 and fd66:6c65::/32, v4 and v6 both reachable; no route out', async () => {
    for (const h of ctx.lab.hosts) {
      assert.match(h.v4, /^198\.1[89]\.\d+\.\d+$/);
      assert.match(h.v6, /^fd66:6c65:/);
      const addrs = (await ctx.lab.exec(h.name, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
      assert.match(addrs, new RegExp(`inet ${h.v4.replaceAll('.', '\\.')}/24`), h.name);
      assert.match(addrs, new RegExp(`inet6 ${h.v6}/64`), h.name);
      const v6 = await ctx.lab.ssh(h.aliases.v6, ['hostname']);
      assert.equal(v6.exitCode, 0, v6.stderr);
      assert.equal(v6.stdout.trim(), h.name, 'over IPv6');
      const alt = await ctx.lab.ssh(h.v4, ['hostname'], ['-p', String(h.altPort)]);
      assert.equal(alt.stdout.trim(), h.name, `sshd also on port ${h.altPort}: ${alt.stderr}`);
      const routes = (await ctx.lab.exec(h.name, ['ip', 'route', 'show', 'default'])).stdout + (await ctx.lab.exec(h.name, ['ip', '-6', 'route', 'show', 'default'])).stdout;
      assert.equal(routes.trim(), '', `${h.name}: no default route`);
    }
    const addresses = ctx.lab.hosts.flatMap((h) => [h.v4, h.v6]);
    assert.equal(new Set(addresses).size, addresses.length, 'all addresses differ');
  });

  test('separate stores: a path copied to one host (as root) is in that store only', async () => {
    const out = await buildLocally(ctx.lab, 'sd-smoke-copy');
    const copy = await copyTo(ctx.lab, 'alpha', [out]);
    assert.equal(copy.exitCode, 0, copy.stderr);
    assert.equal(await inStore(ctx.lab, 'alpha', out), true);
    assert.equal(await inStore(ctx.lab, 'beta', out), false);
    assert.equal(await inStore(ctx.lab, 'gamma', out), false);
  });

  test('a non-root copy goes through the nix-daemon: the path is root-owned and the daemon logged the deploy user', async () => {
    const out = await buildLocally(ctx.lab, 'sd-smoke-daemon');
    const copy = await copyTo(ctx.lab, 'beta-deploy', [out]);
    assert.equal(copy.exitCode, 0, copy.stderr);
    assert.equal(await inStore(ctx.lab, 'beta', out), true);
    assert.equal((await ctx.lab.exec('beta', ['stat', '-c', '%U', out])).stdout.trim(), 'root', 'written by the daemon, not by deploy');
    const daemon = (await ctx.lab.exec('beta', ['journalctl', '-u', 'nix-daemon.service', '-o', 'cat', '--no-pager'])).stdout;
    assert.match(daemon, /accepted connection from pid \d+, user deploy/);
  });

  test('deploy has passwordless sudo; deploy-pw\'s sudo asks for the lab\'s password', async () => {
    const sudo = await ctx.lab.ssh('alpha-deploy', ['sudo', '-n', 'id', '-u']);
    assert.equal(sudo.stdout.trim(), '0', sudo.stderr);
    const noPw = await ctx.lab.ssh('alpha-deploy-pw', ['sudo', '-n', 'id', '-u']);
    assert.notEqual(noPw.exitCode, 0);
    assert.match(noPw.stderr, /a password is required/);
    // The password on sudo's stdin, never in argv.
    const withPw = (password: string) => execa('ssh', ['-F', ctx.lab.sshConfig, 'alpha-deploy-pw', '--', "sudo -S -p '' id -u"], { input: `${password}\n`, reject: false });
    const right = await withPw(ctx.lab.sudoPassword);
    assert.equal(right.stdout.trim(), '0', right.stderr);
    const wrong = await withPw(`${ctx.lab.sudoPassword}x`);
    assert.notEqual(wrong.exitCode, 0, 'a wrong password is refused');
  });

  test('handshakes are counted per host, from the host\'s own sshd journal', async () => {
    const [a, b] = [await ctx.lab.handshakes('alpha'), await ctx.lab.handshakes('beta')];
    assert.equal((await ctx.lab.ssh('alpha', ['true'])).exitCode, 0);
    assert.equal((await ctx.lab.ssh('alpha-v6', ['true'])).exitCode, 0);
    assert.equal(await ctx.lab.handshakes('alpha'), a + 2);
    assert.equal(await ctx.lab.handshakes('beta'), b, 'other hosts saw no login');
  });

  test('a build on a host appends to the witness the deployer reads', async () => {
    const { drv, out } = await instantiateStandIn(ctx.lab, { name: 'sd-smoke-witness', nonce: randomUUID() });
    assert.equal((await copyTo(ctx.lab, 'gamma', [drv])).exitCode, 0);
    const before = (await readWitness(ctx.lab)).length;
    const built = await ctx.lab.ssh('gamma', ['nix-store', '--realise', drv]);
    assert.equal(built.stdout.trim(), out, built.stderr);
    assert.deepEqual((await readWitness(ctx.lab)).slice(before), ['gamma sd-smoke-witness']);
  });

  test('reboot keeps the store and the profile and boots the boot entry (current and booted system)', async (t) => {
    const { drv, out } = await instantiateStandIn(ctx.lab, { name: 'sd-smoke-boot', nonce: randomUUID() });
    await execa('nix-store', ['--realise', drv], { env: labNixEnv });
    assert.equal((await copyTo(ctx.lab, 'gamma', [out])).exitCode, 0);
    assert.equal((await ctx.lab.exec('gamma', ['nix-env', '-p', PROFILE, '--set', out])).exitCode, 0);
    const boot = await ctx.lab.exec('gamma', [`${out}/bin/switch-to-configuration`, 'boot']);
    assert.equal(boot.exitCode, 0, boot.stderr);
    assert.equal((await readSystemState(ctx.lab, 'gamma')).current, undefined, 'boot does not change the running system');
    const pid1 = ctx.lab.pid1('gamma');
    const started = performance.now();
    await ctx.lab.reboot('gamma');
    t.diagnostic(`reboot until ssh answers: ${Math.round(performance.now() - started)} ms`);
    assert.notEqual(ctx.lab.pid1('gamma'), pid1, 'a new boot: a new systemd');
    assert.deepEqual(await readSystemState(ctx.lab, 'gamma'), { current: out, link: 'system-1-link', profile: out });
    assert.equal((await ctx.lab.exec('gamma', ['readlink', '/run/booted-system'])).stdout.trim(), out);
    assert.equal(await inStore(ctx.lab, 'gamma', out), true, 'the store survived');
    assert.equal((await ctx.lab.exec('gamma', ['systemctl', 'is-system-running', '--wait'])).stdout.trim(), 'running');
    assert.equal((await ctx.lab.ssh('gamma-v6', ['true'])).exitCode, 0, 'IPv6 works after the reboot (the netns outlives boots)');
  });

  test('cut: the host takes its own link down; new connections fail; it comes back by itself or on restore', async () => {
    await ctx.lab.cut('beta');
    const cutOff = await ctx.lab.ssh('beta', ['true'], ['-o', 'ConnectTimeout=1']);
    assert.equal(cutOff.exitCode, 255, 'no new ssh connection while cut');
    assert.equal((await ctx.lab.exec('beta', ['ip', '-o', 'link', 'show', 'eth0'])).stdout.includes('state DOWN'), true, 'the host itself sees its link down');
    await ctx.lab.restore('beta');
    await ctx.lab.waitSsh('beta', 10_000);
    await ctx.lab.waitSsh('beta-v6', 10_000); // keep_addr_on_down: v6 survives a cut
    await ctx.lab.cut('beta', 1);
    assert.equal((await ctx.lab.ssh('beta', ['true'], ['-o', 'ConnectTimeout=1'])).exitCode, 255);
    await ctx.lab.waitSsh('beta', 15_000); // came back without restore()
  });

  test('shape: a rate limit (tbf both ways) and a delay relay in front of sshd; {} removes both', async () => {
    const alpha = ctx.lab.hosts.find((h) => h.name === 'alpha')!;
    await ctx.lab.shape('alpha', { rateMbit: 100, delayMs: 20 });
    const delayed = await ctx.lab.ssh(alpha.aliases.delayed, ['hostname']);
    assert.equal(delayed.stdout.trim(), 'alpha', delayed.stderr);
    const sshd = (await ctx.lab.exec('alpha', ['journalctl', '-t', 'sshd', '-o', 'cat', '--no-pager'])).stdout;
    assert.match(sshd, /Accepted publickey for root from 127\.0\.0\.1/, 'the delayed login came through the relay');
    const qdiscs = await ctx.lab.qdiscs('alpha');
    assert.match(qdiscs, /tbf .*rate 100Mbit/);
    assert.match(qdiscs, /^ifb-p\d+: qdisc tbf .*rate 100Mbit/m, 'upload shaped through the ifb');
    await ctx.lab.shape('alpha', {});
    assert.doesNotMatch(await ctx.lab.qdiscs('alpha'), /tbf/);
    assert.equal((await ctx.lab.ssh(alpha.aliases.delayed, ['true'], ['-o', 'ConnectTimeout=2'])).exitCode, 255, 'relay gone');
    assert.equal((await ctx.lab.ssh('alpha', ['true'])).exitCode, 0);
  });

  test('a second lab coexists: its own subnet, cgroup and host names; taking it down leaves this one running', async () => {
    const other = await up({ kind: 'systemd', hosts: ['alpha'] });
    try {
      assert.notEqual(other.subnet.k, ctx.lab.subnet.k);
      assert.notEqual(other.id, ctx.lab.id);
      assert.equal((await other.ssh('alpha', ['hostname'])).stdout.trim(), 'alpha');
      assert.notEqual(other.hosts[0]!.v4, ctx.lab.hosts[0]!.v4);
    } finally {
      await other.down();
    }
    assert.equal((await ctx.lab.ssh('alpha', ['true'])).exitCode, 0);
    assert.equal((await ctx.lab.exec('alpha', ['systemctl', 'is-system-running'])).stdout.trim(), 'running');
  });

  test('teardown leaves no process, namespace, mount, cgroup or veth behind', async () => {
    const lab = ctx.lab;
    const pids = cgroupPids(labCgroup(lab.id));
    assert.ok(pids.length > 10, `the lab's processes are in its cgroup (${pids.length})`);
    const namespaces = labNamespaces(pids);
    assert.ok(namespaces.size >= 2 * names.length, 'each host has its own net and mount namespaces');
    await lab.stop();
    await lab.stop(); // idempotent
    assert.deepEqual(leftovers({ dir: lab.dir, id: lab.id, uplink: lab.subnet.uplink }, pids, namespaces), []);
  });
});

describe('systemd lab teardown when its process dies', { skip: requireSystemdLabCapable() }, () => {
  // A child process starts a one-host lab, reports it, then dies: by a signal, or by an uncaught error.
  const script = (ending: string) => `import { up, cgroupPids, labCgroup } from ${JSON.stringify(LAB_INDEX)};
const lab = await up({ kind: 'systemd', hosts: 1 });
console.log(JSON.stringify({ dir: lab.dir, id: lab.id, uplink: lab.subnet.uplink, pids: cgroupPids(labCgroup(lab.id)) }));
${ending}`;

  for (const [how, ending, signal] of [
    ['SIGTERM', 'setInterval(() => {}, 1000);', 'SIGTERM'],
    ['SIGINT', 'setInterval(() => {}, 1000);', 'SIGINT'],
    ['an uncaught error', 'setTimeout(() => { throw new Error("test failed on purpose"); }, 10);', undefined],
  ] as const) {
    test(`killed by ${how}: nothing is left`, async () => {
      const child = execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(ending)], { reject: false, timeout: 120_000 });
      let info: { dir: string; id: string; uplink: string; pids: number[] } | undefined;
      let namespaces = new Set<string>();
      child.stdout!.on('data', (chunk: Buffer) => {
        if (info) return;
        info = JSON.parse(chunk.toString().split('\n')[0]!) as typeof info;
        namespaces = labNamespaces(info!.pids);
        if (signal) child.kill(signal);
      });
      const r = await child;
      assert.ok(info, `the child never reported its lab: ${r.stderr}`);
      assert.notEqual(r.exitCode, 0);
      assert.ok(namespaces.size >= 2, 'the lab had namespaces of its own');
      assert.deepEqual(leftovers(info, info.pids, namespaces), []);
      await execa('rm', ['-rf', '--one-file-system', info.dir]);
    });
  }
});
