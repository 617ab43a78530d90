#!/usr/bin/env bash
# On a pull/merge request: the plan as Markdown (fleet plan --format markdown, or fleet diff with `diff` as the
# first argument: it builds the new systems and lists the package changes), written to $FLEET_OUT/fleet-plan.md,
# then posted as a comment when a token is set (comment.sh; a later run updates that comment).
# Exit code: fleet's (0 planned, 1 a node could not be planned or compared, 2 usage); the comment is posted first.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/fleet.sh"
command=${1:-plan}
case "$command" in plan | diff) ;; *) echo "usage: $0 [plan|diff]" >&2; exit 2 ;; esac
file="$out_dir/fleet-plan.md"
fleet "$command" --format markdown "${on_args[@]}" > "$file"
code=$?
if [ $code -ne 0 ] && [ $code -ne 1 ]; then exit $code; fi # a usage error or an interrupted run: nothing to post
echo "fleet: the $command is in $file"
"$here/comment.sh" "$file" || exit $?
exit $code
