# shellcheck shell=sh
# fleet's agent on a target (POSIX sh), sent with every command: fleet runs
#   sh -c 'AGENT=$1; shift; eval "$AGENT"' fleet-agent <this script> <command> name=value...
# Only src/agent/client.ts builds those arguments. Data comes as arguments, never parsed by a shell.
# PROTOCOL, LOCK_VERSION, RUN_DIRS_KEPT and the EXIT_* codes are not set here: scripts/gen-scripts.ts puts them
# before this text from src/agent/protocol.ts, the one place they are defined (and drops comment lines: no
# multi-line string here may hold a line starting with #).
#
# Every reply carries protocol=<PROTOCOL>. The long actions (activate, rollback, and the watchdog of magic
# rollback) run detached (systemd-run or setsid) and keep their state in files of a run dir, so an SSH session
# that drops changes nothing; fleet decides from those files and the live system, never from a switch's output.
# Run dir files: params, agent.sh (what the detached part runs), before (state when recorded), token,
# profile-set (the generation link made), switch-started, <action>.log, <action>.status (written last, renamed).
umask 022
cmd=${1:-}
[ $# -gt 0 ] && shift
d='' p='' out='' goal='' setp='none' check=0 secs=60 sd=0 unit='' csecs=0 ctoken='' report='' wsecs=0 seen=0
action='' sdir='' gens=0 newest=50 line='' keep=50 lop='' lk='' lrun='' lby='' lpid=0 lsecs=60 now='' lun=0
die() { echo "fleet-agent: $2" >&2; exit "$1"; }
for a do
  case $a in
  dir=*) d=${a#*=} ;;
  profile=*) p=${a#*=} ;;
  out=*) out=${a#*=} ;;
  goal=*) goal=${a#*=} ;;
  set-profile=*) setp=${a#*=} ;;
  check-system=*) check=${a#*=} ;;
  seconds=*) secs=${a#*=} ;;
  systemd=*) sd=${a#*=} ;;
  unit=*) unit=${a#*=} ;;
  confirm-seconds=*) csecs=${a#*=} ;;
  confirm-token=*) ctoken=${a#*=} ;;
  report=*) report=${a#*=} ;;
  wait=*) wsecs=${a#*=} ;;
  seen=*) seen=${a#*=} ;;
  action=*) action=${a#*=} ;;
  state-dir=*) sdir=${a#*=} ;;
  generations=*) gens=${a#*=} ;;
  records-newest=*) newest=${a#*=} ;;
  record=*) line=${a#*=} ;;
  keep=*) keep=${a#*=} ;;
  lock-op=*) lop=${a#*=} ;;
  lock=*) lk=${a#*=} ;;
  run=*) lrun=${a#*=} ;;
  by=*) lby=${a#*=} ;;
  pid=*) lpid=${a#*=} ;;
  lock-seconds=*) lsecs=${a#*=} ;;
  lock-unless-current=*) lun=${a#*=} ;;
  *) die "$EXIT_USAGE" "unknown argument ${a%%=*}" ;;
  esac
done
for n in "$secs" "$csecs" "$wsecs" "$seen" "$newest" "$keep" "$lpid" "$lsecs"; do
  case $n in ''|*[!0-9]*) die "$EXIT_USAGE" "not a number: $n" ;; esac
done
clock() { now=$(date +%s); }
# Status files are renamed into place: a reader sees none or a whole one.
put() { printf '%s\n' "$2" > "$1.tmp" && mv -f "$1.tmp" "$1"; }
state() { # $1: key prefix. The profile $p and what runs: one stat (and readlink -f for a profile); sets $ptarget
  ptarget=''
  while IFS= read -r sl; do
    # A stat that ignores QUOTING_STYLE (coreutils before 8.26) quotes both names: 'name' -> 'target'.
    case $sl in "'"*"' -> '"*"'") sl=${sl#"'"}; sl=${sl%"'"}; sl="${sl%%"' -> '"*} -> ${sl#*"' -> '"}" ;; esac
    case $sl in
    "$p -> "*) ptarget=$(readlink -f "$p"); echo "$1profileLink=${sl#"$p -> "}"; echo "$1profileTarget=$ptarget" ;;
    "/run/current-system -> "*) echo "$1currentSystem=${sl#* -> }" ;;
    "/run/booted-system -> "*) echo "$1bootedSystem=${sl#* -> }" ;;
    esac
  done <<EOF
$(QUOTING_STYLE=literal stat -c '%N' "$p" /run/current-system /run/booted-system 2>/dev/null)
EOF
  return 0
}
# The per-target lock: a symlink whose target string is the holder record (v=<LOCK_VERSION> run= by= pid= since=
# expires=), so creating (ln -s) and reading (readlink) it are single atomic syscalls; every change happens under
# flock on its directory, which the kernel releases if this shell dies. Times are the target's clock (epoch s).
field() { # $1 record, $2 key: sets $fv, without a fork
  fv=''
  case " $1" in *" $2="*) fv=" $1"; fv=${fv#*" $2="}; fv=${fv%% *} ;; esac
}
stale() { field "$1" expires; case $fv in ''|*[!0-9]*) return 0 ;; esac; [ "$now" -ge "$fv" ]; }
lockop() { # $lop on $lk as $lrun; prints lock=<state> [lockHolder=<record>] [lockExpired=1]
  lockquiet
  printf '%s' "$lout"
}
lockquiet() { # as lockop, into $lout; sets $lstate
  lstate='error'; lout=''
  lockop_
  exec 9<&-
  return 0
}
say() { lout="$lout$1
"; }
notalock() { [ -e "$lk" ] && [ ! -L "$lk" ] && say "lock=error $lk is not a lock (a directory or file is in its place: remove it)"; }
lockop_() {
  ld=${lk%/*}
  if [ "$lop" = read ]; then
    notalock && return
    lr=$(readlink "$lk" 2>/dev/null) || { lstate='free'; say lock=free; return; }
    lstate='held'; say lock=held; say "lockHolder=$lr"; clock; stale "$lr" && say lockExpired=1
    return
  fi
  { { [ -d "$ld" ] || mkdir -p "$ld" 2>/dev/null; } && exec 9<"$ld"; } || { say "lock=error cannot create $ld"; return; }
  flock -w 10 9 || { say "lock=error flock on $ld failed (busy for 10 s, or no flock)"; return; }
  notalock && return
  lr=$(readlink "$lk" 2>/dev/null) || lr=''
  field "$lr" run; lowner=$fv
  clock; lsince=$now; lexp=$((now + lsecs))
  case $lop in
  take|break)
    if [ -n "$lr" ] && [ "$lowner" != "$lrun" ]; then
      if [ "$lop" = take ] && ! stale "$lr"; then lstate='held'; say lock=held; say "lockHolder=$lr"; return; fi
      say "lockHolder=$lr"; stale "$lr" && say lockExpired=1
    fi ;;
  renew)
    if [ -z "$lr" ] || [ "$lowner" != "$lrun" ]; then lstate='lost'; say lock=lost; [ -n "$lr" ] && say "lockHolder=$lr"; return; fi
    field "$lr" since; lsince=$fv
    # Never shortened: a watchdog extends it over its window (see run-activate).
    field "$lr" expires; case $fv in ''|*[!0-9]*) ;; *) [ "$fv" -gt "$lexp" ] && lexp=$fv ;; esac ;;
  release)
    if [ -z "$lr" ] || [ "$lowner" != "$lrun" ]; then lstate='lost'; say lock=lost; [ -n "$lr" ] && say "lockHolder=$lr"
    elif rm -f "$lk"; then lstate='released'; say lock=released
    else say "lock=error cannot remove $lk"; fi
    return ;;
  *) say "lock=error unknown lock operation $lop"; return ;;
  esac
  # Replaced by a rename: a reader sees the old record or the new one, never none.
  if ln -s "v=$LOCK_VERSION run=$lrun by=$lby pid=$lpid since=$lsince expires=$lexp" "$lk.$$" && mv -f "$lk.$$" "$lk"; then
    if [ "$lop" = renew ]; then lstate='renewed'; say lock=renewed; else lstate='taken'; say lock=taken; fi
  else
    rm -f "$lk.$$"; say "lock=error cannot write $lk"
  fi
}
# Before changing anything, a run proves it still holds the node's lock (and renews it): else it exits EXIT_LOCK.
holdlock() {
  [ -n "$lk" ] || return 0
  lop='renew'
  lockquiet
  [ "$lstate" = renewed ] && return 0
  echo "protocol=$PROTOCOL"; printf '%s' "$lout"; exit "$EXIT_LOCK"
}
detach() { # $1 seconds, $2 description; the rest: argv. Survives the SSH session either way.
  dmax=$1; ddesc=$2; shift 2
  if [ "$sd" = 1 ]; then
    systemd-run --unit="$unit" --description="$ddesc" --collect --quiet --no-ask-password --service-type=exec --property=RuntimeMaxSec="$dmax" --setenv=PATH="$PATH" -E LOCALE_ARCHIVE -E NIXOS_INSTALL_BOOTLOADER -- "$@"
  else
    setsid "$@" </dev/null >/dev/null 2>&1 &
  fi
}
# What the detached parts read back: one value a line (fleet sends no value with a newline).
params() { printf '%s\n' "$p" "$out" "$goal" "$setp" "$secs" "$csecs" "$lk" "$lrun" "$lby" "$lpid"; }
load() { { read -r p; read -r out; read -r goal; read -r setp; read -r secs; read -r csecs; read -r lk; read -r lrun; read -r lby; read -r lpid; } < "$d/params"; }
busy() { # a run dir whose activation, watchdog or rollback has not finished (a dead one counts for a day)
  { { [ -f "$1/activate.log" ] && [ ! -f "$1/activate.status" ]; } || { [ -f "$1/confirm.log" ] && [ ! -f "$1/confirm.status" ]; } || { [ -f "$1/rollback.log" ] && [ ! -f "$1/rollback.status" ]; }; } || return 1
  [ -z "$(find "$1" -maxdepth 0 -mmin +1440)" ]
}
prune() { # keeps the newest RUN_DIRS_KEPT run dirs of this node, counting the new one, and every busy one
  pn=${d##*/}; pr=${d%/*}; pr=${pr%/*}; k=1
  # Counted with a glob first (no process): most activations have nothing to remove.
  set -- "$pr"/*/"$pn"
  [ $# -lt "$RUN_DIRS_KEPT" ] && return 0
  # shellcheck disable=SC2012 # newest first by mtime; run ids and node names hold no newline
  ls -dt "$pr"/*/"$pn" 2>/dev/null | while IFS= read -r od; do
    { [ "${od%/*}" != "$pr/locks" ] && [ -d "$od" ]; } || continue
    k=$((k + 1))
    [ "$k" -le "$RUN_DIRS_KEPT" ] && continue
    busy "$od" && continue
    rm -rf "$od"; rmdir "${od%/*}" 2>/dev/null
  done
  return 0
}
# Streams the action's log from line $seen until its status is written or $wsecs pass, then the report after the
# token $report. Polls with builtins (and sleep): its latency is every activation's.
await() {
  al=$d/$1.log; n=0; part=''; fin=0; i=0
  exec 7<"$al"
  while [ "$n" -lt "$seen" ] && IFS= read -r l <&7; do n=$((n + 1)); done
  clock; end=$((now + wsecs))
  while :; do
    [ -f "$d/$1.status" ] && fin=1
    l=''
    while IFS= read -r l <&7; do printf '%s%s\n' "$part" "$l"; part=''; l=''; n=$((n + 1)); done
    part=$part$l
    [ "$fin" = 1 ] && break
    # A confirmation the watchdog took away without a verdict was not its run's: said at once.
    [ "$1" = confirm ] && [ ! -e "$d/confirm" ] && break
    i=$((i + 1))
    if [ $((i % 25)) = 0 ]; then clock; [ "$now" -ge "$end" ] && break; fi
    if [ "$i" -le 50 ]; then sleep 0.01; else sleep 0.02; fi
  done
  exec 7<&-
  # A last line without its newline is shown once the action is done.
  if [ "$fin" = 1 ] && [ -n "$part" ]; then printf '%s\n' "$part"; n=$((n + 1)); fi
  echo; echo "$report"; echo "protocol=$PROTOCOL"
  st=''; [ "$fin" = 1 ] && read -r st < "$d/$1.status"
  echo "status=$st"; echo "lines=$n"
  while IFS= read -r kv; do echo "before.$kv"; done < "$d/before"
  [ -f "$d/profile-set" ] && read -r ps < "$d/profile-set" && echo "profileSet=$ps"
  [ -f "$d/switch-started" ] && echo switchStarted=1
  [ -f "$d/confirm.status" ] && read -r cs < "$d/confirm.status" && echo "confirmStatus=$cs"
  state 'now.'
  exit 0
}
# The watchdog acts (confirmed or not) only while its run holds the lock and the node still runs what it
# activated: a run that took over (--break-lock, an expired lock) or another activation wins. Sets $why.
mine() { # $1: renew (the lock is held on while the watchdog rolls back) or read (its run, alive, renews it)
  if [ -n "$lk" ] && [ "$1" = renew ]; then
    lop='renew'; lsecs=$((secs + 60))
    lockop
    case $lstate in
    renewed) ;;
    lost) why='lock'; return 1 ;;
    *) lr=$(readlink "$lk" 2>/dev/null); field "$lr" run; [ "$fv" = "$lrun" ] || { why='lock'; return 1; } ;;
    esac
  elif [ -n "$lk" ]; then
    lr=$(readlink "$lk" 2>/dev/null); field "$lr" run; [ "$fv" = "$lrun" ] || { why='lock'; return 1; }
  fi
  [ "$(readlink /run/current-system 2>/dev/null)" = "$out" ] || { why='replaced'; return 1; }
  return 0
}
atout() { # the node already has $out where $goal puts it: the profile (switch, boot), the running system (switch, test)
  case $goal in switch|boot) [ "$(readlink -f "$p" 2>/dev/null)" = "$out" ] || return 1 ;; test) ;; *) return 1 ;; esac
  case $goal in switch|test) [ "$(readlink /run/current-system 2>/dev/null)" = "$out" ] || return 1 ;; esac
}
case $cmd in
probe) # [lock-op lock run by pid lock-seconds] profile out [state-dir generations]: the lock first, so the state read is the locked one
  echo "protocol=$PROTOCOL"
  # A node already on $out where $goal puts it stays unchanged: its lock is only read (held by another run or not).
  [ "$lun" = 1 ] && [ "$lop" = take ] && atout && lop='read'
  [ -n "$lop" ] && lockop
  state ''
  if [ "$ptarget" = "$out" ] && [ -e "$out" ]; then echo hasOut=1
  elif nix-store --check-validity "$out" >/dev/null 2>&1; then echo hasOut=1; fi
  command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ] && echo systemd=1
  if [ -n "$sdir" ]; then
    # A reboot is due when what boots differs from what was booted (NixOS's own test): kernel, initrd, modules.
    if [ -e /run/booted-system ] && [ -e /run/current-system ]; then
      for f in kernel initrd kernel-modules; do
        [ "$(readlink -f "/run/booted-system/$f")" = "$(readlink -f "/run/current-system/$f")" ] || { echo bootChanged=1; break; }
      done
    fi
    # Records are replaced by a rename: a reader sees the old file or the new one, never half of one. Only the
    # newest (what finish keeps), each line cut at 64 KiB: a file grown by other hands cannot swamp the reply.
    [ -f "$sdir/records" ] && tail -n "$newest" "$sdir/records" | cut -b 1-65536 | sed 's/^/record=/'
  fi
  # Every generation of the profile and the system it holds: fleet rollback's choices (only it asks).
  if [ "$gens" = 1 ]; then
    for l in "$p"-*-link; do [ -L "$l" ] && echo "generation=${l##*/} $(readlink -f "$l")"; done
  fi
  exit 0 ;;
activate) # lock..., dir profile out goal set-profile check-system seconds systemd unit confirm-seconds confirm-token, report wait
  { [ -n "$d" ] && [ -n "${AGENT:-}" ]; } || die "$EXIT_USAGE" "activate needs dir= and the agent's own text in AGENT"
  holdlock
  prune
  { { [ -d "${d%/*}" ] || mkdir -p "${d%/*}"; } && mkdir "$d"; } || die "$EXIT_NOT_STARTED" "cannot create $d"
  # The detached part reads the script and its data from files: systemd expands ${...} in unit arguments.
  printf '%s' "$AGENT" > "$d/agent.sh"; params > "$d/params"
  max=$((secs + 60))
  # The unit's description says what it runs (journalctl, systemctl status).
  case $setp in new) pstep='nix-env --set' ;; gen-*) pstep="nix-env --switch-generation ${setp#gen-}" ;; *) pstep='' ;; esac
  if [ "$csecs" != 0 ]; then
    (umask 077; printf '%s\n' "$ctoken" > "$d/token"); : > "$d/confirm.log"; max=$((secs * 2 + csecs + 60))
    what='switch-to-configuration test'
    [ "$goal" = switch ] && what="$what, then ${pstep:+$pstep and }switch-to-configuration boot once confirmed"
    what="$what; back to what $d/before records unless fleet confirms within ${csecs}s"
  else
    what="${pstep:+$pstep, then }switch-to-configuration $goal"
  fi
  state '' > "$d/before"; : > "$d/activate.log"
  if [ "$check" = 1 ] && [ ! -x "$out/bin/switch-to-configuration" ]; then
    put "$d/activate.status" refused
  else
    detach "$max" "fleet: $out: $what" sh "$d/agent.sh" run-activate "dir=$d" || { put "$d/activate.status" detach-failed; die "$EXIT_DETACH_FAILED" "systemd-run or setsid failed"; }
  fi
  # From here the action may run: a cut connection means "state unknown", never "did not start".
  echo "$report started"
  await activate ;;
run-activate) # dir: the activation, detached
  load
  exec >>"$d/activate.log" 2>&1 </dev/null
  # A new generation of out, or (fleet rollback, set-profile gen-N) exactly the existing generation N;
  # a failure ends the run with "profile-failed N" in $1.status.
  setprofile() {
      case $setp in gen-*) nix-env -p "$p" --switch-generation "${setp#gen-}" ;; *) nix-env -p "$p" --set "$out" ;; esac || { put "$d/$1.status" "profile-failed $?"; exit 0; }
    readlink "$p" > "$d/profile-set"
  }
  if [ "$csecs" != 0 ]; then
    # Magic rollback: live first (test); the boot default moves only once confirmed, so a reboot in the
    # window comes back on the old system.
    : > "$d/switch-started"
    timeout -k 5 "$secs" "$out/bin/switch-to-configuration" test; rc=$?
    [ "$rc" = 0 ] || { put "$d/activate.status" "switch-failed $rc"; exit 0; }
    put "$d/activate.status" "done"
    exec >>"$d/confirm.log" 2>&1
    # The lock outlives the window, whatever lockTimeout says: no run can take it over (without --break-lock)
    # before this watchdog has decided.
    if [ -n "$lk" ]; then lop='renew'; lsecs=$((csecs + 60)); lockop; fi
    # Polled often (builtins, the clock every half second): the confirmation's latency is magic rollback's cost.
    read -r want < "$d/token"; clock; end=$((now + csecs)); ok=0; i=0
    while :; do
      if [ -f "$d/confirm" ]; then
        read -r got < "$d/confirm" || got=''
        [ "$got" = "$want" ] && { ok=1; break; }
        echo "ignored a confirmation that does not carry this run's token"; rm -f "$d/confirm"
      fi
      # An explicit rollback took over (fleet found the activation wrong): it does the undoing.
      [ -e "$d/rollback.claim" ] && { put "$d/confirm.status" superseded; exit 0; }
      i=$((i + 1)); if [ $((i % 25)) = 0 ]; then clock; [ "$now" -ge "$end" ] && break; fi
      sleep 0.02
    done
    if [ "$ok" = 1 ]; then mine read; else mine renew; fi || { echo "not acting: another run holds the lock now, or the node runs another system ($why)"; put "$d/confirm.status" "stood-down $why"; exit 0; }
    if [ "$ok" = 1 ]; then
      if [ "$goal" = switch ]; then
        [ "$setp" = none ] || setprofile confirm
        timeout -k 5 "$secs" "$out/bin/switch-to-configuration" boot || { put "$d/confirm.status" "boot-failed $?"; exit 0; }
      fi
      put "$d/confirm.status" "done"; exit 0
    fi
    echo "no confirmation within ${csecs}s: rolling back to what $d/before records"
    : >> "$d/rollback.log"
    sh "$d/agent.sh" run-rollback "dir=$d"
    put "$d/confirm.status" expired; exit 0
  fi
  [ "$setp" = none ] || setprofile activate
  : > "$d/switch-started"
  timeout -k 5 "$secs" "$out/bin/switch-to-configuration" "$goal"; rc=$?
  if [ "$rc" = 0 ]; then put "$d/activate.status" "done"; else put "$d/activate.status" "switch-failed $rc"; fi
  exit 0 ;;
confirm) # dir confirm-token, report wait profile: hands the watchdog a token (it accepts only its own run's), then reports
  [ -f "$d/confirm.log" ] || die "$EXIT_NO_ACTION" "no watchdog in $d"
  if [ -f "$d/confirm.status" ]; then read -r cs < "$d/confirm.status"; die "$EXIT_TOO_LATE" "too late, the watchdog already decided: $cs"; fi
  put "$d/confirm" "$ctoken"
  echo "$report started"
  # The verdict (and the boot step) comes back on this same connection when it is quick: no second round trip.
  await confirm ;;
rollback) # lock..., dir systemd unit, report wait profile: undoes this run's changes (once), then reports
  { [ -f "$d/before" ] && [ -f "$d/params" ]; } || die "$EXIT_NO_RUN_DIR" "nothing recorded in $d"
  holdlock
  # Claimed already (by the watchdog, or an earlier call): that rollback's status file tells how it went.
  if [ ! -e "$d/rollback.claim" ]; then
    rm -f "$d/rollback.status"; : >> "$d/rollback.log"
    load
    detach $((secs + 60)) "fleet: rollback to what $d/before records" sh "$d/agent.sh" run-rollback "dir=$d" || { put "$d/rollback.status" detach-failed; die "$EXIT_DETACH_FAILED" "systemd-run or setsid failed"; }
  fi
  echo "$report started"
  await rollback ;;
run-rollback) # dir: undoes only what this run changed, back to what "before" recorded
  load
  # One undo per run dir: the watchdog and fleet's explicit rollback must never both re-activate.
  mkdir "$d/rollback.claim" 2>/dev/null || exit 0
  exec >>"$d/rollback.log" 2>&1 </dev/null
  fail() { put "$d/rollback.status" "failed $1"; exit 0; }
  bl='' bt='' bc=''
  while IFS= read -r kv; do
    case $kv in profileLink=*) bl=${kv#*=} ;; profileTarget=*) bt=${kv#*=} ;; currentSystem=*) bc=${kv#*=} ;; esac
  done < "$d/before"
  if [ -f "$d/profile-set" ]; then
    read -r made < "$d/profile-set"
    case $bl in
    '')
      # There was no profile: remove only the link and the generation this run made.
      if [ "$(readlink "$p")" = "$made" ]; then rm -f "$p" "${p%/*}/$made" || fail "removing the profile this run created failed"; fi ;;
    */*)
      # The profile pointed at a path (a store path), not a generation: point it there again.
      ln -sfn "$bl" "$p" || fail "restoring the profile link to $bl failed" ;;
    *-[0-9]*-link)
      g=${bl%-link}; g=${g##*-}
      nix-env -p "$p" --switch-generation "$g" || fail "nix-env --switch-generation $g failed" ;;
    *)
      ln -sfn "$bl" "$p" || fail "restoring the profile link to $bl failed" ;;
    esac
  fi
  if [ -f "$d/switch-started" ]; then
    case $goal in
    switch|test)
      if [ -n "$bc" ]; then
        og='test'; [ "$bc" = "$bt" ] && og='switch'
        timeout -k 5 "$secs" "$bc/bin/switch-to-configuration" "$og" || fail "re-activating $bc failed"
      elif [ -L /run/current-system ]; then rm -f /run/current-system || fail "removing /run/current-system failed"; fi ;;
    boot)
      if [ -n "$bt" ]; then timeout -k 5 "$secs" "$bt/bin/switch-to-configuration" boot || fail "restoring the boot entry failed"; fi ;;
    esac
  fi
  put "$d/rollback.status" "done"
  exit 0 ;;
wait) # dir action seen report wait profile: the action's log from line seen, then the report
  case $action in activate|confirm|rollback) ;; *) die "$EXIT_USAGE" "no such action: $action" ;; esac
  [ -d "$d" ] || die "$EXIT_NO_RUN_DIR" "no run dir $d"
  [ -f "$d/$action.log" ] || die "$EXIT_NO_ACTION" "no $action was started in $d"
  await "$action" ;;
finish) # [state-dir record keep] [lock...: release]: the node's last call of a run: its record, then its lock
  echo "protocol=$PROTOCOL"
  if [ -n "$line" ]; then
    # Several profiles of one machine share the state dir: one writer at a time, else a record is lost. Written
    # aside, then renamed over: a reader or a crash sees the old records or the new ones, never a mix.
    rf="$sdir/records"; rt="$rf.tmp.$$"
    if ! { [ -d "$sdir" ] || mkdir -p "$sdir"; } || ! exec 8<"$sdir"; then echo "recordError=cannot create $sdir"
    elif ! flock -w 10 8; then echo "recordError=flock on $sdir failed (busy for 10 s, or no flock)"
    # A last line cut short (a full disk, a crash of another writer) ends where it ends: the record starts a line of its own.
    elif { if [ -f "$rf" ]; then tail -n "$((keep - 1))" "$rf"; [ -n "$(tail -c 1 "$rf")" ] && echo; fi; printf '%s\n' "$line"; } > "$rt" && { sync "$rt" 2>/dev/null || :; } && mv -f "$rt" "$rf"; then echo recorded=1
    else rm -f "$rt"; echo "recordError=cannot write $rf"; fi
    exec 8<&-
  fi
  [ -n "$lop" ] && lockop
  exit 0 ;;
reboot) # lock..., systemd unit: proves the lock is this run's, then asks for a reboot a second later, detached, so
  # that this reply gets out first (the reboot ends the SSH session and the lock; fleet waits for a new boot id); a
  # timer is accurate to a minute unless told otherwise
  holdlock
  echo "protocol=$PROTOCOL"
  if [ "$sd" = 1 ]; then
    systemd-run --unit="$unit" --on-active=1 --timer-property=AccuracySec=100ms --description='fleet: reboot' --collect --quiet --no-ask-password -- systemctl reboot || die "$EXIT_DETACH_FAILED" "systemd-run failed"
  else
    setsid sh -c 'sleep 1; exec reboot' </dev/null >/dev/null 2>&1 &
  fi
  echo rebootRequested=1
  exit 0 ;;
lock) # lock-op lock run by pid lock-seconds: renew or release this run's lock (see lockop)
  echo "protocol=$PROTOCOL"
  lockop
  exit 0 ;;
*) die "$EXIT_USAGE" "unknown command $cmd" ;;
esac
