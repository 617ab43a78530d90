// One lab host: its files and its unshare+sshd process. What every host shares (the client's key in one
// authorized_keys, one /etc/nix) is written once per lab (SharedFiles); lab/ready.ts waits for the hosts.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { execa, type ResultPromise } from 'execa';
import { renderNixConf, renderSshdConfig } from './config-files.js';
import { generateKeyPair } from './keys.js';

// Runs inside the new namespaces; fixed text, values come as positional arguments ($1 dir, $2 name, $3 sshd, $4 etc-nix).
const hostScript = `set -eu
mount --bind "$1/nix" /nix
mount --bind "$4" /etc/nix
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

/** Read-only parts every host of a lab uses alike: written once, not once per host. */
export interface SharedFiles {
  authorizedKeys: string; // the client's public key
  etcNix: string; // a directory with nix.conf, bind-mounted as each host's /etc/nix
}

export async function writeSharedFiles(labDir: string, clientPublicKey: string): Promise<SharedFiles> {
  const shared = { authorizedKeys: `${labDir}/authorized_keys`, etcNix: `${labDir}/etc-nix` };
  await mkdir(shared.etcNix, { recursive: true });
  await writeFile(`${shared.etcNix}/nix.conf`, renderNixConf());
  await writeFile(shared.authorizedKeys, `${clientPublicKey}\n`);
  return shared;
}

/** Creates <lab>/<name> afresh: host key, sshd_config, its own empty home and Nix store. */
export async function prepareHost(labDir: string, name: string, port: number, shared: SharedFiles): Promise<PreparedHost> {
  const dir = `${labDir}/${name}`;
  if (await stat(dir).catch(() => undefined)) {
    // Only ever wipe what a previous lab left; refuse to delete anything else.
    if (!(await stat(`${dir}/sshd_config`).catch(() => undefined))) throw new Error(`${dir} exists and is not a lab host dir`);
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(`${dir}/nix/store`, { recursive: true });
  await mkdir(`${dir}/nix/var/nix`, { recursive: true });
  const publicKey = await generateKeyPair(`${dir}/ssh_host_ed25519_key`, `lab-host-${name}`);
  // Its own empty /root: a remote machine does not run this machine's shell start-up files (~90 ms a session here).
  await mkdir(`${dir}/home`);
  await writeFile(`${dir}/sshd_config`, renderSshdConfig({ dir, port, authorizedKeys: shared.authorizedKeys }));
  return { name, port, dir, publicKey };
}

export async function spawnHost(h: PreparedHost, sshd: string, shared: SharedFiles, detach: boolean): Promise<SpawnedHost> {
  // --propagation private: nothing mounted in there leaks back to the machine (what `mount --make-rprivate /` did, one process less).
  const argv = ['--mount', '--propagation', 'private', '--uts', '--fork', '--kill-child', '--', 'sh', '-c', hostScript, 'lab-host', h.dir, h.name, sshd, shared.etcNix];
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
