#!/usr/bin/env bash
# The one test command (README and CI): installs what is missing, then lint, type-check, build, unit and lab tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent lint
shellcheck src/agent/agent.sh # the target-side agent: POSIX sh, every warning an error
npm run --silent typecheck
npm run --silent build
# One runner invocation, so its closing summary counts every test; lab tests share the machine's 2 cores.
exec node --import tsx --test --test-concurrency=1 test/unit/*.test.ts test/lab/*.test.ts
