#!/usr/bin/env bash
# Every benchmark, one command: `npm run bench`; some of them: `bash bench/run.sh fleet-16 startup`.
# Needs root (the lab's namespaces); installs what is missing (scripts/setup.sh, GNU time), builds, then runs.
# BENCH_REPEAT=N overrides each benchmark's repetitions (at least 3). Results: bench/results/*.json, BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh # first: reading the list below needs tsx
# The list and its order are bench/lib/results.ts's ORDER (also the order of the rows in BENCHMARKS.md).
list=$(node --import tsx -e 'const { ORDER } = await import("./bench/lib/results.ts"); console.log(ORDER.join(" "))')
read -ra all <<< "${list}"
names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${all[@]}")
for name in "${names[@]}"; do
  if [[ ! " ${all[*]} " =~ " ${name} " ]]; then
    echo "bench: unknown benchmark '${name}' (one of: ${all[*]})" >&2
    exit 2
  fi
done

# GNU time: wall time and peak memory of whole processes (plan-10k).
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
  else
    echo "bench: /usr/bin/time is missing: apt-get install -y time (as root)" >&2
    exit 1
  fi
fi
npm run --silent build
# Offline Nix: the default substituter would stall every realisation by seconds.
export NIX_CONFIG="substituters ="

started=$(date +%s)
for name in "${names[@]}"; do
  echo "== ${name}" >&2
  node --import tsx "bench/${name}.ts"
done
echo "bench: ${names[*]} done in $(( $(date +%s) - started )) s; results in bench/results/, summary in BENCHMARKS.md" >&2
