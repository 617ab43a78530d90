// The Lab object handed to tests: inspect hosts from outside (nsenter), count handshakes, stop.
import { rm } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { nixConfig } from './config-files.js';
import { writeLabFleet } from './fleet-file.js';
import { isAlive, listNamespacePids, readMountNamespace } from './procs.js';
import { downAndMaybeKeep } from './keep.js';
import { waitHostsGone } from './persisted.js';
import type { Lab, LabHost } from './types.js';

export interface RunningHost extends LabHost {
  mntns: string;
  process: ResultPromise;
}

export interface LabParts {
  dir: string;
  sshConfig: string;
  knownHosts: string;
  key: string;
  witness: string;
  hosts: RunningHost[];
  baselines: number[]; // handshakes already in each log when the lab became ready (its readiness login)
  unregister: () => void;
  countAccepted: (hostDir: string) => Promise<number>;
}

/** A process inside the host's namespaces: unshare while it lives, else anything left in there. */
function pickNamespacePid(h: RunningHost): number {
  const candidates = [h.pid, h.sshdPid].filter((pid) => isAlive(pid) && readMountNamespace(pid) === h.mntns);
  const pid = candidates[0] ?? listNamespacePids(h)[0];
  if (pid === undefined) throw new Error(`lab host ${h.name} has no process left: its namespaces are gone`);
  return pid;
}

/** A light host's deploy records: in its own directory (its / is the machine's, shared by every host). */
export function stateDirOf(host: Pick<LabHost, 'dir'>): string {
  return `${host.dir}/fleet-state`;
}

async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([Promise.allSettled(promises), timeout]);
  clearTimeout(timer);
}

export function makeLab(p: LabParts): Lab {
  let stopping: Promise<void> | undefined;
  const find = (name: string): { host: RunningHost; index: number } => {
    const index = p.hosts.findIndex((h) => h.name === name);
    const host = p.hosts[index];
    if (!host) throw new Error(`no lab host named ${name} (hosts: ${p.hosts.map((h) => h.name).join(', ')})`);
    return { host, index };
  };
  const stopAll = async () => {
    p.unregister();
    await waitHostsGone(p.hosts, 10_000);
    await settleWithin(p.hosts.map((h) => h.process), 5_000);
  };
  const lab: Lab = {
    kind: 'light',
    dir: p.dir,
    hosts: p.hosts.map(({ name, port, dir, pid, sshdPid }) => ({ name, port, dir, pid, sshdPid })),
    sshConfig: p.sshConfig,
    knownHosts: p.knownHosts,
    key: p.key,
    witness: p.witness,
    async exec(name, argv) {
      const pid = pickNamespacePid(find(name).host);
      const r = await execa('nsenter', ['-t', String(pid), '-m', '-u', '--', ...argv], {
        reject: false,
        stdin: 'ignore',
        env: { NIX_CONFIG: nixConfig },
      });
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    async handshakes(name) {
      const { host, index } = find(name);
      return (await p.countAccepted(host.dir)) - (p.baselines[index] ?? 0);
    },
    async stop(opts) {
      stopping ??= stopAll();
      await stopping;
      if (opts?.remove) await rm(p.dir, { recursive: true, force: true });
    },
    down: () => downAndMaybeKeep(lab),
    writeFleet: (opts) => writeLabFleet({ dir: p.dir, sshConfig: p.sshConfig, names: p.hosts.map((h) => h.name), stateDirOf: (name) => stateDirOf(find(name).host) }, opts),
  };
  return lab;
}

