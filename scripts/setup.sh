#!/usr/bin/env bash
# Installs what fleet and its lab need on a fresh Debian machine: nix-bin, openssh-server, node modules, and for the
# systemd lab hosts systemd-nspawn, debootstrap, ip/tc, tmux for terminal UI tests, shellcheck for the agent, and the
# checkers of fleet's output formats: promtool (Debian's prometheus package) and cmark-gfm (GitHub's Markdown
# renderer), and nginx for the lab's binary cache. Only what is missing; the systemd hosts' root fs is built later,
# once per machine, by the lab itself (lab/systemd/rootfs.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v nix-store >/dev/null 2>&1 || need+=(nix-bin)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
command -v systemd-nspawn >/dev/null 2>&1 || need+=(systemd-container)
[ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
{ [ -x /usr/sbin/sysctl ] || [ -x /sbin/sysctl ]; } || need+=(procps)
{ [ -x /usr/sbin/ip ] || [ -x /sbin/ip ]; } || need+=(iproute2)
{ [ -x /usr/sbin/tc ] || [ -x /sbin/tc ]; } || need+=(iproute2)
command -v tmux >/dev/null 2>&1 || need+=(tmux) # a real terminal for the terminal UI's end-to-end tests (test/tmux.ts)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck) # npm test checks the agent (src/agent/agent.sh)
command -v promtool >/dev/null 2>&1 || need+=(prometheus) # promtool check metrics (test/tools.ts); Debian ships it nowhere smaller
command -v cmark-gfm >/dev/null 2>&1 || need+=(cmark-gfm) # renders the Markdown plan as GitHub does (test/tools.ts)
[ -x /usr/sbin/nginx ] || need+=(nginx-light) # the lab's binary cache over HTTP (lab/cache-server.ts, the cache route's tests)
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" = 0 ]; then
    # Only promtool is wanted from prometheus: no package may start a service here (the lab runs its own sshd).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "setup: missing ${need[*]}: run as root, or install them (apt-get install -y ${need[*]})" >&2
  fi
fi
# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
