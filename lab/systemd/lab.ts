// The systemd lab: N hosts that boot systemd under systemd-nspawn, each with its own overlay root, /nix, nix-daemon,
// users, network namespace and cgroup; see ../../../shared/LAB.md "Systemd hosts". Tests and scripts/lab.ts start it.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { quoteArgv } from '../../src/transport/quote.js';
import { registerCleanup } from '../cleanup.js';
import { assertConfigSafePath } from '../config-files.js';
import { writeLabFleet } from '../fleet-file.js';
import { prepareClient } from '../keys.js';
import { downAndMaybeKeep } from '../keep.js';
import type { ExecResult } from '../types.js';
import { cgroupPids, inCgroup, killCgroupSync, labCgroup } from './cgroup.js';
import { DELAYED_SSH_PORT, hostAliases, renderSystemdKnownHosts, renderSystemdSshConfig } from './config-files.js';
import { findPid1, launchHost, prepareHost, readTail, spawnDetached, type HostSpec } from './host.js';
import { ALT_SSH_PORT, DEPLOY_PW_USER, DEPLOY_USER } from './layer-script.js';
import { connectHost, createSwitch, shapeRate, spawnAnchor, type Shape, type Subnet } from './net.js';
import { ensureRootfs } from './rootfs.js';
import type { SystemdLab, SystemdLabHost, SystemdLabOptions } from './types.js';

const namePattern = /^[a-z][a-z0-9-]{0,30}$/; // a host name, a cgroup name and part of an nspawn machine name
const DEFAULT_TRUSTED = ['root', DEPLOY_USER, DEPLOY_PW_USER];
const RELAY = fileURLToPath(new URL('./delay-relay.ts', import.meta.url));
const ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' };

/** What `npm run lab -- down DIR` needs to tear a systemd lab down from another process. */
export interface SystemdManifest {
  kind: 'systemd';
  dir: string;
  id: string;
  cgroup: string;
  uplink: string;
  sshConfig: string;
  knownHosts: string;
  key: string;
  witness: string;
  hosts: { name: string; dir: string; v4: string; v6: string }[];
}

function hostNames(hosts: number | string[]): string[] {
  const names = typeof hosts === 'number' ? Array.from({ length: hosts }, (_v, i) => `n${i + 1}`) : hosts;
  if (names.length === 0 || names.length > 200) throw new Error('systemd lab: 1-200 hosts');
  const bad = names.filter((n) => !namePattern.test(n));
  if (bad.length > 0) throw new Error(`systemd lab: invalid host names (lower-case letters, digits, -): ${bad.join(', ')}`);
  if (new Set(names).size !== names.length) throw new Error('systemd lab: duplicate host names');
  return names;
}

async function makeLabDir(dir: string | undefined): Promise<string> {
  const labDir = dir ? resolve(dir) : await mkdtemp('/tmp/fl-');
  assertConfigSafePath(labDir);
  // overlayfs options and nspawn --bind split on these
  if (/[,:]/.test(labDir)) throw new Error(`systemd lab dir must not contain , or : (${labDir})`);
  if (existsSync(`${labDir}/lab.json`)) throw new Error(`${labDir} holds a lab: stop it first with \`npm run lab -- down ${labDir}\``);
  await mkdir(labDir, { recursive: true });
  await chmod(labDir, 0o755); // builds run as nixbld users: they must reach the witness inside
  return labDir;
}

function tcpAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port, timeout: 1000 });
    const end = (ok: boolean) => (socket.destroy(), done(ok));
    socket.once('connect', () => end(true));
    socket.once('error', () => end(false));
    socket.once('timeout', () => end(false));
  });
}

export async function upSystemdLab(opts: SystemdLabOptions): Promise<SystemdLab> {
  const started = Date.now();
  const names = hostNames(opts.hosts);
  if (process.getuid?.() !== 0) throw new Error('the systemd lab needs root (namespaces, cgroups, overlay mounts)');
  const rootfs = await ensureRootfs();
  const lower = `${rootfs.layer}:${rootfs.base}`;
  const dir = await makeLabDir(opts.dir);
  const ownDir = opts.dir === undefined;
  const id = `fl${randomBytes(3).toString('hex')}`;
  const cgroup = labCgroup(id);
  const { key, clientPublicKey, witness } = await prepareClient(dir);
  const sudoPassword = randomBytes(9).toString('base64url');
  const knownHosts = `${dir}/known_hosts`;
  const sshConfig = `${dir}/ssh_config`;

  const teardown = () => killCgroupSync(cgroup);
  const unregister = opts.detach ? () => undefined : registerCleanup(() => void teardown());
  try {
    const switchPid = await spawnAnchor(`${cgroup}/infra`);
    const net = await createSwitch(switchPid);
    const specs: HostSpec[] = names.map((name, i) => ({
      name, dir: `${dir}/${name}`, index: i + 1, v4: net.v4(i + 2), v6: net.v6(i + 2), trustedUsers: opts.trustedUsers?.[name] ?? DEFAULT_TRUSTED,
    }));
    const manifest: SystemdManifest = { kind: 'systemd', dir, id, cgroup, uplink: net.uplink, sshConfig, knownHosts, key, witness,
      hosts: specs.map(({ name, dir: d, v4, v6 }) => ({ name, dir: d, v4, v6 })) };
    await writeFile(`${dir}/lab.json`, `${JSON.stringify(manifest, null, 2)}\n`);
    await raiseInotifyInstances();
    // Hosts are prepared and wired one after another (2 cores; mostly process start-up), then boot in parallel.
    const wired: { spec: HostSpec; anchorPid: number; port: string; publicKey: string }[] = [];
    for (const spec of specs) {
      await mkdir(spec.dir, { recursive: true });
      const publicKey = await prepareHost(spec, lower, clientPublicKey, sudoPassword);
      const anchorPid = await spawnAnchor(`${cgroup}/infra`);
      const port = await connectHost(net, switchPid, anchorPid, spec.index, spec.index + 1);
      await launchHost(spec, { lower, cgroup, machine: `${id}-${spec.name}`, anchorPid, witness });
      wired.push({ spec, anchorPid, port, publicKey });
    }
    await writeFile(knownHosts, renderSystemdKnownHosts(wired.map((w) => ({ ...w.spec, publicKey: w.publicKey }))));
    await writeFile(sshConfig, renderSystemdSshConfig(specs, { key, knownHosts }));
    const lab = makeSystemdLab({ dir, id, cgroup, net, switchPid, sshConfig, knownHosts, key, witness, sudoPassword, wired, unregister, teardown,
      timings: { rootfsMs: rootfs.ms, rootfsBuilt: rootfs.built, upMs: 0 } });
    await Promise.all(names.map((n) => lab.waitSsh(n, opts.readyTimeoutMs ?? 60_000)));
    lab.timings.upMs = Date.now() - started;
    return lab;
  } catch (error) {
    unregister();
    teardown();
    // A dir we made goes (unless kept for a post-mortem); a given one keeps its logs but no longer claims a lab.
    if (ownDir && process.env.FLEET_LAB_KEEP !== '1') await rm(dir, { recursive: true, force: true });
    else await rm(`${dir}/lab.json`, { force: true });
    throw error;
  }
}

interface Parts {
  dir: string;
  id: string;
  cgroup: string;
  net: Subnet;
  switchPid: number;
  sshConfig: string;
  knownHosts: string;
  key: string;
  witness: string;
  sudoPassword: string;
  wired: { spec: HostSpec; anchorPid: number; port: string }[];
  unregister: () => void;
  teardown: () => string[];
  timings: SystemdLab['timings'];
}

function makeSystemdLab(p: Parts): SystemdLab {
  const ownLogins = new Map<string, number>(); // the lab's own successful ssh logins per host name
  const relays = new Map<string, number>(); // host -> delay relay pid
  let cuts = 0;
  let stopping: Promise<void> | undefined;
  const find = (name: string) => {
    const w = p.wired.find((x) => x.spec.name === name);
    if (!w) throw new Error(`no lab host named ${name} (hosts: ${p.wired.map((x) => x.spec.name).join(', ')})`);
    return w;
  };
  const hostOfAlias = (target: string) => p.wired.find((w) => Object.values(hostAliases(w.spec.name)).includes(target))?.spec.name;
  const pid1 = (name: string) => findPid1(p.cgroup, find(name).spec.name);

  const exec = async (name: string, argv: string[], opts?: { input?: string }): Promise<ExecResult> => {
    const pid = pid1(name);
    if (pid === undefined) throw new Error(`lab host ${name} is not running (no systemd in its cgroup); console:\n${await readTail(`${find(name).spec.dir}/console.log`, 15)}`);
    // In the lab's cgroup, so teardown also kills what an exec left running.
    const [file, ...args] = inCgroup(`${p.cgroup}/exec`, ['nsenter', '-t', String(pid), '-a', '--', ...argv]);
    const r = await execa(file!, args, { reject: false, env: ENV, extendEnv: false, ...(opts?.input === undefined ? { stdin: 'ignore' } : { input: opts.input }) });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  const ssh = async (target: string, argv: string[], extra: string[] = []): Promise<ExecResult> => {
    // The remote shell parses the command: quoted like fleet quotes its own (an empty argument stays one).
    const r = await execa('ssh', ['-F', p.sshConfig, ...extra, target, '--', quoteArgv(argv)], { reject: false, stdin: 'ignore' });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  const waitSsh = async (target: string, timeoutMs = 60_000) => {
    const host = hostOfAlias(target) ?? target;
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const r = await ssh(target, ['true'], ['-o', 'ConnectTimeout=1']);
      if (r.exitCode === 0) {
        ownLogins.set(host, (ownLogins.get(host) ?? 0) + 1);
        return;
      }
      last = r.stderr.trim();
      await sleep(100);
    }
    const console = find(host).spec.dir;
    throw new Error(`lab host ${target} did not accept an SSH login within ${timeoutMs / 1000}s; last ssh: ${last}\n--- ${console}/console.log (tail) ---\n${await readTail(`${console}/console.log`, 25)}`);
  };

  const linkUp = async (name: string): Promise<boolean> => {
    const r = await execa('nsenter', ['-t', String(find(name).anchorPid), '-n', 'ip', '-o', 'link', 'show', 'eth0'], { reject: false });
    return /<[^>]*\bUP\b[^>]*>/.test(r.stdout);
  };
  const waitLink = async (name: string, up: boolean) => {
    for (let i = 0; i < 200; i++) {
      if ((await linkUp(name)) === up) return;
      await sleep(25);
    }
    throw new Error(`lab host ${name}: eth0 never went ${up ? 'up' : 'down'}`);
  };

  const stopAll = async () => {
    p.unregister();
    const left = p.teardown();
    if (left.length > 0) throw new Error(`systemd lab ${p.id}: cgroups left after kill: ${left.join(' ')}`);
    // The uplink veth vanishes with the switch namespace, which the kernel frees asynchronously.
    for (let i = 0; i < 250 && existsSync(`/sys/class/net/${p.net.uplink}`); i++) await sleep(20);
    if (existsSync(`/sys/class/net/${p.net.uplink}`)) throw new Error(`systemd lab ${p.id}: ${p.net.uplink} still exists after teardown`);
  };

  const lab: SystemdLab = {
    kind: 'systemd',
    id: p.id,
    dir: p.dir,
    sshConfig: p.sshConfig,
    knownHosts: p.knownHosts,
    key: p.key,
    witness: p.witness,
    hosts: p.wired.map(({ spec }): SystemdLabHost => ({
      name: spec.name, dir: spec.dir, index: spec.index, v4: spec.v4, v6: spec.v6, port: 22, altPort: ALT_SSH_PORT, aliases: hostAliases(spec.name),
    })),
    subnet: { k: p.net.k, uplink: p.net.uplink, gateway4: p.net.v4(1), gateway6: p.net.v6(1) },
    users: { deploy: DEPLOY_USER, deployPw: DEPLOY_PW_USER },
    sudoPassword: p.sudoPassword,
    timings: p.timings,
    exec,
    ssh,
    waitSsh,
    pid1,
    async handshakes(name) {
      find(name);
      await exec(name, ['journalctl', '--sync']);
      const r = await exec(name, ['journalctl', '-t', 'sshd', '-o', 'cat', '-q', '--no-pager']);
      if (r.exitCode !== 0) throw new Error(`journalctl on ${name} failed: ${r.stderr}`);
      const accepted = r.stdout.split('\n').filter((l) => l.includes('Accepted publickey')).length;
      return accepted - (ownLogins.get(name) ?? 0);
    },
    async reboot(name, opts) {
      const timeoutMs = opts?.timeoutMs ?? 60_000;
      const before = pid1(name);
      await exec(name, ['systemctl', 'reboot']); // its exit status is lost with the old boot's processes
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = pid1(name);
        if (now !== undefined && now !== before) break;
        if (Date.now() > deadline) throw new Error(`lab host ${name} did not boot again within ${timeoutMs / 1000}s:\n${await readTail(`${find(name).spec.dir}/console.log`, 15)}`);
        await sleep(50);
      }
      await waitSsh(name, Math.max(1000, deadline - Date.now()));
    },
    async cut(name, seconds) {
      find(name);
      if (seconds !== undefined && !(seconds > 0)) throw new Error(`cut: seconds must be positive, got ${seconds}`);
      // A unit in the host, like a bad switch's own work: it outlives the exec and dies with the host.
      const argv = seconds === undefined
        ? ['ip', 'link', 'set', 'eth0', 'down']
        : ['systemd-run', `--unit=fleet-lab-cut-${++cuts}`, '--collect', '--quiet', '--', 'sh', '-c', 'ip link set eth0 down; sleep "$1"; ip link set eth0 up', 'fleet-lab-cut', String(seconds)];
      const r = await exec(name, argv);
      if (r.exitCode !== 0) throw new Error(`cut ${name} failed: ${r.stderr}`);
      await waitLink(name, false);
    },
    async restore(name) {
      const r = await exec(name, ['sh', '-c', 'systemctl stop "fleet-lab-cut-*" 2>/dev/null; ip link set eth0 up']);
      if (r.exitCode !== 0) throw new Error(`restore ${name} failed: ${r.stderr}`);
      await waitLink(name, true);
    },
    async shape(name, shape: Shape) {
      const w = find(name);
      await shapeRate(p.switchPid, w.port, shape.rateMbit);
      const old = relays.get(name);
      if (old !== undefined) {
        try {
          process.kill(old, 'SIGKILL');
        } catch {
          // already gone
        }
        relays.delete(name);
        for (let i = 0; i < 100 && (await tcpAccepts(w.spec.v4, DELAYED_SSH_PORT)); i++) await sleep(20);
      }
      if (shape.delayMs === undefined) return;
      if (!(shape.delayMs >= 0)) throw new Error(`shape: delayMs must be >= 0, got ${shape.delayMs}`);
      const argv = inCgroup(`${p.cgroup}/infra`, ['nsenter', '-t', String(w.anchorPid), '-n', process.execPath, '--import', import.meta.resolve('tsx'), RELAY,
        String(DELAYED_SSH_PORT), '127.0.0.1', '22', String(shape.delayMs)]);
      const pid = spawnDetached(argv, `${w.spec.dir}/delay-relay.log`);
      if (pid === undefined) throw new Error(`could not start the delay relay for ${name}`);
      relays.set(name, pid);
      for (let i = 0; i < 200; i++) {
        if (await tcpAccepts(w.spec.v4, DELAYED_SSH_PORT)) return;
        await sleep(50);
      }
      throw new Error(`the delay relay for ${name} did not listen:\n${await readTail(`${w.spec.dir}/delay-relay.log`, 10)}`);
    },
    async qdiscs(name) {
      const port = find(name).port;
      const lines = await Promise.all([port, `ifb-${port}`].map(async (dev) => {
        const r = await execa('nsenter', ['-t', String(p.switchPid), '-n', 'tc', 'qdisc', 'show', 'dev', dev], { reject: false });
        return r.stdout.split('\n').filter(Boolean).map((l) => `${dev}: ${l}`);
      }));
      return lines.flat().join('\n');
    },
    async stop(opts) {
      stopping ??= stopAll();
      await stopping;
      if (opts?.remove) await rm(p.dir, { recursive: true, force: true });
    },
    down: () => downAndMaybeKeep(lab),
    writeFleet(opts) {
      const hostOf = (name: string) => {
        const h = find(name).spec;
        return opts.address === 'alias' ? name : opts.address === 'v6' ? `[${h.v6}]` : h.v4;
      };
      return writeLabFleet({ dir: p.dir, sshConfig: p.sshConfig, names: p.wired.map((w) => w.spec.name), hostOf }, opts);
    },
  };
  return lab;
}

/** Tears down the systemd lab described by <dir>/lab.json (another process started it); returns whether it ran. */
export async function downSystemdLab(m: SystemdManifest): Promise<boolean> {
  const running = cgroupPids(m.cgroup).length > 0;
  const left = killCgroupSync(m.cgroup);
  if (left.length > 0) throw new Error(`cgroups left after kill: ${left.join(' ')}`);
  for (let i = 0; i < 250 && existsSync(`/sys/class/net/${m.uplink}`); i++) await sleep(20);
  return running;
}

export async function readSystemdManifest(dir: string): Promise<SystemdManifest | undefined> {
  const text = await readFile(`${dir}/lab.json`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const m = JSON.parse(text) as { kind?: string };
  return m.kind === 'systemd' ? (m as SystemdManifest) : undefined;
}

/** Every container's systemd takes inotify instances from root's one budget (128 by default): a few labs at once
 *  (a suite beside another, CI beside a developer) would fail to boot with "Too many open files". */
const INOTIFY_INSTANCES = 8192;
async function raiseInotifyInstances(): Promise<void> {
  const path = '/proc/sys/fs/inotify/max_user_instances';
  if (Number((await readFile(path, 'utf8')).trim()) < INOTIFY_INSTANCES) await writeFile(path, `${INOTIFY_INSTANCES}\n`);
}
