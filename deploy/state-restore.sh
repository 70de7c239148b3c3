#!/usr/bin/env bash
# Restore tracker's database from the state branch before a run (GitHub Actions, or
# any CI with a git checkout). Run from inside the checkout.
#
#   branch missing on the remote  -> first run: start from an empty database
#   branch there, fetched         -> data/tracker.db restored; its commit recorded
#   anything else (remote unreachable, fetch failed, bad archive) -> exit 1: a run
#   must never start from an empty database while real state exists, or its save
#   would replace that state.
#
# Env: TRACKER_DATA_DIR (required: where tracker keeps tracker.db), STATE_BRANCH
# (default tracker-state), STATE_REMOTE (default origin; a URL or path works too).
# Writes $TRACKER_DATA_DIR/.state-base: the commit restored ("" on a first run),
# which state-save.sh pushes against.
set -euo pipefail

branch="${STATE_BRANCH:-tracker-state}"
remote="${STATE_REMOTE:-origin}"
data="${TRACKER_DATA_DIR:?TRACKER_DATA_DIR must name the data directory}"
base_file="$data/.state-base"

mkdir -p "$data"
rm -f "$base_file"

set +e
heads="$(git ls-remote --exit-code "$remote" "refs/heads/$branch")"
found=$?
set -e

case "$found" in
  0)
    if ! git fetch -q --no-tags --depth=1 "$remote" "refs/heads/$branch"; then
      echo "error: the $branch branch exists on $remote but could not be fetched; not starting from an empty database" >&2
      exit 1
    fi
    base="$(git rev-parse FETCH_HEAD)"
    git archive "$base" tracker.db | tar -x -C "$data"
    printf '%s\n' "$base" > "$base_file"
    echo "restored $data/tracker.db from $branch at ${base:0:12} (listed ${heads:0:12})"
    ;;
  2)
    printf '\n' > "$base_file"
    echo "no $branch branch on $remote yet: first run, starting from an empty database"
    ;;
  *)
    echo "error: cannot list $remote (git ls-remote exit $found); not starting from an empty database" >&2
    exit 1
    ;;
esac
