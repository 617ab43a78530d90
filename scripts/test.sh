#!/usr/bin/env bash
# The one test command (README and CI): installs what is missing, then lint, type-check, build, unit and lab tests.
# `--quick` (npm run test:quick): the iteration tier: unit tests and the light-host lab tests only (no systemd
# hosts, no lint); the full command above stays what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = --quick ]; then
  npm run --silent build
  # A lab test that starts systemd hosts imports the systemd lab (lab/systemd/…, or test/lab/support.ts's systemd helpers).
  mapfile -t light < <(grep -L -E "lab/systemd|startSystemdLab|useSystemdLab|SystemdLab" test/lab/*.test.ts)
  exec node --import tsx --test --test-concurrency=1 test/unit/*.test.ts "${light[@]}"
fi
npm run --silent lint
shellcheck src/agent/agent.sh # the target-side agent: POSIX sh, every warning an error
npm run --silent typecheck
npm run --silent build
# Unit tests two files at once (no lab, no shared state); lab tests one file at a time: they share the machine's 2
# cores with the hosts they start, and their deadlines (confirmation windows, reboots) are real. Both must pass.
unit=0
node --import tsx --test --test-concurrency=2 test/unit/*.test.ts || unit=$?
node --import tsx --test --test-concurrency=1 test/lab/*.test.ts
exit "${unit}"
