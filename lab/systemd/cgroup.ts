// One cgroup subtree per systemd lab: every process of the lab (anchors, relays, nspawn, each container's systemd
// and the sessions sshd forks, processes started by lab.exec) lives in it, so teardown is one write to cgroup.kill.
// Synchronous on purpose: it must also run in a process 'exit' hook.
import { existsSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';

const ROOT = '/sys/fs/cgroup';

/** Hierarchies nspawn needs the lab in: hybrid = name=systemd (v1) + unified (v2); pure v2 = the one tree. */
export function hierarchies(): { all: string[]; v2: string } {
  if (existsSync(`${ROOT}/unified/cgroup.procs`)) return { all: [`${ROOT}/systemd`, `${ROOT}/unified`], v2: `${ROOT}/unified` };
  if (existsSync(`${ROOT}/cgroup.controllers`)) return { all: [ROOT], v2: ROOT };
  throw new Error(`no cgroup v2 hierarchy at ${ROOT}/unified or ${ROOT}: the systemd lab needs cgroup.kill`);
}

export const labCgroup = (labId: string) => `fleet-lab/${labId}`;

/**
 * argv prefix that moves the process into <cgroup> in every hierarchy, then execs the rest (the cgroup is joined
 * before the real program starts, so nothing it forks can escape).
 */
export function inCgroup(cgroup: string, argv: string[]): string[] {
  const dirs = hierarchies().all.map((h) => `${h}/${cgroup}`);
  const script = 'n=$1; shift; i=0; while [ $i -lt "$n" ]; do mkdir -p "$1"; echo $$ > "$1/cgroup.procs"; shift; i=$((i+1)); done; exec "$@"';
  return ['sh', '-c', script, 'fleet-lab-cgroup', String(dirs.length), ...dirs, ...argv];
}

/** Every pid in the subtree (v2 view). */
export function cgroupPids(cgroup: string): number[] {
  const pids: number[] = [];
  const walk = (dir: string) => {
    try {
      for (const line of readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n')) if (line) pids.push(Number(line));
      for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(`${dir}/${entry.name}`);
    } catch {
      // gone meanwhile
    }
  };
  walk(`${hierarchies().v2}/${cgroup}`);
  return pids;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function populated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(readFileSync(`${dir}/cgroup.events`, 'utf8'));
  } catch {
    return false;
  }
}

function rmdirTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((e) => statSync(`${dir}/${e}`).isDirectory());
  } catch {
    return;
  }
  for (const e of entries) rmdirTree(`${dir}/${e}`);
  try {
    rmdirSync(dir);
  } catch {
    // a v1 cgroup whose last process is still exiting: the caller retries
  }
}

/**
 * Kills every process in the subtree, waits until it is empty and removes it in every hierarchy.
 * Returns the cgroup dirs still present (empty = clean).
 */
export function killCgroupSync(cgroup: string, timeoutMs = 10_000): string[] {
  const { all, v2 } = hierarchies();
  const top = `${v2}/${cgroup}`;
  const deadline = Date.now() + timeoutMs;
  if (existsSync(top)) {
    writeFileSync(`${top}/cgroup.kill`, '1');
    while (populated(top) && Date.now() < deadline) sleepSync(20);
  }
  let left: string[] = [];
  do {
    for (const h of all) rmdirTree(`${h}/${cgroup}`);
    left = all.map((h) => `${h}/${cgroup}`).filter((d) => existsSync(d));
    if (left.length > 0) sleepSync(20);
  } while (left.length > 0 && Date.now() < deadline);
  // The shared parent goes when the last lab leaves it (another lab may still be in there: then it stays).
  for (const h of all) {
    try {
      rmdirSync(`${h}/fleet-lab`);
    } catch {
      // not empty or gone
    }
  }
  return left;
}
