// Waiting for a lab's hosts, all of them in one loop: each sshd says in its own log that it listens (a file read,
// where a probe connection per host would cost a forked sshd each), and its listener is in a namespace of its own;
// then real SSH logins through the lab's ssh_config on the first and the last host prove what every host shares
// (the client key, authorized_keys, the ssh_config and known_hosts as written). 100 logins would cost ~10 s of CPU.
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import type { SpawnedHost } from './host.js';
import { readMountNamespace } from './procs.js';

export interface ReadyHost extends SpawnedHost {
  sshdPid: number;
  mntns: string;
}

async function readTail(path: string, lines: number): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Why a host did not come up, with the logs a person needs to see. */
async function describeFailure(h: SpawnedHost, reason: string, lastSsh = ''): Promise<Error> {
  const log = await readTail(`${h.dir}/sshd.log`, 20);
  const setup = await readTail(`${h.dir}/setup.log`, 10);
  return new Error(
    `lab host ${h.name} (port ${h.port}) ${reason}\n` +
      (lastSsh ? `last ssh attempt: ${lastSsh}\n` : '') +
      `--- ${h.dir}/sshd.log (tail) ---\n${log || '(empty)'}\n` +
      (setup ? `--- ${h.dir}/setup.log ---\n${setup}\n` : ''),
  );
}

/** sshd -E writes this once it has bound its port (after loading its config and host key). */
const listening = (h: SpawnedHost) => `Server listening on 127.0.0.1 port ${h.port}.`;

/** A host whose port was taken between picking and binding it: started again on another port (at most this often). */
const RESTARTS = 3;

/**
 * Resolves once every host listens in its own namespace; a host whose sshd found its port taken is started again
 * through `restart` (on another port). Fails early (with the host's logs) when a host's process died otherwise,
 * or at `deadline` (ms since the epoch).
 */
export async function waitHostsListening(hosts: SpawnedHost[], deadline: number, restart?: (h: SpawnedHost) => Promise<SpawnedHost>): Promise<ReadyHost[]> {
  const current = new Map(hosts.map((h) => [h.name, h]));
  const exited = new Set<SpawnedHost>();
  const watch = (h: SpawnedHost) => void h.process.then(() => exited.add(h));
  hosts.forEach(watch);
  const restarts = new Map<string, number>();
  let waiting = hosts;
  while (waiting.length > 0) {
    for (const dead of waiting.filter((h) => exited.has(h))) {
      const log = await readFile(`${dead.dir}/sshd.log`, 'utf8').catch(() => '');
      const tries = restarts.get(dead.name) ?? 0;
      if (!restart || !log.includes('Address already in use') || tries >= RESTARTS) throw await describeFailure(dead, 'exited before listening');
      restarts.set(dead.name, tries + 1);
      const again = await restart(dead);
      watch(again);
      current.set(dead.name, again);
      waiting = waiting.map((h) => (h === dead ? again : h));
    }
    if (Date.now() > deadline) throw await describeFailure(waiting[0]!, `did not listen in time (${waiting.length} hosts still waiting)`);
    const logs = await Promise.all(waiting.map((h) => readFile(`${h.dir}/sshd.log`, 'utf8').catch(() => '')));
    waiting = waiting.filter((h, i) => !logs[i]!.includes(listening(h)));
    if (waiting.length > 0) await sleep(50);
  }
  return Promise.all(hosts.map(async (h) => {
    const now = current.get(h.name)!;
    return { ...now, ...(await readIdentity(now, deadline)) };
  }));
}

/** Real logins on the first and the last host: what every host shares works (see the top of this file). */
export async function checkLogins(hosts: SpawnedHost[], sshConfig: string, deadline: number): Promise<void> {
  const probes = [...new Set([hosts[0]!, hosts.at(-1)!])];
  await Promise.all(probes.map((h) => login(h, sshConfig, deadline)));
}

/** A real login (the client side as fleet uses it: the lab's ssh_config, strict host key checking), retried until the deadline. */
async function login(h: SpawnedHost, sshConfig: string, deadline: number): Promise<void> {
  let last = '';
  do {
    const r = await execa('ssh', ['-F', sshConfig, '-o', 'ConnectTimeout=5', h.name, 'true'], { reject: false, stdin: 'ignore' });
    if (r.exitCode === 0) return;
    last = `exit ${r.exitCode}: ${r.stderr.trim()}`;
    await sleep(100);
  } while (Date.now() < deadline);
  throw await describeFailure(h, 'listens but refused an SSH login', last);
}

/** The listener's pid and the namespace it lives in; recorded so any process can clean up later. */
async function readIdentity(h: SpawnedHost, deadline: number): Promise<{ sshdPid: number; mntns: string }> {
  // sshd writes its pid file right after it logs that it listens.
  let sshdPid = 0;
  while (!(sshdPid > 0) && Date.now() < deadline) {
    sshdPid = Number((await readFile(`${h.dir}/sshd.pid`, 'utf8').catch(() => '')).trim());
    if (!(sshdPid > 0)) await sleep(20);
  }
  const mntns = readMountNamespace(sshdPid);
  if (!mntns || mntns === readMountNamespace(process.pid) || mntns === readMountNamespace(1)) {
    throw new Error(`lab host ${h.name}: sshd (pid ${sshdPid}) is not in a namespace of its own`);
  }
  await writeFile(`${h.dir}/mntns`, `${mntns}\n`);
  return { sshdPid, mntns };
}
