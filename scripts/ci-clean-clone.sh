#!/usr/bin/env bash
# Runs .ci/run the way CI does: on a fresh clone of the committed HEAD, so a missing file or a
# lock file that `npm ci` rejects shows up before it reaches CI. Usage: scripts/ci-clean-clone.sh
set -euo pipefail
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/replikv"
cd "$work/replikv"
CI=true bash .ci/run
