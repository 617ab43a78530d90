#!/usr/bin/env bash
# Posts a Markdown file as a pull/merge request comment, or updates the comment posted before: the one whose
# first line is the file's first line (fleet's marker, e.g. `<!-- fleet-plan: fleet.yaml switch -->`).
#   GitHub: GITHUB_TOKEN, GITHUB_REPOSITORY (owner/name), PR_NUMBER; GITHUB_API_URL (default https://api.github.com)
#   GitLab: GITLAB_TOKEN (an access token with api scope), CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID
# With neither, it posts nothing and says so (exit 0): the file is the result. Needs curl and node.
set -euo pipefail
file=$1
marker=$(head -n 1 "$file")
case "$marker" in '<!-- fleet-'*' -->') ;; *) echo "comment.sh: $file does not start with fleet's marker line" >&2; exit 2 ;; esac

# node does the JSON: the body as a JSON string, and the id of the comment whose body starts with the marker.
json_body() { node -e 'process.stdout.write(JSON.stringify({ body: require("fs").readFileSync(process.argv[1], "utf8") }))' "$1"; }
find_comment() {
  node -e '
    let text = ""; process.stdin.on("data", (c) => (text += c)).on("end", () => {
      const found = JSON.parse(text).find((c) => typeof c.body === "string" && c.body.split("\n", 1)[0] === process.argv[1]);
      if (found) process.stdout.write(String(found.id));
    });' "$marker"
}

if [ -n "${GITHUB_TOKEN:-}" ] && [ -n "${PR_NUMBER:-}" ]; then
  api=${GITHUB_API_URL:-https://api.github.com}
  repo=${GITHUB_REPOSITORY:?GITHUB_REPOSITORY (owner/name) is needed with GITHUB_TOKEN}
  auth=(-H "Authorization: Bearer $GITHUB_TOKEN" -H "Accept: application/vnd.github+json")
  id=$(curl -fsS "${auth[@]}" "$api/repos/$repo/issues/$PR_NUMBER/comments?per_page=100" | find_comment)
  if [ -n "$id" ]; then
    json_body "$file" | curl -fsS -o /dev/null "${auth[@]}" -X PATCH --data-binary @- "$api/repos/$repo/issues/comments/$id"
    echo "comment.sh: updated comment $id on $repo#$PR_NUMBER"
  else
    json_body "$file" | curl -fsS -o /dev/null "${auth[@]}" -X POST --data-binary @- "$api/repos/$repo/issues/$PR_NUMBER/comments"
    echo "comment.sh: commented on $repo#$PR_NUMBER"
  fi
elif [ -n "${GITLAB_TOKEN:-}" ] && [ -n "${CI_MERGE_REQUEST_IID:-}" ]; then
  notes="${CI_API_V4_URL:?}/projects/${CI_PROJECT_ID:?}/merge_requests/$CI_MERGE_REQUEST_IID/notes"
  auth=(-H "PRIVATE-TOKEN: $GITLAB_TOKEN" -H "Content-Type: application/json")
  id=$(curl -fsS "${auth[@]}" "$notes?per_page=100" | find_comment)
  if [ -n "$id" ]; then
    json_body "$file" | curl -fsS -o /dev/null "${auth[@]}" -X PUT --data-binary @- "$notes/$id"
    echo "comment.sh: updated note $id on !$CI_MERGE_REQUEST_IID"
  else
    json_body "$file" | curl -fsS -o /dev/null "${auth[@]}" -X POST --data-binary @- "$notes"
    echo "comment.sh: commented on !$CI_MERGE_REQUEST_IID"
  fi
else
  echo "comment.sh: no GITHUB_TOKEN + PR_NUMBER nor GITLAB_TOKEN + CI_MERGE_REQUEST_IID: not posted ($file is the comment)"
fi
