#!/usr/bin/env bash
# Set up (idempotently) and run fsdgimg's main job: build an image of the catalog, build it a
# second time to prove it bit-for-bit reproducible, and publish it as a static registry under
# ./public (plain files any web server can serve). Arguments replace the default job, e.g.
#   bash scripts/run.sh build guix-hello --check --publish static:public
#   bash scripts/run.sh serve public --listen 127.0.0.1:8080
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if (($# == 0)); then
  set -- build trisquel-minimal --check --publish static:public
fi
# Reproducible builds need a fixed time for every file they create: by default the time of the
# checkout's last commit, so that anyone rebuilding the same commit gets the same bits.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && git rev-parse --git-dir >/dev/null 2>&1; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)
  export SOURCE_DATE_EPOCH
fi
exec .venv/bin/fsdgimg "$@"
