// The lab's network: a bridge in a "switch" network namespace, one namespace per host (held by an anchor process
// so its addresses survive the host's reboots), one veth from the bridge to this machine. IPv4 198.18.K.N/24
// (benchmarking range), IPv6 fd66:6c65:K::N/64; no default route anywhere: nothing leaves the lab.
import { spawn } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { inCgroup } from './cgroup.js';

export interface Subnet {
  k: number;
  uplink: string; // this machine's end of the lab: flab<K>
  v4: (n: number) => string;
  v6: (n: number) => string; // canonical form (what ssh matches in known_hosts)
}

export function subnet(k: number): Subnet {
  return {
    k,
    uplink: `flab${k}`,
    v4: (n) => `198.18.${k}.${n}`,
    v6: (n) => `fd66:6c65:${k.toString(16)}::${n.toString(16)}`,
  };
}

const netns = (pid: number | 'self') => {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
};

/** A process holding a fresh network namespace, in the lab's cgroup (dies with the lab). Returns its pid. */
export async function spawnAnchor(cgroup: string): Promise<number> {
  const [file, ...args] = inCgroup(cgroup, ['unshare', '--net', 'sleep', 'infinity']);
  // Never a pipe: a background anchor holding our stdout would hang the caller.
  const child = spawn(file!, args, { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start a network namespace anchor');
  const own = netns('self');
  for (let i = 0; i < 500; i++) {
    const ns = netns(pid);
    if (ns === undefined) throw new Error(`network namespace anchor ${pid} died before leaving this machine's namespace`);
    if (ns !== own) return pid;
    await sleep(5);
  }
  throw new Error(`network namespace anchor ${pid} never left this machine's namespace`);
}

async function run(argv: string[], input?: string): Promise<void> {
  const r = await execa(argv[0]!, argv.slice(1), { reject: false, ...(input === undefined ? { stdin: 'ignore' } : { input }) });
  if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.exitCode}): ${r.stderr.trim()}${input ? `\ninput:\n${input}` : ''}`);
}

/** `ip -batch` inside pid's network namespace; `ip link add a` would parse "a" as an address: always write `name`. */
export const ipIn = (pid: number, lines: string[]) => run(['nsenter', '-t', String(pid), '-n', 'ip', '-batch', '-'], `${lines.join('\n')}\n`);

/** Writes /proc/sys/net values inside pid's network namespace (they are per namespace). */
export const sysctlIn = (pid: number, settings: string[]) => run(['nsenter', '-t', String(pid), '-n', 'sysctl', '-qw', ...settings]);

async function usedV4Subnets(): Promise<Set<number>> {
  const r = await execa('ip', ['-o', '-4', 'addr', 'show'], { reject: false });
  return new Set([...r.stdout.matchAll(/inet 198\.18\.(\d+)\./g)].map((m) => Number(m[1])));
}

/**
 * Creates the switch (bridge br0 in the anchor's namespace) and its uplink to this machine, choosing K: the first
 * K whose uplink name is free (creating the link is the atomic claim; it vanishes with the switch namespace) and
 * whose 198.18.K.0/24 no interface here uses.
 */
export async function createSwitch(switchPid: number): Promise<Subnet> {
  await ipIn(switchPid, ['link set lo up', 'link add name br0 type bridge', 'link set br0 up']);
  const used = await usedV4Subnets();
  for (let k = 1; k < 255; k++) {
    if (used.has(k)) continue;
    const s = subnet(k);
    if (existsSync(`/sys/class/net/${s.uplink}`)) continue;
    const r = await execa('ip', ['link', 'add', 'name', s.uplink, 'type', 'veth', 'peer', 'name', 'up0', 'netns', String(switchPid)], { reject: false });
    if (r.exitCode !== 0) {
      if (/exists/i.test(r.stderr)) continue; // another lab claimed it meanwhile
      throw new Error(`ip link add ${s.uplink} failed: ${r.stderr.trim()}`);
    }
    await ipIn(switchPid, ['link set up0 master br0', 'link set up0 up']);
    await run(['sysctl', '-qw', `net.ipv6.conf.${s.uplink}.accept_dad=0`]);
    await run(['ip', '-batch', '-'], [`addr add ${s.v4(1)}/24 dev ${s.uplink}`, `addr add ${s.v6(1)}/64 dev ${s.uplink} nodad`, `link set ${s.uplink} up`, ''].join('\n'));
    return s;
  }
  throw new Error('no free lab subnet: 198.18.1-254.0/24 are all in use on this machine');
}

/** The host's port on the bridge (p<index>) and its eth0 with both addresses, in the host's own namespace. */
export async function connectHost(s: Subnet, switchPid: number, anchorPid: number, index: number, n: number): Promise<string> {
  const port = `p${index}`;
  await run(['ip', 'link', 'add', 'name', port, 'netns', String(switchPid), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(anchorPid)]);
  await ipIn(switchPid, [`link set ${port} master br0`, `link set ${port} up`]);
  // keep_addr_on_down: a link-down would delete the static v6 address (a cut would kill v6 for good); no DAD: v6
  // is usable at once instead of after 1-2 s.
  await sysctlIn(anchorPid, ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.eth0.accept_dad=0', 'net.ipv6.conf.eth0.keep_addr_on_down=1']);
  await ipIn(anchorPid, ['link set lo up', `addr add ${s.v4(n)}/24 dev eth0`, `addr add ${s.v6(n)}/64 dev eth0 nodad`, 'link set eth0 up']);
  return port;
}

export interface Shape {
  rateMbit?: number; // both directions, kernel tbf
  delayMs?: number; // each way, by a TCP relay in front of sshd (this kernel has no netem)
}

/** tbf on the bridge port (the host's download) and ingress -> ifb -> tbf (its upload); replaces earlier shaping. */
export async function shapeRate(switchPid: number, port: string, rateMbit: number | undefined): Promise<void> {
  const ifb = `ifb-${port}`;
  // Clearing what may not exist: errors are expected and ignored (-force keeps the batch going).
  await execa('nsenter', ['-t', String(switchPid), '-n', 'ip', '-force', '-batch', '-'], { input: `link del ${ifb}\n`, reject: false });
  await execa('nsenter', ['-t', String(switchPid), '-n', 'tc', '-force', '-batch', '-'], { input: `qdisc del dev ${port} root\nqdisc del dev ${port} ingress\n`, reject: false });
  if (rateMbit === undefined) return;
  if (!(rateMbit > 0)) throw new Error(`shape: rateMbit must be positive, got ${rateMbit}`);
  await ipIn(switchPid, [`link add name ${ifb} type ifb`, `link set ${ifb} up`]);
  const tbf = `tbf rate ${rateMbit}mbit burst 256k latency 100ms`;
  await run(['nsenter', '-t', String(switchPid), '-n', 'tc', '-batch', '-'], [
    `qdisc replace dev ${port} root ${tbf}`,
    `qdisc replace dev ${port} handle ffff: ingress`,
    `filter replace dev ${port} parent ffff: protocol all u32 match u32 0 0 action mirred egress redirect dev ${ifb}`,
    `qdisc replace dev ${ifb} root ${tbf}`,
    '',
  ].join('\n'));
}
