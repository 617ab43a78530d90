// The light lab: N real hosts on this machine, each a real sshd on 127.0.0.1 with its own Nix store, /run and
// host name (mount+UTS namespaces). See ../shared/LAB.md; lab/index.ts is the lab's API.
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { assertConfigSafePath, renderKnownHosts, renderSshConfig } from './config-files.js';
import { registerCleanup } from './cleanup.js';
import { findExecutable } from './which.js';
import pLimit from 'p-limit';
import { prepareHost, spawnHost, writeSharedFiles, type PreparedHost, type SpawnedHost } from './host.js';
import { prepareClient } from './keys.js';
import { raiseOpenFileLimit } from './limits.js';
import { pickFreePorts } from './ports.js';
import { killHostSync, snapshotNamespaces, type HostProcs } from './procs.js';
import { checkLogins, waitHostsListening } from './ready.js';
import { readLabStatus, waitHostsGone, writeManifest } from './persisted.js';
import { makeLab } from './lab.js';
import type { Lab } from './types.js';

export interface StartLabOptions {
  names: string[];
  dir?: string; // default: a fresh short dir under /tmp (ssh control sockets are limited to 108 bytes)
  ports?: number[]; // fixed: a port found taken fails the lab
  tryPorts?: number[]; // preferred: a port found taken when the host's sshd binds it moves that host to a free one
  detach?: boolean; // leave the hosts running after this process exits (scripts/lab.ts up)
  readyTimeoutMs?: number; // until every host is up, default 30 s + 100 ms a host
}

/** Hosts prepared and started at once: enough to keep 2 cores busy, few enough not to thrash them. */
const STARTING = 16;
/** Open files a lab of n hosts may need in the process that drives it (and the fleet it starts, which inherits the limit). */
export const openFilesFor = (hosts: number) => 256 + 8 * hosts;

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function validateOptions(opts: StartLabOptions): void {
  if (opts.names.length === 0) throw new Error('startLab: no host names');
  const bad = opts.names.filter((n) => !namePattern.test(n));
  if (bad.length > 0) throw new Error(`startLab: invalid host names: ${bad.join(', ')}`);
  if (new Set(opts.names).size !== opts.names.length) throw new Error('startLab: duplicate host names');
  for (const ports of [opts.ports, opts.tryPorts]) {
    if (ports && ports.length !== opts.names.length) throw new Error('startLab: need one port per host name');
    if (ports?.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new Error('startLab: ports are integers 1-65535');
  }
}

/** sshd must be started by absolute path (it re-executes itself). */
function findSshd(): string {
  const sshd = findExecutable('sshd');
  if (!sshd) throw new Error('sshd not found (apt-get install openssh-server)');
  return sshd;
}

/** Reusing a dir wipes its hosts: never while they run. */
async function assertNotRunning(dir: string): Promise<void> {
  const status = await readLabStatus(dir).catch(() => undefined);
  const running = status?.hosts.filter((h) => h.running).map((h) => h.name) ?? [];
  if (running.length > 0) throw new Error(`a lab is running in ${dir} (${running.join(', ')}): stop it first with \`npm run lab -- down ${dir}\``);
}

async function makeLabDir(dir: string | undefined): Promise<string> {
  const labDir = dir ? resolve(dir) : await mkdtemp('/tmp/fl-');
  await assertNotRunning(labDir);
  await mkdir(labDir, { recursive: true });
  // Builds run as nixbld users: they must reach the witness file inside.
  await chmod(labDir, 0o755);
  assertConfigSafePath(labDir);
  return labDir;
}

/**
 * Brings all hosts up, STARTING at a time, and resolves once each listens and logins work (lab/ready.ts; bounded
 * wait, the error carries the sshd log tail). Unless detached, the hosts die with this process (exit, SIGINT, SIGTERM).
 */
export async function startLab(opts: StartLabOptions): Promise<Lab> {
  validateOptions(opts);
  raiseOpenFileLimit(openFilesFor(opts.names.length));
  const sshd = findSshd();
  const dir = await makeLabDir(opts.dir);
  const ports = opts.ports ?? opts.tryPorts ?? (await pickFreePorts(opts.names.length));
  const { key, clientPublicKey, witness } = await prepareClient(dir);
  const shared = await writeSharedFiles(dir, clientPublicKey);
  const starting = pLimit(STARTING);

  const prepared = await Promise.all(opts.names.map((name, i) => starting(() => prepareHost(dir, name, ports[i] ?? 0, shared))));
  const knownHosts = `${dir}/known_hosts`;
  const sshConfig = `${dir}/ssh_config`;
  // Written again once the hosts listen: a host may have moved to another port.
  const writeClientSide = async (hosts: PreparedHost[]) => {
    await writeFile(knownHosts, renderKnownHosts(hosts));
    await writeFile(sshConfig, renderSshConfig(hosts, { key, knownHosts }));
    await writeManifest({ dir, sshConfig, knownHosts, key, witness, hosts: hosts.map(({ name, port, dir }) => ({ name, port, dir })) });
  };
  await writeClientSide(prepared);

  // Filled in as hosts spawn and come up: what the exit/signal cleanup kills.
  const procs: HostProcs[] = [];
  const killAll = () => {
    const snapshot = snapshotNamespaces();
    procs.forEach((h) => killHostSync(h, snapshot));
  };
  const unregister = opts.detach ? () => undefined : registerCleanup(killAll);
  try {
    const spawn = async (h: PreparedHost) => {
      const s = await spawnHost(h, sshd, shared, opts.detach ?? false);
      procs.push({ dir: s.dir, pid: s.pid });
      return s;
    };
    const spawned = await Promise.all(prepared.map((h) => starting(() => spawn(h))));
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000 + 100 * spawned.length);
    const taken = new Set(ports);
    // Fixed ports (opts.ports) are the caller's: a taken one fails. Picked ones were free when picked, not always when bound.
    const restart = opts.ports ? undefined : async (h: SpawnedHost) => {
      const [port] = await pickFreePorts(1, taken);
      taken.add(port!);
      return spawn(await prepareHost(dir, h.name, port!, shared));
    };
    const hosts = await waitHostsListening(spawned, deadline, restart);
    if (hosts.some((h, i) => h.port !== prepared[i]!.port)) await writeClientSide(hosts);
    await checkLogins(hosts, sshConfig, deadline);
    procs.splice(0, procs.length, ...hosts.map((h) => ({ dir: h.dir, pid: h.pid, sshdPid: h.sshdPid, mntns: h.mntns })));
    const baselines = await Promise.all(hosts.map((h) => countAccepted(h.dir)));
    return makeLab({ dir, sshConfig, knownHosts, key, witness, hosts, baselines, unregister, countAccepted });
  } catch (error) {
    unregister();
    await waitHostsGone(procs, 10_000);
    throw error;
  }
}

/** "Accepted publickey" lines: one per SSH handshake (LogLevel VERBOSE). */
async function countAccepted(hostDir: string): Promise<number> {
  const log = await readFile(`${hostDir}/sshd.log`, 'utf8').catch(() => '');
  return log.split('\n').filter((line) => line.includes('Accepted publickey')).length;
}
