// The one session doctor opens on a machine: a constant POSIX sh script (data only as positional parameters, as the
// agent's) that gathers every fact the checks need in one round trip, read-only, as the SSH user. The deployer runs
// the same script locally.

/** Tools fleet's agent runs on a target besides Nix (src/agent/agent.ts); sh builtins aside. */
export const AGENT_TOOLS = ['readlink', 'sed', 'date', 'mkdir', 'mv', 'ln', 'rm', 'cat', 'wc', 'tail', 'dirname', 'flock', 'timeout'] as const;
/** Nix programs and the rest asked for; `have.<name>=<path>` for each found on the PATH. */
const ASKED = ['nix-store', 'nix-env', 'nix-copy-closure', 'nix-instantiate', 'nix', 'ssh', 'systemd-run', 'setsid', ...AGENT_TOOLS];

/** Where Nix installs put nix-store when it is not on a session's PATH (NixOS, multi-user, single-user, per-user, distros). */
export const NIX_PLACES = ['/run/current-system/sw/bin', '/nix/var/nix/profiles/default/bin', '$HOME/.nix-profile/bin', '/etc/profiles/per-user/$u/bin', '/nix/var/nix/profiles/per-user/$u/profile/bin', '/usr/local/bin', '/usr/bin', '/opt/homebrew/bin'];

/** Not a valid path in any store (hash of zeros): asking about it reaches the store (or its daemon) and changes nothing. */
export const PING_PATH = '/nix/store/00000000000000000000000000000000-fleet-doctor';

// Nix's serve protocol (nix-store --serve, what nix-copy-closure and remote builds speak): the client's magic
// 0x390c9deb and version 2.6, as 64-bit little-endian words; the server answers its magic 0x5452eecb and version.
const SERVE_HELLO = String.raw`\353\235\014\071\000\000\000\000\006\002\000\000\000\000\000\000`;
export const SERVE_REPLY_MAGIC = 'cbee525400000000';

/**
 * $1: the lock file to read ('' for none); $2: 1 to try the privilege escalation, then its argv. The escalation runs
 * first and alone reads stdin (a sudo password, if given). Every answer is a `key=value` line between the markers;
 * anything the session prints before the first marker comes from the login shell's start-up files.
 */
export const DOCTOR_SCRIPT = String.raw`lf=$1; esc=$2; shift 2
echo fleet-doctor=begin
if [ "$esc" = 1 ]; then
  if command -v timeout >/dev/null 2>&1; then eo=$(timeout 20 "$@" true 2>&1); else eo=$("$@" true 2>&1); fi
  echo "escExit=$?"
  [ -n "$eo" ] && printf '%s\n' "$eo" | head -n 3 | sed 's/^/escOut=/'
fi
exec </dev/null
echo "clock=$(date +%s.%N)"
u=$(id -un)
echo "user=$u"; echo "uid=$(id -u)"; echo "groups=$(id -Gn)"; echo "path=$PATH"
for c in ${ASKED.join(' ')}; do
  p=$(command -v "$c" 2>/dev/null) && echo "have.$c=$p"
done
if ! command -v nix-store >/dev/null 2>&1; then
  for d in ${NIX_PLACES.map((p) => `"${p}"`).join(' ')}; do
    if [ -x "$d/nix-store" ]; then echo "nixFoundIn=$d"; PATH=$PATH:$d; break; fi
  done
fi
if command -v nix-store >/dev/null 2>&1; then
  if v=$(nix-store --version 2>&1); then echo "nixVersion=$(printf '%s\n' "$v" | head -n 1)"; else printf '%s\n' "$v" | head -n 2 | sed 's/^/nixVersionError=/'; fi
  echo "serve=$(printf '${SERVE_HELLO}' | nix-store --serve 2>/dev/null | od -An -tx1 | tr -d ' \n')"
  po=$(nix-store --check-validity --print-invalid ${PING_PATH} 2>&1); echo "ping=$?"
  printf '%s\n' "$po" | grep -v '^/nix/store/' | head -n 3 | sed 's/^/pingOut=/'
  { nix --extra-experimental-features nix-command config show 2>/dev/null || nix --extra-experimental-features nix-command show-config 2>/dev/null; } |
    grep -E '^(system|extra-platforms|system-features|trusted-users|allowed-users) = ' | sed 's/^/conf./'
fi
echo "nixRemote=$NIX_REMOTE"
[ -r /nix/var/nix ] && [ -w /nix/var/nix ] && echo stateWritable=1
[ -S /nix/var/nix/daemon-socket/socket ] && echo daemonSocket=1
command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ] && echo systemd=1
echo "df.nix=$(df -Pk /nix 2>/dev/null | tail -n 1)"
echo "df.run=$(df -Pk /run 2>/dev/null | tail -n 1)"
[ -n "$lf" ] && r=$(readlink "$lf" 2>/dev/null) && echo "lock=$r"
n=0; busy=0
for d in /run/fleet/*/*/; do
  [ -d "$d" ] || continue
  case $d in /run/fleet/locks/*) continue ;; esac
  n=$((n + 1))
  [ -f "$d/activate.log" ] && [ ! -f "$d/activate.status" ] && busy=$((busy + 1))
done
echo "runDirs=$n"; echo "runDirsUnfinished=$busy"
[ -d /run/fleet ] && echo "runDirsKiB=$(du -sk /run/fleet 2>/dev/null | cut -f1)"
echo fleet-doctor=end
exit 0
`;

/** The argv of one gathering: lockFile '' when there is none; escalation: the argv that should make `true` run as
 *  root without asking (sudo -n), absent when the SSH user is root (or for builders and the deployer). */
export function doctorArgv(lockFile: string, escalation?: readonly string[]): string[] {
  return ['sh', '-c', DOCTOR_SCRIPT, 'fleet-doctor', lockFile, escalation ? '1' : '0', ...(escalation ?? [])];
}

/** `df -Pk` of one mount point: kilobytes free, and which file system holds it. */
export interface DiskFree {
  availableKiB: number;
  mountedOn: string;
}

/** What the script reported, parsed; absent fields: not reported (a tool missing, not asked). */
export interface Gathered {
  /** Lines the session printed before the script's first marker: shell start-up files talking on stdout. */
  preamble: string[];
  /** The script ran to its end marker. */
  complete: boolean;
  clock?: number; // epoch seconds, fractional when the machine's date knows %N
  clockPrecise: boolean;
  user?: string;
  uid?: number;
  groups: string[];
  path?: string;
  have: Map<string, string>; // program → where the PATH found it
  nixFoundIn?: string; // nix-store off the PATH, found there
  /** nix-store runs for the SSH user: on the PATH, or where nixFoundIn says. */
  nixStore: boolean;
  nixVersion?: string; // nix-store --version's line
  nixVersionError?: string; // what it said instead, when it failed
  serve?: string; // the serve handshake's answer, hex
  ping?: { exit: number; output: string[] };
  conf: Map<string, string>; // Nix's settings: system, extra-platforms, system-features, trusted-users, allowed-users
  nixRemote: string;
  stateWritable: boolean;
  daemonSocket: boolean;
  systemd: boolean;
  escalation?: { exit: number; output: string[] };
  disk: { nix?: DiskFree; run?: DiskFree };
  lock?: string; // the lock's record
  runDirs?: { count: number; unfinished: number; kib?: number };
}

const number = (text: string | undefined): number | undefined => (text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined);

/** `Filesystem 1024-blocks Used Available Capacity Mounted-on`; a file system's name may hold spaces, so from the right. */
export function parseDf(line: string | undefined): DiskFree | undefined {
  const m = line ? /\s(\d+)\s+(\d+)\s+(\d+)\s+\d+%\s+(\S.*)$/.exec(line) : null;
  return m ? { availableKiB: Number(m[3]), mountedOn: m[4]! } : undefined;
}

export function parseGathered(stdout: string): Gathered {
  const lines = stdout.split('\n').map((l) => l.replace(/\r$/, ''));
  const begin = lines.indexOf('fleet-doctor=begin');
  const preamble = (begin < 0 ? lines : lines.slice(0, begin)).filter((l) => l.trim() !== '');
  const body = begin < 0 ? [] : lines.slice(begin + 1);
  const values = new Map<string, string>();
  const many = new Map<string, string[]>();
  for (const line of body) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (!values.has(key)) values.set(key, value);
    many.set(key, [...(many.get(key) ?? []), value]);
  }
  const prefixed = (prefix: string) => new Map([...values].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const conf = new Map([...prefixed('conf.')].map(([k, v]) => [k.replace(/ $/, ''), v.replace(/^ /, '').trim()]));
  const clockText = values.get('clock') ?? '';
  const clock = /^\d+(\.\d+)?$/.test(clockText) ? Number(clockText) : number(/^(\d+)/.exec(clockText)?.[1]);
  const uid = number(values.get('uid'));
  const ping = number(values.get('ping'));
  const escExit = number(values.get('escExit'));
  const runDirs = number(values.get('runDirs'));
  return {
    preamble,
    complete: values.get('fleet-doctor') !== undefined && body.includes('fleet-doctor=end'),
    ...(clock !== undefined ? { clock } : {}),
    clockPrecise: /^\d+\.\d+$/.test(clockText),
    ...(values.get('user') ? { user: values.get('user') } : {}),
    ...(uid !== undefined ? { uid } : {}),
    groups: (values.get('groups') ?? '').split(/\s+/).filter(Boolean),
    ...(values.has('path') ? { path: values.get('path') } : {}),
    have: prefixed('have.'),
    ...(values.get('nixFoundIn') ? { nixFoundIn: values.get('nixFoundIn') } : {}),
    nixStore: values.has('have.nix-store') || values.has('nixFoundIn'),
    ...(values.get('nixVersion') ? { nixVersion: values.get('nixVersion') } : {}),
    ...(many.has('nixVersionError') ? { nixVersionError: many.get('nixVersionError')!.join('; ') } : {}),
    ...(values.has('serve') ? { serve: values.get('serve') } : {}),
    ...(ping !== undefined ? { ping: { exit: ping, output: many.get('pingOut') ?? [] } } : {}),
    conf,
    nixRemote: values.get('nixRemote') ?? '',
    stateWritable: values.get('stateWritable') === '1',
    daemonSocket: values.get('daemonSocket') === '1',
    systemd: values.get('systemd') === '1',
    ...(escExit !== undefined ? { escalation: { exit: escExit, output: many.get('escOut') ?? [] } } : {}),
    disk: { nix: parseDf(values.get('df.nix')), run: parseDf(values.get('df.run')) },
    ...(values.get('lock') ? { lock: values.get('lock') } : {}),
    ...(runDirs !== undefined ? { runDirs: { count: runDirs, unfinished: number(values.get('runDirsUnfinished')) ?? 0, ...(number(values.get('runDirsKiB')) !== undefined ? { kib: number(values.get('runDirsKiB')) } : {}) } } : {}),
  };
}
