#!/usr/bin/env bash
# On a schedule: is every node on the system the main branch wants? fleet status --exit-code prints the table and
# exits 1 when a node is not in-sync (outdated, drifted: switched by hand, pending-reboot, locked, unreachable).
# $FLEET_OUT/fleet-status.ndjson keeps the same status as NDJSON for the job's artifacts.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/fleet.sh"
fleet status --json --exit-code "${on_args[@]}" > "$out_dir/fleet-status.ndjson"
code=$?
node -e '
  const events = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  for (const s of events.filter((e) => e.type === "status")) console.log(`${s.node}: ${s.state}${s.state === "in-sync" ? "" : `: ${s.reason}`}`);
  for (const f of events.filter((e) => e.type === "node-done")) console.log(`${f.node}: ${f.error}`);
' "$out_dir/fleet-status.ndjson"
if [ $code -eq 1 ]; then echo "fleet: drift: not every node runs what the fleet file wants" >&2; fi
exit $code
