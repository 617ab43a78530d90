// One lab host: its files, its unshare+sshd process, and the wait until it accepts an SSH login.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { renderNixConf, renderSshdConfig } from './config-files.js';
import { generateKeyPair } from './keys.js';
import { readMountNamespace } from './procs.js';

// Runs inside the new namespaces; fixed text, values come as positional arguments ($1 dir, $2 name, $3 sshd).
const hostScript = `set -eu
mount --make-rprivate /
mount --bind "$1/nix" /nix
mount --bind "$1/etc-nix" /etc/nix
mount --bind "$1/home" /root
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd /run/fleet-lab
hostname "$2"
echo $$ > /run/fleet-lab/sshd.pid
exec "$3" -D -f "$1/sshd_config" -E "$1/sshd.log"
`;

export interface PreparedHost {
  name: string;
  port: number;
  dir: string;
  publicKey: string; // the host key, for known_hosts
}

export interface SpawnedHost extends PreparedHost {
  pid: number;
  process: ResultPromise;
}

/** Creates <lab>/<name> afresh: host key, authorized_keys, sshd_config, its /etc/nix, an empty Nix store. */
export async function prepareHost(labDir: string, name: string, port: number, clientPublicKey: string): Promise<PreparedHost> {
  const dir = `${labDir}/${name}`;
  if (await stat(dir).catch(() => undefined)) {
    // Only ever wipe what a previous lab left; refuse to delete anything else.
    if (!(await stat(`${dir}/sshd_config`).catch(() => undefined))) throw new Error(`${dir} exists and is not a lab host dir`);
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(`${dir}/nix/store`, { recursive: true });
  await mkdir(`${dir}/nix/var/nix`, { recursive: true });
  const publicKey = await generateKeyPair(`${dir}/ssh_host_ed25519_key`, `lab-host-${name}`);
  await mkdir(`${dir}/etc-nix`);
  // Its own empty /root: a remote machine does not run this machine's shell start-up files (~90 ms a session here).
  await mkdir(`${dir}/home`);
  await writeFile(`${dir}/etc-nix/nix.conf`, renderNixConf(name));
  await writeFile(`${dir}/authorized_keys`, `${clientPublicKey}\n`);
  await writeFile(`${dir}/sshd_config`, renderSshdConfig({ dir, port }));
  return { name, port, dir, publicKey };
}

export async function spawnHost(h: PreparedHost, sshd: string, detach: boolean): Promise<SpawnedHost> {
  const argv = ['--mount', '--uts', '--fork', '--kill-child', '--', 'sh', '-c', hostScript, 'lab-host', h.dir, h.name, sshd];
  // A file, not a pipe: a detached host must not depend on this process reading its output.
  const setupLog = createWriteStream(`${h.dir}/setup.log`, { flags: 'a' });
  await once(setupLog, 'open');
  const subprocess = execa('unshare', argv, {
    reject: false,
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: setupLog,
    detached: detach,
    cleanup: !detach,
  });
  setupLog.close();
  if (subprocess.pid === undefined) throw new Error(`could not start unshare for lab host ${h.name}`);
  await writeFile(`${h.dir}/unshare.pid`, `${subprocess.pid}\n`);
  if (detach) subprocess.unref();
  return { ...h, pid: subprocess.pid, process: subprocess };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 500 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

async function readTail(path: string, lines: number): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Why a host did not come up, with the logs a person needs to see. */
async function describeFailure(h: SpawnedHost, reason: string, lastSsh: string): Promise<Error> {
  const log = await readTail(`${h.dir}/sshd.log`, 20);
  const setup = await readTail(`${h.dir}/setup.log`, 10);
  return new Error(
    `lab host ${h.name} (port ${h.port}) ${reason}\n` +
      (lastSsh ? `last ssh attempt: ${lastSsh}\n` : '') +
      `--- ${h.dir}/sshd.log (tail) ---\n${log || '(empty)'}\n` +
      (setup ? `--- ${h.dir}/setup.log ---\n${setup}\n` : ''),
  );
}

export interface ReadyHost extends SpawnedHost {
  sshdPid: number;
  mntns: string;
}

/** Waits (bounded) until the host accepts a real SSH login; fails early if its process died. */
export async function waitHostReady(h: SpawnedHost, sshConfig: string, timeoutMs: number): Promise<ReadyHost> {
  let exited = false;
  void h.process.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  let lastSsh = '';
  while (Date.now() < deadline) {
    if (exited) throw await describeFailure(h, 'exited before accepting SSH logins', lastSsh);
    if (await canConnect(h.port)) {
      const r = await execa('ssh', ['-F', sshConfig, '-o', 'ConnectTimeout=5', h.name, 'true'], { reject: false, stdin: 'ignore' });
      if (r.exitCode === 0) return { ...h, ...(await readIdentity(h)) };
      lastSsh = `exit ${r.exitCode}: ${r.stderr.trim()}`;
    }
    await sleep(50);
  }
  throw await describeFailure(h, `did not accept an SSH login within ${timeoutMs / 1000}s`, lastSsh);
}

/** The listener's pid and the namespace it lives in; recorded so any process can clean up later. */
async function readIdentity(h: SpawnedHost): Promise<{ sshdPid: number; mntns: string }> {
  const sshdPid = Number((await readFile(`${h.dir}/sshd.pid`, 'utf8')).trim());
  const mntns = readMountNamespace(sshdPid);
  if (!mntns || mntns === readMountNamespace(process.pid) || mntns === readMountNamespace(1)) {
    throw new Error(`lab host ${h.name}: sshd (pid ${sshdPid}) is not in a namespace of its own`);
  }
  await writeFile(`${h.dir}/mntns`, `${mntns}\n`);
  return { sshdPid, mntns };
}
