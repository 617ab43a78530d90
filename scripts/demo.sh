#!/usr/bin/env bash
# The newcomer's main job: set up, start a 4-host lab, `fleet apply --on tag:web`, then show what runs where.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent build
export NIX_CONFIG="substituters ="   # the lab has no network: never wait on a binary cache
if ! npx tsx scripts/lab.ts status .lab >/dev/null 2>&1; then
  npx tsx scripts/lab.ts down .lab >/dev/null 2>&1 || true
  npx tsx scripts/lab.ts up --names web-1,web-2,db-1,build-1 --ports 2201,2202,2203,2204 --dir .lab
fi
fleet() { node bin/fleet.js -f fleet.example.yaml "$@"; }
echo; echo '$ fleet check'; fleet check
echo; echo '$ fleet nodes'; fleet nodes
echo; echo '$ fleet plan --on tag:web'; fleet plan --on tag:web
echo; echo '$ fleet apply --on tag:web'; fleet apply --on tag:web
echo; echo 'What runs where (read from the hosts over ssh):'
for h in web-1 web-2 db-1; do
  printf '  %-6s /run/current-system -> %s\n' "$h" "$(ssh -F .lab/ssh_config "$h" 'readlink /run/current-system || echo "(nothing yet)"')"
done
echo; echo "Next: 'node bin/fleet.js -f fleet.example.yaml apply' deploys db-1 too (built on build-1)."
echo "Stop the lab with: npm run lab -- down .lab"
