// The shared read-only root of every systemd lab host: a debootstrap'ed Debian (built once per machine) plus the
// lab layer (users, sshd, boot unit), both cached under /var/cache/fleet-lab keyed by a hash of their recipe.
// Built under a lock into a temp dir and renamed, so concurrent test files never build it twice or see half of it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { renderLayerScript } from './layer-script.js';

export const CACHE_DIR = process.env.FLEET_LAB_CACHE ?? '/var/cache/fleet-lab';

export const ROOTFS_RECIPE = {
  suite: 'bookworm',
  variant: 'minbase',
  // nix-setup-systemd: daemon units + nixbld users (nix-bin alone has neither); libdbi-perl: a dependency debootstrap's
  // resolver misses; busybox: httpd/nc for health-check tests (python3 is not in minbase).
  include: ['systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'nix-bin', 'nix-setup-systemd', 'libdbi-perl', 'sudo', 'iproute2', 'procps', 'busybox'],
} as const;

export interface Rootfs {
  base: string; // the debootstrap tree
  layer: string; // the lab layer (an overlay upper dir), stacked on base
  built: boolean; // this call built something (false: both were cached)
  ms: number;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

export function rootfsPaths(): { base: string; layer: string } {
  const baseKey = hash(JSON.stringify(ROOTFS_RECIPE));
  return { base: `${CACHE_DIR}/rootfs-${baseKey}`, layer: `${CACHE_DIR}/layer-${hash(baseKey + renderLayerScript())}` };
}

/** The first deb URI apt uses here (deb822 .sources or a one-line sources.list), else Debian's CDN. */
export function findMirror(): string {
  const files = ['/etc/apt/sources.list', ...listDir('/etc/apt/sources.list.d').map((f) => `/etc/apt/sources.list.d/${f}`)];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const uri = file.endsWith('.sources') ? parseDeb822Mirror(text) : file.endsWith('.list') ? parseOneLineMirror(text) : undefined;
    if (uri) return uri;
  }
  return 'http://deb.debian.org/debian';
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** The URI of the first stanza offering the main Debian archive (not -security, not a third-party repo). */
export function parseDeb822Mirror(text: string): string | undefined {
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
    if (field('Enabled') === 'no' || !(field('Types') ?? '').split(/\s+/).includes('deb')) continue;
    const uri = field('URIs')?.split(/\s+/)[0];
    if (uri && /\/debian\/?$/.test(uri)) return uri;
  }
  return undefined;
}

export function parseOneLineMirror(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
    if (m?.[1] && /\/debian\/?$/.test(m[1])) return m[1];
  }
  return undefined;
}

// Runs under flock, in a private mount namespace (debootstrap's /proc and /sys mounts and the layer's overlay die
// with it, even when killed). $1 base, $2 layer, $3 mirror, $4 suite, $5 variant, $6 include list, $7 layer script.
const BUILD_SCRIPT = `set -eu
base=$1; layer=$2; mirror=$3; suite=$4; variant=$5; include=$6; script=$7
if [ ! -d "$base" ]; then
  rm -rf --one-file-system "$base.tmp"
  echo "fleet-lab: debootstrap $suite from $mirror into $base (once per machine)"
  debootstrap --variant="$variant" --include="$include" "$suite" "$base.tmp" "$mirror"
  # The lab never runs apt: drop the package cache and lists.
  rm -rf "$base.tmp"/var/cache/apt/archives/*.deb "$base.tmp"/var/lib/apt/lists/*
  mv -T "$base.tmp" "$base"
fi
if [ ! -d "$layer" ]; then
  t="$layer.tmp"
  rm -rf --one-file-system "$t"
  mkdir -p "$t/upper" "$t/work" "$t/mnt"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$t/upper,workdir=$t/work" "$t/mnt"
  chroot "$t/mnt" /bin/sh -c "$script"
  umount "$t/mnt"
  mv -T "$t/upper" "$layer"
  rm -rf --one-file-system "$t"
fi
`;

/** The cached root fs, building what is missing (debootstrap: about a minute, once per machine). */
export async function ensureRootfs(): Promise<Rootfs> {
  const started = Date.now();
  const { base, layer } = rootfsPaths();
  if (existsSync(base) && existsSync(layer)) return { base, layer, built: false, ms: Date.now() - started };
  await mkdir(CACHE_DIR, { recursive: true });
  const log = `${CACHE_DIR}/build.log`;
  const argv = [`${CACHE_DIR}/build.lock`, 'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', BUILD_SCRIPT, 'fleet-lab-rootfs',
    base, layer, findMirror(), ROOTFS_RECIPE.suite, ROOTFS_RECIPE.variant, ROOTFS_RECIPE.include.join(','), renderLayerScript()];
  const r = await execa('flock', argv, { reject: false, stdin: 'ignore', stdout: { file: log, append: true }, stderr: { file: log, append: true } });
  if (r.exitCode !== 0 || !existsSync(base) || !existsSync(layer)) {
    const tail = (await readFile(log, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-25).join('\n');
    throw new Error(`building the systemd lab root fs failed (exit ${r.exitCode}); ${log} ends with:\n${tail}`);
  }
  return { base, layer, built: true, ms: Date.now() - started };
}
