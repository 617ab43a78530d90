// One systemd lab host: its identity in its own overlay upper layer, and its launcher (own mount namespace, own
// cgroup, `systemd-nspawn -b` in a loop that honours reboots).
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { generateKeyPair } from '../keys.js';
import { hierarchies, inCgroup } from './cgroup.js';
import { renderEtcHosts, renderHostNixConf, type HostAddresses } from './config-files.js';
import { DEPLOY_PW_USER, DEPLOY_USER } from './layer-script.js';

// In a private mount namespace (the temporary overlay dies with it). $1 host dir, $2 lowerdir; stdin: chpasswd input.
const PREPARE_SCRIPT = `set -eu
hd=$1; lower=$2; i=$hd/identity; m=$hd/prepare
mkdir -p "$m" "$hd/upper" "$hd/work" "$hd/nix"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$hd/upper,workdir=$hd/work" "$m"
cp "$i/hostname" "$m/etc/hostname"
cp "$i/hosts" "$m/etc/hosts"
cp "$i/machine-id" "$m/etc/machine-id"
install -m 600 "$i/ssh_host_ed25519_key" "$m/etc/ssh/ssh_host_ed25519_key"
install -m 644 "$i/ssh_host_ed25519_key.pub" "$m/etc/ssh/ssh_host_ed25519_key.pub"
install -m 644 "$i/nix.conf" "$m/etc/nix/nix.conf"
install -m 600 "$i/authorized_keys" "$m/root/.ssh/authorized_keys"
for u in ${DEPLOY_USER} ${DEPLOY_PW_USER}; do
  install -m 600 "$i/authorized_keys" "$m/home/$u/.ssh/authorized_keys"
  chroot "$m" chown "$u:" "/home/$u/.ssh/authorized_keys"
done
chroot "$m" chpasswd
umount "$m"
rmdir "$m"
`;

// The host's supervisor: $1 host dir, $2 lowerdir, $3 machine name, $4 host name, $5 netns path, $6 witness file.
// Exit code 133 = the container asked for a reboot (systemctl reboot): boot it again, same upper layer and netns.
const LAUNCH_SCRIPT = `set -u
hd=$1; lower=$2; machine=$3; name=$4; net=$5; witness=$6
mkdir -p "$hd/root"
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$hd/upper,workdir=$hd/work" "$hd/root" || exit 1
while :; do
  echo "=== boot $(date +%T.%N)"
  systemd-nspawn --quiet --register=no --keep-unit --machine="$machine" --hostname="$name" -D "$hd/root" \\
    --network-namespace-path="$net" --capability=CAP_NET_ADMIN --bind="$hd/nix:/nix" --bind="$witness" \\
    --console=passive -b </dev/null
  rc=$?
  echo "=== nspawn exited $rc"
  [ "$rc" = 133 ] || exit "$rc"
done
`;

export interface HostSpec extends HostAddresses {
  dir: string;
  index: number; // 1-based: bridge port p<index>
  trustedUsers: string[];
}

/** Writes the host's identity into <dir>/upper (through a temporary overlay mount); returns its public host key. */
export async function prepareHost(h: HostSpec, lower: string, clientPublicKey: string, sudoPassword: string): Promise<string> {
  const id = `${h.dir}/identity`;
  await mkdir(id, { recursive: true });
  const publicKey = await generateKeyPair(`${id}/ssh_host_ed25519_key`, `lab-host-${h.name}`);
  await writeFile(`${id}/hostname`, `${h.name}\n`);
  await writeFile(`${id}/hosts`, renderEtcHosts(h));
  await writeFile(`${id}/machine-id`, `${randomBytes(16).toString('hex')}\n`);
  await writeFile(`${id}/nix.conf`, renderHostNixConf(h.name, h.trustedUsers));
  await writeFile(`${id}/authorized_keys`, `${clientPublicKey}\n`);
  // The password goes through stdin, never argv.
  const r = await execa('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', PREPARE_SCRIPT, 'fleet-lab-prepare', h.dir, lower], {
    input: `${DEPLOY_PW_USER}:${sudoPassword}\n`,
    reject: false,
  });
  if (r.exitCode !== 0) throw new Error(`preparing systemd lab host ${h.name} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return publicKey;
}

/** Starts the host's supervisor, detached (setsid), output to <dir>/console.log; returns its pid. */
export async function launchHost(h: HostSpec, o: { lower: string; cgroup: string; machine: string; anchorPid: number; witness: string }): Promise<number> {
  const argv = inCgroup(`${o.cgroup}/${h.name}`, ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', LAUNCH_SCRIPT, 'fleet-lab-host',
    h.dir, o.lower, o.machine, h.name, `/proc/${o.anchorPid}/ns/net`, o.witness]);
  const pid = spawnDetached(argv, `${h.dir}/console.log`);
  if (pid === undefined) throw new Error(`could not start systemd lab host ${h.name}`);
  return pid;
}

/**
 * Starts argv in its own session with stdout+stderr appended to log through a plain file descriptor: never a pipe
 * to this process, which may exit long before (scripts/lab.ts up) and must not be kept alive by it.
 */
export function spawnDetached(argv: string[], log: string): number | undefined {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd], detached: true });
    child.on('error', () => undefined); // reported as an undefined pid
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** The container's systemd (PID 1 in its pid namespace), found in the host's cgroup; undefined while it is not up. */
export function findPid1(cgroup: string, host: string): number | undefined {
  const payload = `${hierarchies().v2}/${cgroup}/${host}/payload`;
  for (const dir of [`${payload}/init.scope`, payload, ...subdirs(payload)]) {
    for (const pid of readPids(dir)) if (isContainerInit(pid)) return pid;
  }
  return undefined;
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${dir}/${e.name}`);
  } catch {
    return [];
  }
}

function readPids(dir: string): number[] {
  try {
    return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function isContainerInit(pid: number): boolean {
  try {
    const nspid = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/) ?? [];
    return nspid.length > 1 && nspid.at(-1) === '1';
  } catch {
    return false;
  }
}

export async function readTail(path: string, lines: number): Promise<string> {
  return (await readFile(path, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-lines).join('\n');
}
