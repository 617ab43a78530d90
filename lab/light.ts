// The light lab: N real hosts on this machine, each a real sshd on 127.0.0.1 with its own Nix store, /run and
// host name (mount+UTS namespaces). See ../shared/LAB.md; lab/index.ts is the lab's API.
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { assertConfigSafePath, renderKnownHosts, renderSshConfig } from './config-files.js';
import { registerCleanup } from './cleanup.js';
import { findExecutable } from './which.js';
import { prepareHost, spawnHost, waitHostReady, type ReadyHost, type SpawnedHost } from './host.js';
import { prepareClient } from './keys.js';
import { pickFreePorts } from './ports.js';
import { killHostSync, type HostProcs } from './procs.js';
import { readLabStatus, waitHostsGone, writeManifest } from './persisted.js';
import { makeLab } from './lab.js';
import type { Lab } from './types.js';

export interface StartLabOptions {
  names: string[];
  dir?: string; // default: a fresh short dir under /tmp (ssh control sockets are limited to 108 bytes)
  ports?: number[];
  detach?: boolean; // leave the hosts running after this process exits (scripts/lab.ts up)
  readyTimeoutMs?: number; // per host, default 30 s
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function validateOptions(opts: StartLabOptions): void {
  if (opts.names.length === 0) throw new Error('startLab: no host names');
  const bad = opts.names.filter((n) => !namePattern.test(n));
  if (bad.length > 0) throw new Error(`startLab: invalid host names: ${bad.join(', ')}`);
  if (new Set(opts.names).size !== opts.names.length) throw new Error('startLab: duplicate host names');
  if (opts.ports && opts.ports.length !== opts.names.length) throw new Error('startLab: need one port per host name');
  if (opts.ports?.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) throw new Error('startLab: ports are integers 1-65535');
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
 * Brings all hosts up in parallel and resolves once each accepted an SSH login (bounded wait; the error carries
 * the sshd log tail). Unless detached, the hosts die with this process (exit, SIGINT, SIGTERM).
 */
export async function startLab(opts: StartLabOptions): Promise<Lab> {
  validateOptions(opts);
  const sshd = findSshd();
  const dir = await makeLabDir(opts.dir);
  const ports = opts.ports ?? (await pickFreePorts(opts.names.length));
  const { key, clientPublicKey, witness } = await prepareClient(dir);

  const prepared = await Promise.all(opts.names.map((name, i) => prepareHost(dir, name, ports[i] ?? 0, clientPublicKey)));
  const knownHosts = `${dir}/known_hosts`;
  const sshConfig = `${dir}/ssh_config`;
  await writeFile(knownHosts, renderKnownHosts(prepared));
  await writeFile(sshConfig, renderSshConfig(prepared, { key, knownHosts }));

  await writeManifest({ dir, sshConfig, knownHosts, key, witness, hosts: prepared.map(({ name, port, dir }) => ({ name, port, dir })) });

  // Filled in as hosts spawn and come up: what the exit/signal cleanup kills.
  const procs: HostProcs[] = [];
  const spawned: SpawnedHost[] = [];
  const killAll = () => procs.forEach((h) => killHostSync(h));
  const unregister = opts.detach ? () => undefined : registerCleanup(killAll);
  try {
    for (const h of prepared) {
      const s = await spawnHost(h, sshd, opts.detach ?? false);
      spawned.push(s);
      procs.push({ dir: s.dir, pid: s.pid });
    }
    const results = await Promise.allSettled(
      spawned.map(async (h, i) => {
        const ready = await waitHostReady(h, sshConfig, opts.readyTimeoutMs ?? 30_000);
        procs[i] = { dir: ready.dir, pid: ready.pid, sshdPid: ready.sshdPid, mntns: ready.mntns };
        return ready;
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const hosts = results.map((r) => (r as PromiseFulfilledResult<ReadyHost>).value);
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
