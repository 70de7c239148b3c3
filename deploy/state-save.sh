#!/usr/bin/env bash
# Save tracker's database to the state branch after a run, as ONE commit that
# replaces the previous one (the repository does not grow), but only over the state
# this run started from: the push carries --force-with-lease against the commit
# state-restore.sh recorded, so a concurrent or earlier failed run is never overwritten.
#
# Env: as state-restore.sh, plus GITHUB_RUN_ID (for the commit message) and PYTHON
# (default python3, for a consistent copy of the SQLite file).
set -euo pipefail

branch="${STATE_BRANCH:-tracker-state}"
remote="${STATE_REMOTE:-origin}"
data="${TRACKER_DATA_DIR:?TRACKER_DATA_DIR must name the data directory}"
db="$data/tracker.db"
base_file="$data/.state-base"

if [ ! -f "$base_file" ]; then
  echo "error: state-restore.sh did not complete in this run; not saving over state this run did not start from" >&2
  exit 1
fi
if [ ! -f "$db" ]; then
  echo "no database at $db: nothing to save"
  exit 0
fi
base="$(head -n 1 "$base_file")"

copy="$(mktemp -d)"
trap 'rm -rf "$copy"' EXIT
# SQLite's backup API: a consistent copy with the WAL folded in.
"${PYTHON:-python3}" -c 'import sqlite3, sys
src, dst = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close(); src.close()' "$db" "$copy/tracker.db"

# Plumbing only: the checkout's working tree and branches stay untouched, and the
# push uses the checkout's own credentials.
blob="$(git hash-object -w "$copy/tracker.db")"
tree="$(printf '100644 blob %s\ttracker.db\n' "$blob" | git mktree)"
commit="$(git -c user.name=tracker -c user.email=tracker@users.noreply.github.com \
  commit-tree "$tree" -m "tracker state after run ${GITHUB_RUN_ID:-local}")"

if ! git push -q --force-with-lease="refs/heads/$branch:$base" "$remote" "$commit:refs/heads/$branch"; then
  echo "error: $branch on $remote is no longer the state this run started from (${base:-no branch}); not replacing it" >&2
  exit 1
fi
echo "saved $db to $branch as ${commit:0:12} (replacing ${base:-nothing})"
