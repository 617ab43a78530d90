// Finding and killing a lab host's processes: by pid, and by its mount namespace, which also catches
// sessions sshd forked (they outlive the listener). Synchronous so it can run in a process 'exit' hook.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

/** What a host leaves on disk so any process (scripts/lab.ts down) can find and kill it. */
export interface HostProcs {
  dir: string; // the host dir, which every host process's command line names
  pid?: number; // unshare
  sshdPid?: number;
  mntns?: string; // e.g. "mnt:[4026532281]"
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export function readMountNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [statSync(a), statSync(b)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

/** Live processes (not this one) by mount namespace: one pass over /proc serves every host of a lab. */
export type NamespaceSnapshot = ReadonlyMap<string, readonly number[]>;

export function snapshotNamespaces(): NamespaceSnapshot {
  const byNamespace = new Map<string, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const ns = pid === process.pid ? undefined : readMountNamespace(pid);
    if (ns === undefined || !isAlive(pid)) continue;
    const list = byNamespace.get(ns);
    if (list) list.push(pid);
    else byNamespace.set(ns, [pid]);
  }
  return byNamespace;
}

/**
 * Every live process in the host's mount namespace. The kernel reuses a namespace's id once it is gone, so the id
 * alone may name a later host's namespace: it is the host's only if its /nix is the host's own nix dir.
 */
export function listNamespacePids(h: { dir: string; mntns: string }, snapshot: NamespaceSnapshot = snapshotNamespaces()): number[] {
  const pids = [...(snapshot.get(h.mntns) ?? [])];
  return pids.some((pid) => sameFile(`/proc/${pid}/root/nix`, `${h.dir}/nix`)) ? pids : [];
}

/** The host's own processes still alive; a recorded pid counts only if it still names the host dir (no pid reuse). */
export function listHostPids(h: HostProcs, snapshot?: NamespaceSnapshot): number[] {
  const namesDir = (pid: number) => h.dir.length > 1 && /[/ ]/.test(readCmdline(pid).split(h.dir)[1]?.[0] ?? '');
  const inNamespace = h.mntns !== undefined && h.mntns !== readMountNamespace(process.pid) ? listNamespacePids({ dir: h.dir, mntns: h.mntns }, snapshot) : [];
  const own = [h.pid, h.sshdPid].filter((pid): pid is number => pid !== undefined && isAlive(pid) && (namesDir(pid) || inNamespace.includes(pid)));
  return [...new Set([...own, ...inNamespace])];
}

/** SIGKILLs the host's processes; returns the pids signalled. */
export function killHostSync(h: HostProcs, snapshot?: NamespaceSnapshot): number[] {
  const pids = listHostPids(h, snapshot);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids;
}
