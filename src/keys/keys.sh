# shellcheck shell=sh
# fleet's key helper on a target (POSIX sh), run as root through the node's privilege escalation:
#   sh -c <this script> fleet-keys <read|write> <token> <dir>
# Only src/keys/remote.ts builds those arguments; everything else comes on stdin, after a line holding <token>
# (a sudo password line before it, when sudo did not need it, is skipped). No secret is ever an argument.
# <dir> is <stateDir>/keys (mode 700): `salt` (64 random hex digits, made once) and `manifest` (a line
# `<hash> <path>` per file fleet wrote). A hash is sha256 of the salt's text followed by the file's content,
# computed here from the file itself: fleet learns hashes, never content, and a hash of a short secret
# cannot be looked up in a table or matched across nodes without the node's own salt.
#
# read: stdin `want <user> <group> <path>` lines, then `end`. Prints per path `key <hash> <mode> <user> <group>
#   <path>`, `missing <path>`, `other <path>` (not a regular file, or no salt yet: it is replaced), `dir <path>`
#   (a directory: refused); `stale <path>` per manifest entry not wanted; `nouser <name>`, `nogroup <name>`;
#   then `salt=<hex>` (empty: none yet) and `done`. Changes nothing.
# write: stdin records `put <length> <mode> <user> <group> <path>` each followed by exactly <length> bytes of
#   content, `keep 0 - - - <path>` (wanted and current: not touched), `hold 0 - - - <path>` (wanted, written by a
#   later call: not touched, its manifest entry kept as it is), then `end 0 - - - -`. Each put goes to a
#   temporary file in its directory: created 0600 by mktemp, chowned and chmodded, only then filled, then
#   fsynced. Once every one is complete they are renamed into place together, the manifest is replaced, and
#   files fleet wrote that are neither put nor kept are removed (only if still what fleet wrote, else left).
#   Prints `wrote <path>`, `removed <path>`, `left <path>`, then `done`. An account that does not exist
#   (`nouser`, `nogroup`, exit 3), an unusable directory (`baddir`, `dir`, exit 4) or input cut short (exit 5)
#   leaves every key as it was.
umask 077
cmd=${1:-} token=${2:-} kd=${3:-}
nl='
'
die() { echo "fleet-keys: $2" >&2; exit "$1"; }
case $cmd in read|write) ;; *) die 2 "unknown command $cmd" ;; esac
case $kd in /*) ;; *) die 2 "the key state directory must be absolute: $kd" ;; esac
[ -n "$token" ] || die 2 "no token"
mf=$kd/manifest
sf=$kd/salt
l=''
while IFS= read -r l; do [ "$l" = "$token" ] && break; done
[ "$l" = "$token" ] || die 5 "no input"
hv=''
hashof() { hv=$({ printf '%s' "$salt"; cat -- "$1"; } | sha256sum) && hv=${hv%% *}; }
hasuser() { id -u "$1" >/dev/null 2>&1; }
hasgroup() {
  if command -v getent >/dev/null 2>&1; then getent group "$1" >/dev/null 2>&1
  else cut -d: -f1 /etc/group | grep -Fqx -- "$1"; fi
}
stale() { # $1: the wanted paths; prints `<hash> <path>` of each manifest entry not among them
  [ -f "$mf" ] || return 0
  while read -r mh mp; do
    case $nl$1 in *"$nl$mp$nl"*) ;; *) printf '%s %s\n' "$mh" "$mp" ;; esac
  done < "$mf"
}
salt=''
[ -f "$sf" ] && IFS= read -r salt < "$sf"
ended=0 wanted=''

if [ "$cmd" = read ]; then
  while read -r kind user group p; do
    case $kind in
    end) ended=1; break ;;
    want) ;;
    *) die 2 "unknown request $kind" ;;
    esac
    wanted=$wanted$p$nl
    hasuser "$user" || echo "nouser $user"
    hasgroup "$group" || echo "nogroup $group"
    if [ -d "$p" ] && [ ! -L "$p" ]; then echo "dir $p"
    elif [ -f "$p" ] && [ ! -L "$p" ] && [ -n "$salt" ]; then
      hashof "$p" && st=$(stat -c '%a %U %G' -- "$p") && echo "key $hv $st $p"
    elif [ -e "$p" ] || [ -L "$p" ]; then echo "other $p"
    else echo "missing $p"; fi
  done
  [ "$ended" = 1 ] || die 5 "the request ended early"
  stale "$wanted" | while read -r mh mp; do echo "stale $mp"; done
  echo "salt=$salt"
  echo 'done'
  exit 0
fi

temps=''
trap 'printf "%s" "$temps" | while IFS= read -r t; do rm -f -- "$t"; done' EXIT
trap 'exit 1' HUP INT TERM
{ { [ -d "$kd" ] || mkdir -p -- "$kd"; } && chmod 700 -- "$kd"; } || die 4 "cannot create $kd"
if [ -z "$salt" ]; then
  salt=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  [ ${#salt} = 64 ] || die 4 "cannot read /dev/urandom"
  { printf '%s\n' "$salt" > "$sf.tmp" && mv -f -- "$sf.tmp" "$sf"; } || die 4 "cannot write $sf"
fi
usable() { # $1: a key's directory: made (711) when missing; refused unless only root can write to it
  if [ ! -d "$1" ]; then
    { (umask 022 && mkdir -p -- "$1") && chmod 711 -- "$1"; } || { echo "baddir $1"; return 1; }
  fi
  [ -z "$(find "$1" -prune \( ! -type d -o ! -user 0 -o -perm -020 -o -perm -002 \) -print)" ] || { echo "baddir $1"; return 1; }
}
bad=0 current='' holds='' pending=''
while read -r kind len mode user group p; do
  case $kind in end) ended=1; break ;; put|keep|hold) ;; *) die 2 "unknown record $kind" ;; esac
  case $len in ''|*[!0-9]*) die 2 "not a length: $len" ;; esac
  wanted=$wanted$p$nl
  case $kind in keep) current=$current$p$nl; continue ;; hold) holds=$holds$p$nl; continue ;; esac
  case $mode in [0-7][0-7][0-7]|[0-7][0-7][0-7][0-7]) ;; *) die 2 "not a mode: $mode" ;; esac
  ok=1
  hasuser "$user" || { echo "nouser $user"; ok=0; bad=3; }
  hasgroup "$group" || { echo "nogroup $group"; ok=0; bad=3; }
  if [ "$ok" = 1 ]; then
    d=${p%/*}
    if [ -d "$p" ] && [ ! -L "$p" ]; then echo "dir $p"; ok=0
    elif ! usable "${d:-/}"; then ok=0; fi
    [ "$ok" = 1 ] || { [ "$bad" = 3 ] || bad=4; }
  fi
  if [ "$ok" = 0 ]; then
    head -c "$len" > /dev/null # read past its content: the next record follows
    continue
  fi
  t=$(mktemp "${d:-}/.fleet-key.XXXXXXXXXX") || die 4 "cannot create a temporary file in ${d:-/}"
  temps=$temps$t$nl
  { chown -- "$user:$group" "$t" && chmod -- "$mode" "$t"; } || die 4 "cannot set the owner or mode of $t"
  head -c "$len" > "$t"
  size=$(wc -c < "$t" | tr -d ' ')
  [ "$size" = "$len" ] || die 5 "the content of $p ended early"
  sync -- "$t" 2>/dev/null || sync
  current=$current$p$nl
  pending=$pending$t$nl$p$nl
done
[ "$ended" = 1 ] || die 5 "the request ended early"
[ "$bad" = 0 ] || exit "$bad"
while IFS= read -r t && IFS= read -r p; do
  mv -f -- "$t" "$p" || die 4 "cannot rename $t to $p"
  sync -- "${p%/*}" 2>/dev/null
  echo "wrote $p"
done <<EOF
$pending
EOF
new=''
while IFS= read -r p; do
  [ -n "$p" ] && [ -f "$p" ] && [ ! -L "$p" ] && hashof "$p" && new="$new$hv $p$nl"
done <<EOF
$current
EOF
if [ -f "$mf" ]; then
  while read -r mh mp; do
    case $nl$holds in *"$nl$mp$nl"*) new="$new$mh $mp$nl" ;; esac
  done < "$mf"
fi
stale "$wanted" | while read -r mh mp; do
  if [ -f "$mp" ] && [ ! -L "$mp" ] && hashof "$mp" && [ "$hv" = "$mh" ]; then rm -f -- "$mp" && echo "removed $mp"
  elif [ -e "$mp" ] || [ -L "$mp" ]; then echo "left $mp"; fi
done
{ printf '%s' "$new" > "$mf.tmp" && { sync -- "$mf.tmp" 2>/dev/null || :; } && mv -f -- "$mf.tmp" "$mf"; } || die 4 "cannot write $mf"
echo 'done'
