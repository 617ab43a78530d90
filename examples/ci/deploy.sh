#!/usr/bin/env bash
# On a merge to main: fleet apply --yes --json. The run's NDJSON goes to $FLEET_OUT/fleet-apply.ndjson (keep it as an
# artifact: every node's phases, outcome and error), its metrics to $FLEET_OUT/fleet-apply.prom, and a line per node
# to the log. The CI runs one deploy at a time (concurrency / resource_group); fleet's per-target lock is the second
# guard. FLEET_MESSAGE (default: the commit and pipeline) goes into each target's deploy record.
# Exit code: fleet's (0 done, 1 nodes failed and were rolled back or not touched, 2 usage, 3 look at a node, 130).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/fleet.sh"
events="$out_dir/fleet-apply.ndjson"
message=${FLEET_MESSAGE:-"ci: ${GITHUB_SHA:-${CI_COMMIT_SHA:-unknown commit}} ${CI_PIPELINE_URL:-${GITHUB_RUN_ID:+run $GITHUB_RUN_ID}}"}
fleet apply --yes --json --metrics-file "$out_dir/fleet-apply.prom" -m "${message:0:1000}" "${on_args[@]}" > "$events"
code=$?
# One line per node from the summary (the NDJSON is the whole story).
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.startsWith("{"));
  const summary = lines.map((l) => JSON.parse(l)).find((e) => e.type === "summary");
  if (!summary) { console.log("fleet: no summary in the events (see the log above)"); process.exit(0); }
  for (const [node, r] of Object.entries(summary.nodes)) console.log(`${node}: ${r.outcome}${r.error ? `: ${r.error.split("\n")[0]}` : ""}`);
  console.log(`fleet: exit ${summary.exitCode} after ${(summary.durationMs / 1000).toFixed(1)} s; events in ${process.argv[1]}`);
' "$events"
exit $code
