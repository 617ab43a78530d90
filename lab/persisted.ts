// What a lab leaves on disk (lab.json, pidfiles, mntns) so another process can inspect or stop it.
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { downSystemdLab, readSystemdManifest } from './systemd/lab.js';
import { isAlive, killHostSync, listHostPids, snapshotNamespaces, type HostProcs } from './procs.js';

export interface LabManifest {
  dir: string;
  sshConfig: string;
  knownHosts: string;
  key: string;
  witness: string;
  hosts: { name: string; port: number; dir: string }[];
}

export interface HostStatus {
  name: string;
  port: number;
  dir: string;
  running: boolean;
  pids: number[];
}

export async function writeManifest(m: LabManifest): Promise<void> {
  await writeFile(`${m.dir}/lab.json`, `${JSON.stringify(m, null, 2)}\n`);
}

async function readManifest(dir: string): Promise<LabManifest> {
  const text = await readFile(`${dir}/lab.json`, 'utf8').catch(() => {
    throw new Error(`${dir} holds no lab (no lab.json)`);
  });
  return JSON.parse(text) as LabManifest;
}

async function readPidFile(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

async function readHostProcs(hostDir: string): Promise<HostProcs> {
  const mntns = (await readFile(`${hostDir}/mntns`, 'utf8').catch(() => '')).trim();
  return {
    dir: hostDir,
    pid: await readPidFile(`${hostDir}/unshare.pid`),
    sshdPid: await readPidFile(`${hostDir}/sshd.pid`),
    ...(mntns ? { mntns } : {}),
  };
}

/**
 * Kills the hosts' processes until none is left (sessions may fork meanwhile); throws naming survivors after
 * timeoutMs. A killed process loses its namespace and command line before it is gone: track pids once signalled.
 */
export async function waitHostsGone(hosts: HostProcs[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const signalled = new Set<number>();
  for (;;) {
    const snapshot = snapshotNamespaces(); // one pass over /proc for every host, not one per host
    for (const h of hosts) killHostSync(h, snapshot).forEach((pid) => signalled.add(pid));
    const left = [...signalled].filter(isAlive);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`lab processes still alive after ${timeoutMs} ms: ${left.join(' ')}`);
    await sleep(20);
  }
}

export async function readLabStatus(dir: string): Promise<{ manifest: LabManifest; hosts: HostStatus[] }> {
  const manifest = await readManifest(dir);
  const snapshot = snapshotNamespaces();
  const hosts = await Promise.all(
    manifest.hosts.map(async (h) => {
      const pids = listHostPids(await readHostProcs(h.dir), snapshot);
      return { ...h, running: pids.length > 0, pids };
    }),
  );
  return { manifest, hosts };
}

/** Kills every process of the lab in dir (light: by its pidfiles and namespaces; systemd: its cgroup) and waits for them. */
export async function downLab(dir: string): Promise<string[]> {
  const systemd = await readSystemdManifest(dir);
  if (systemd) return (await downSystemdLab(systemd)) ? systemd.hosts.map((h) => h.name) : [];
  const manifest = await readManifest(dir);
  const hosts = await Promise.all(manifest.hosts.map(async (h) => ({ name: h.name, procs: await readHostProcs(h.dir) })));
  const snapshot = snapshotNamespaces();
  const running = hosts.filter((h) => listHostPids(h.procs, snapshot).length > 0).map((h) => h.name);
  await waitHostsGone(hosts.map((h) => h.procs), 10_000);
  return running;
}
