// The target-side agent: one constant script that records, activates and rolls back, detached from the
// SSH session, writing its state to files in a per-run directory. fleet decides from those files and from
// the live system, never from what a switch printed.
import { randomBytes } from 'node:crypto';
import type { TargetState } from './state.js';
import type { SystemState } from '../target/state.js';

/** Every command takes data as positional arguments: no node-controlled string is parsed by a shell.
 *  Files in the run dir: before (state when recorded), goal, profile-set (the generation link fleet made),
 *  switch-started, <action>.log (the switch's own output), <action>.status (written last, atomically). */
export const AGENT_SCRIPT = `umask 022
cmd=$1; shift
state() { # $1: key prefix, $2: profile
  if l=$(readlink "$2" 2>/dev/null); then echo "$1profileLink=$l"; echo "$1profileTarget=$(readlink -f "$2")"; fi
  c=$(readlink /run/current-system 2>/dev/null) && echo "$1currentSystem=$c"
  b=$(readlink /run/booted-system 2>/dev/null) && echo "$1bootedSystem=$b"
  return 0
}
put() { printf '%s\\n' "$2" > "$1.tmp" && mv -f "$1.tmp" "$1"; }
detach() { # $1 unit, $2 systemd 0/1, $3 seconds, $4 description; the rest: argv. Survives the SSH session either way.
  u=$1; sd=$2; max=$3; desc=$4; shift 4
  if [ "$sd" = 1 ]; then
    systemd-run --unit="$u" --description="$desc" --collect --quiet --no-ask-password --service-type=exec --property=RuntimeMaxSec="$max" --setenv=PATH="$PATH" -E LOCALE_ARCHIVE -E NIXOS_INSTALL_BOOTLOADER -- "$@"
  else
    setsid "$@" </dev/null >/dev/null 2>&1 &
  fi
}
# The per-target lock: a symlink whose target string is the holder record, so creating (ln -s) and reading
# (readlink) it are single atomic syscalls; every change happens under flock on its directory, which the
# kernel releases if this shell dies. Times are the target's own clock (epoch seconds).
lockfield() { printf '%s\\n' "$1" | sed -n "s/^\\(.* \\)\\{0,1\\}$2=\\([^ ]*\\).*/\\2/p"; }
lockstale() { e=$(lockfield "$1" expires); case $e in ''|*[!0-9]*) return 0 ;; esac; [ "$(date +%s)" -ge "$e" ]; }
lockop() { # op file run by pid seconds; op: read | take | break | renew | release. Prints lock=<state> [lockHolder=<record>]
  lockop_ "$@"; lrc=$?; exec 9<&-; return $lrc
}
lockop_() {
  lo=$1; lf=$2; lme=$3; ld=\${lf%/*}
  if [ "$lo" = read ]; then
    lr=$(readlink "$lf" 2>/dev/null) || { echo lock=free; return 0; }
    echo lock=held; echo "lockHolder=$lr"; lockstale "$lr" && echo lockExpired=1
    return 0
  fi
  mkdir -p "$ld" 2>/dev/null && exec 9<"$ld" || { echo "lock=error cannot create $ld"; return 0; }
  flock -w 10 9 || { echo "lock=error flock on $ld failed (busy for 10 s, or no flock)"; return 0; }
  lr=$(readlink "$lf" 2>/dev/null) || lr=
  lrun=$(lockfield "$lr" run); lsince=$(date +%s)
  case $lo in
  take|break)
    if [ -n "$lr" ] && [ "$lrun" != "$lme" ]; then
      if [ "$lo" = take ] && ! lockstale "$lr"; then echo lock=held; echo "lockHolder=$lr"; return 0; fi
      echo "lockHolder=$lr"; lockstale "$lr" && echo lockExpired=1
    fi ;;
  renew)
    [ "$lrun" = "$lme" ] || { echo lock=lost; [ -n "$lr" ] && echo "lockHolder=$lr"; return 0; }
    lsince=$(lockfield "$lr" since) ;;
  release)
    if [ "$lrun" != "$lme" ]; then echo lock=lost; [ -n "$lr" ] && echo "lockHolder=$lr"
    elif rm -f "$lf"; then echo lock=released; else echo "lock=error cannot remove $lf"; fi
    return 0 ;;
  *) echo "lock=error unknown lock operation $lo"; return 0 ;;
  esac
  # Replaced by a rename: a reader sees the old record or the new one, never none.
  if ln -s "run=$lme by=$4 pid=$5 since=$lsince expires=$(($(date +%s) + $6))" "$lf.$$" && mv -f "$lf.$$" "$lf"; then
    [ "$lo" = renew ] && echo lock=renewed || echo lock=taken
  else
    rm -f "$lf.$$"; echo "lock=error cannot write $lf"
  fi
  return 0
}
case $cmd in
probe) # profile out state-dir generations(0|1) records-wanted [lock arguments]: with them, the lock first (one round trip), so the state read is the locked one
  pp=$1; po=$2; psd=$3; pgen=$4; pkeep=$5; shift 5
  [ $# -gt 0 ] && lockop "$@"
  set -- "$pp" "$po"
  state '' "$1"
  if [ "$(readlink -f "$1")" = "$2" ] && [ -e "$2" ]; then echo hasOut=1
  elif nix-store --check-validity "$2" >/dev/null 2>&1; then echo hasOut=1; fi
  command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ] && echo systemd=1
  if [ -n "$psd" ]; then
    # A reboot is due when what boots differs from what was booted (NixOS's own test): kernel, initrd, modules.
    if [ -e /run/booted-system ] && [ -e /run/current-system ]; then
      for f in kernel initrd kernel-modules; do
        [ "$(readlink -f "/run/booted-system/$f")" = "$(readlink -f "/run/current-system/$f")" ] || { echo bootChanged=1; break; }
      done
    fi
    # Records are replaced by a rename: a reader sees the old file or the new one, never half of one. Only the
    # newest (what record keeps), each line cut at 64 KiB: a file grown by other hands cannot swamp the reply.
    [ -f "$psd/records" ] && tail -n "$pkeep" "$psd/records" | cut -b 1-65536 | sed 's/^/record=/'
  fi
  # Every generation of the profile and the system it holds: fleet rollback's choices (only it asks).
  if [ "$pgen" = 1 ]; then
    for l in "$pp"-*-link; do [ -L "$l" ] && echo "generation=\${l##*/} $(readlink -f "$l")"; done
  fi
  exit 0 ;;
activate) # dir profile out goal set-profile check seconds systemd unit confirm-seconds token self
  d=$1; p=$2; out=$3; goal=$4; setp=$5; check=$6; secs=$7; sd=$8; u=$9; shift 9; csecs=$1; token=$2; self=$3
  mkdir -p "$(dirname "$d")" && mkdir "$d" || { echo "fleet-agent: cannot create $d" >&2; exit 93; }
  # The detached part reads the script and its data from files: systemd expands \${...} in unit arguments.
  printf '%s' "$self" > "$d/agent.sh"; put "$d/profile" "$p"; put "$d/out" "$out"; put "$d/goal" "$goal"; put "$d/seconds" "$secs"
  put "$d/confirm-seconds" "$csecs"; max=$((secs + 60))
  if [ "$csecs" != 0 ]; then (umask 077; put "$d/token" "$token"); : > "$d/confirm.log"; max=$((secs * 2 + csecs + 60)); fi
  state '' "$p" > "$d/before"; : > "$d/activate.log"
  if [ "$check" = 1 ] && [ ! -x "$out/bin/switch-to-configuration" ]; then put "$d/activate.status" refused; exit 0; fi
  detach "$u" "$sd" "$max" "$out/bin/switch-to-configuration $goal" sh "$d/agent.sh" run-activate "$d" "$setp" || { put "$d/activate.status" "detach-failed"; exit 94; }
  exit 0 ;;
run-activate) # dir set-profile
  d=$1; setp=$2; p=$(cat "$d/profile"); out=$(cat "$d/out"); goal=$(cat "$d/goal"); secs=$(cat "$d/seconds"); csecs=$(cat "$d/confirm-seconds")
  exec >>"$d/activate.log" 2>&1 </dev/null
  # A new generation of out, or (fleet rollback, set-profile gen-N) exactly the existing generation N;
  # a failure ends the run with "profile-failed N" in $1.status.
  setprofile() {
    case $setp in gen-*) nix-env -p "$p" --switch-generation "\${setp#gen-}" ;; *) nix-env -p "$p" --set "$out" ;; esac || { put "$d/$1.status" "profile-failed $?"; exit 0; }
    put "$d/profile-set" "$(readlink "$p")"
  }
  if [ "$csecs" != 0 ]; then
    # Magic rollback: live first (test); the boot default moves only once confirmed, so a reboot in the
    # window comes back on the old system.
    put "$d/switch-started" 1
    timeout -k 5 "$secs" "$out/bin/switch-to-configuration" test; rc=$?
    [ "$rc" = 0 ] || { put "$d/activate.status" "switch-failed $rc"; exit 0; }
    put "$d/activate.status" done
    exec >>"$d/confirm.log" 2>&1
    # Polled often (builtins only, the clock once a second): the confirmation's latency is magic rollback's cost.
    read -r want < "$d/token"; end=$(($(date +%s) + csecs)); ok=0; i=0
    while :; do
      if [ -f "$d/confirm" ]; then
        read -r got < "$d/confirm" || got=
        [ "$got" = "$want" ] && { ok=1; break; }
        echo "ignored a confirmation that does not carry this run's token"; rm -f "$d/confirm"
      fi
      # An explicit rollback took over (fleet found the activation wrong): it does the undoing.
      [ -e "$d/rollback.claim" ] && { put "$d/confirm.status" superseded; exit 0; }
      i=$((i + 1)); [ $((i % 20)) = 0 ] && [ "$(date +%s)" -ge "$end" ] && break
      sleep 0.05
    done
    if [ "$ok" = 1 ]; then
      if [ "$goal" = switch ]; then
        [ "$setp" = 0 ] || setprofile confirm
        timeout -k 5 "$secs" "$out/bin/switch-to-configuration" boot || { put "$d/confirm.status" "boot-failed $?"; exit 0; }
      fi
      put "$d/confirm.status" done; exit 0
    fi
    echo "no confirmation within \${csecs}s: rolling back to what $d/before records"
    : >> "$d/rollback.log"
    sh "$d/agent.sh" run-rollback "$d"
    put "$d/confirm.status" expired; exit 0
  fi
  [ "$setp" = 0 ] || setprofile activate
  put "$d/switch-started" 1
  timeout -k 5 "$secs" "$out/bin/switch-to-configuration" "$goal"; rc=$?
  if [ "$rc" = 0 ]; then put "$d/activate.status" done; else put "$d/activate.status" "switch-failed $rc"; fi
  exit 0 ;;
confirm) # dir token report-token profile: hands the watchdog a token (it accepts only its own run's), then reports as wait does
  d=$1; [ -f "$d/confirm.log" ] || { echo "fleet-agent: no watchdog in $d" >&2; exit 95; }
  [ -f "$d/confirm.status" ] && { echo "fleet-agent: too late, the watchdog already decided: $(cat "$d/confirm.status")" >&2; exit 97; }
  put "$d/confirm" "$2"
  # The verdict (and the boot step) comes back on this same connection when it is quick: no second round trip.
  exec sh "$d/agent.sh" wait "$d" confirm 10 0 "$3" "$4" ;;
rollback) # dir systemd unit
  d=$1; [ -f "$d/before" ] && [ -f "$d/agent.sh" ] || { echo "fleet-agent: nothing recorded in $d" >&2; exit 95; }
  # Claimed already (by the watchdog, or an earlier call): that rollback's status file tells how it went.
  [ -e "$d/rollback.claim" ] && exit 0
  rm -f "$d/rollback.status"; : >> "$d/rollback.log"
  detach "$3" "$2" $(($(cat "$d/seconds") + 60)) "fleet rollback to what $d/before records" sh "$d/agent.sh" run-rollback "$d" || { put "$d/rollback.status" "detach-failed"; exit 94; }
  exit 0 ;;
run-rollback) # dir: undoes only what this run changed, back to what "before" recorded
  d=$1; p=$(cat "$d/profile"); secs=$(cat "$d/seconds")
  # One undo per run dir: the watchdog and fleet's explicit rollback must never both re-activate.
  mkdir "$d/rollback.claim" 2>/dev/null || exit 0
  exec >>"$d/rollback.log" 2>&1 </dev/null
  get() { sed -n "s/^$1=//p" "$d/before"; }
  fail() { put "$d/rollback.status" "failed $1"; exit 0; }
  bl=$(get profileLink); bt=$(get profileTarget); bc=$(get currentSystem); goal=$(cat "$d/goal")
  if [ -f "$d/profile-set" ]; then
    made=$(cat "$d/profile-set")
    case $bl in
    '')
      # There was no profile: remove only the link and the generation this run made.
      if [ "$(readlink "$p")" = "$made" ]; then rm -f "$p" "$(dirname "$p")/$made" || fail "removing the profile this run created failed"; fi ;;
    */*)
      # The profile pointed at a path (a store path), not a generation: point it there again.
      ln -sfn "$bl" "$p" || fail "restoring the profile link to $bl failed" ;;
    *-[0-9]*-link)
      g=\${bl%-link}; g=\${g##*-}
      nix-env -p "$p" --switch-generation "$g" || fail "nix-env --switch-generation $g failed" ;;
    *)
      ln -sfn "$bl" "$p" || fail "restoring the profile link to $bl failed" ;;
    esac
  fi
  if [ -f "$d/switch-started" ]; then
    case $goal in
    switch|test)
      if [ -n "$bc" ]; then
        og=test; [ "$bc" = "$bt" ] && og=switch
        timeout -k 5 "$secs" "$bc/bin/switch-to-configuration" "$og" || fail "re-activating $bc failed"
      elif [ -L /run/current-system ]; then rm -f /run/current-system || fail "removing /run/current-system failed"; fi ;;
    boot)
      if [ -n "$bt" ]; then timeout -k 5 "$secs" "$bt/bin/switch-to-configuration" boot || fail "restoring the boot entry failed"; fi ;;
    esac
  fi
  put "$d/rollback.status" done
  exit 0 ;;
wait) # dir action seconds lines-seen token profile: streams the action's log, then the token, then the state
  d=$1; a=$2; secs=$3; n=$4; token=$5; p=$6
  [ -d "$d" ] || { echo "fleet-agent: no run dir $d" >&2; exit 95; }
  [ -f "$d/$a.log" ] || { echo "fleet-agent: no $a was started in $d" >&2; exit 96; }
  i=0; end=$(($(date +%s) + secs))
  while :; do
    fin=0; [ -f "$d/$a.status" ] && fin=1
    m=$(wc -l < "$d/$a.log")
    if [ "$m" -gt "$n" ]; then sed -n "$((n + 1)),\${m}p" "$d/$a.log"; n=$m; fi
    [ "$fin" = 1 ] && { tail -n "+$((n + 1))" "$d/$a.log"; break; }
    i=$((i + 1)); [ $((i % 20)) = 0 ] && [ "$(date +%s)" -ge "$end" ] && break
    sleep 0.05
  done
  echo; echo "$token"
  echo "status=$(cat "$d/$a.status" 2>/dev/null)"; echo "lines=$n"
  sed 's/^/before./' "$d/before"
  [ -f "$d/profile-set" ] && echo "profileSet=$(cat "$d/profile-set")"
  [ -f "$d/switch-started" ] && echo switchStarted=1
  [ -f "$d/confirm.status" ] && echo "confirmStatus=$(cat "$d/confirm.status")"
  state 'now.' "$p"
  exit 0 ;;
record) # state-dir line keep: appends one record (a JSON line fleet made) and keeps the newest keep
  rd=$1; line=$2; keep=$3; rf="$rd/records"
  nl='
'
  case $line in *"$nl"*|'') echo "fleet-agent: a record is one non-empty line" >&2; exit 2 ;; esac
  mkdir -p "$rd" && exec 9<"$rd" || { echo "fleet-agent: cannot create $rd" >&2; exit 98; }
  # Several profiles of one machine share the state dir: one writer at a time, else a record is lost.
  flock -w 10 9 || { echo "fleet-agent: flock on $rd failed (busy for 10 s, or no flock)" >&2; exit 98; }
  # Written aside, then renamed over: a reader or a crash sees the old records or the new ones, never a mix.
  rt="$rf.tmp.$$"
  # A last line cut short (a full disk, a crash of another writer) ends where it ends: the record starts a line of its own.
  if { if [ -f "$rf" ]; then tail -n "$((keep - 1))" "$rf"; [ -n "$(tail -c 1 "$rf")" ] && echo; fi; printf '%s\n' "$line"; } > "$rt" && { sync "$rt" 2>/dev/null || :; } && mv -f "$rt" "$rf"; then exit 0; fi
  rm -f "$rt"; echo "fleet-agent: cannot write $rf" >&2; exit 98 ;;
lock) # op file run by pid seconds: renew or release this run's lock (see lockop)
  lockop "$@"; exit 0 ;;
*) echo "fleet-agent: unknown command $cmd" >&2; exit 2 ;;
esac
`;

const agent = (command: string, ...args: string[]): string[] => ['sh', '-c', AGENT_SCRIPT, 'fleet-agent', command, ...args];

/** Where the agent keeps one run's state for one node; in /run, so a reboot clears it. */
export function runDir(runId: string, node: string): string {
  return `/run/fleet/${runId}/${node}`;
}

/** Which deploy records a probe reads: the newest `newest` lines of `<stateDir>/records`. */
export interface RecordsWanted {
  stateDir: string;
  newest: number;
}

/** lockArgs (src/agent/lock.ts): take or read the target's lock in the same call, before reading the state.
 *  records: also read those deploy records, whether a reboot is due and the profile's generations. */
export function probeArgv(profile: string, outPath: string, lockArgs: readonly string[] = [], records?: RecordsWanted, generations = false): string[] {
  return agent('probe', profile, outPath, records?.stateDir ?? '', generations ? '1' : '0', String(records?.newest ?? 0), ...lockArgs);
}

/** `generation=system-5-link /nix/store/...` lines → generation number → the system it holds. */
export function parseGenerations(stdout: string): Map<number, string> {
  const generations = new Map<number, string>();
  for (const m of stdout.matchAll(/^generation=(\S+) (\/\S+)$/gm)) {
    const n = generationOf(m[1]);
    if (n !== undefined) generations.set(n, m[2]!);
  }
  return generations;
}

/** Appends `line` (one JSON record, src/records) to `<stateDir>/records`, keeping the newest `keep`. */
export function recordArgv(stateDir: string, line: string, keep: number): string[] {
  return agent('record', stateDir, line, String(keep));
}

export interface Detach {
  seconds: number; // the switch's own deadline on the target
  systemd: boolean; // detach with systemd-run (a transient unit) or setsid
  unit: string; // the unit name when systemd
}

/** Magic rollback: the watchdog's window after the live activation, and the token that alone confirms it. */
export interface Watchdog {
  seconds: number;
  token: string;
}

/** setProfile: a new generation (true), none (false), or exactly this existing generation (fleet rollback). */
export function activateArgv(dir: string, profile: string, outPath: string, goal: string, setProfile: boolean | number, checkSystem: boolean, d: Detach, watchdog?: Watchdog): string[] {
  return agent('activate', dir, profile, outPath, goal, typeof setProfile === 'number' ? `gen-${setProfile}` : setProfile ? '1' : '0', checkSystem ? '1' : '0', String(d.seconds), d.systemd ? '1' : '0', d.unit,
    String(watchdog?.seconds ?? 0), watchdog?.token ?? '', AGENT_SCRIPT);
}

/** The rollback runs the copy of the agent (and the data) the activation left in its run dir. */
export function rollbackArgv(dir: string, d: Pick<Detach, 'systemd' | 'unit'>): string[] {
  return agent('rollback', dir, d.systemd ? '1' : '0', d.unit);
}

/** Sent over a brand-new connection: the watchdog of `dir` accepts only the token it was armed with. The reply
 *  is `wait confirm`'s (reportToken, profile: as waitArgv's), with the verdict once it comes within 10 s. */
export function confirmArgv(dir: string, token: string, reportToken: string, profile: string): string[] {
  return agent('confirm', dir, token, reportToken, profile);
}

export type Action = 'activate' | 'confirm' | 'rollback';

/** A per-call random token separates the action's output (before it) from the agent's report (after it). */
export function waitArgv(dir: string, action: Action, seconds: number, linesSeen: number, token: string, profile: string): string[] {
  return agent('wait', dir, action, String(seconds), String(linesSeen), token, profile);
}

export function newToken(): string {
  return `@fleet-report-${randomBytes(12).toString('hex')}`;
}

/** One per node and run: what the watchdog waits for. */
export function newConfirmToken(): string {
  return randomBytes(16).toString('hex');
}

/** What the agent wrote about an action, and what the node runs now. */
export interface AgentReport {
  /** '' while running. activate: done | refused | profile-failed N | switch-failed N | detach-failed;
   *  confirm: done | expired | profile-failed N | boot-failed N | superseded; rollback: done | failed <why>. */
  status: string;
  before: SystemState;
  profileSet?: string; // the generation link this run made
  switchStarted: boolean;
  /** The watchdog's verdict once it has one (magic rollback): done | expired | ... */
  confirmStatus?: string;
  now: SystemState;
  lines: number; // log lines streamed so far: where to go on after a reconnect
}

/** Splits `wait` output at the token: log lines before it, the report after. undefined: no token seen. */
export function parseWait(stdout: string, token: string): { log: string[]; report?: AgentReport } {
  const lines = stdout.split('\n');
  // The agent prints its token last: anything before it (a forged copy included) is the action's output.
  const at = lines.lastIndexOf(token);
  const log = (at < 0 ? lines : lines.slice(0, at)).filter((l) => l.trim() !== '');
  if (at < 0) return { log };
  const values = readKeyValues(lines.slice(at + 1));
  const pick = (prefix: string) => new Map([...values].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  const profileSet = values.get('profileSet');
  const confirmStatus = values.get('confirmStatus');
  return {
    log,
    report: {
      status: values.get('status') ?? '',
      before: toSystemState(pick('before.')),
      ...(profileSet ? { profileSet } : {}),
      switchStarted: values.get('switchStarted') === '1',
      ...(confirmStatus ? { confirmStatus } : {}),
      now: toSystemState(pick('now.')),
      lines: Number(values.get('lines') ?? 0) || 0,
    },
  };
}

export function parseProbe(stdout: string): TargetState {
  const values = readKeyValues(stdout.split('\n'));
  return { hasOut: values.get('hasOut') === '1', ...toSystemState(values), systemd: values.get('systemd') === '1' };
}

function readKeyValues(lines: string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return values;
}

export function generationOf(link: string | undefined): number | undefined {
  const m = link ? /-(\d+)-link$/.exec(link) : null;
  return m ? Number(m[1]) : undefined;
}

function toSystemState(values: Map<string, string>): SystemState {
  const link = values.get('profileLink');
  const generation = generationOf(link);
  const current = values.get('currentSystem');
  const booted = values.get('bootedSystem');
  return {
    ...(link ? { profileLink: link } : {}),
    ...(link && values.get('profileTarget') ? { profileTarget: values.get('profileTarget') } : {}),
    ...(generation !== undefined ? { generation } : {}),
    ...(current ? { currentSystem: current } : {}),
    ...(booted ? { bootedSystem: booted } : {}),
  };
}
