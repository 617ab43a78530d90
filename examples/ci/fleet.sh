# Sourced by the other scripts: how to run fleet, and where the files go. Not run by itself.
# FLEET      the fleet command (default: fleet; a checkout: "node /path/to/fleet/bin/fleet.js")
# FLEET_FILE the fleet file (fleet's own default: ./fleet.yaml)
# FLEET_ON   a selector for --on (default: every node)
# FLEET_OUT  where the scripts write their files (default: the working directory)
read -r -a fleet_cmd <<< "${FLEET:-fleet}"
out_dir=${FLEET_OUT:-.}
mkdir -p "$out_dir"
on_args=()
if [ -n "${FLEET_ON:-}" ]; then on_args=(--on "$FLEET_ON"); fi

fleet() {
  "${fleet_cmd[@]}" "$@"
}
