#!/usr/bin/env bash
# Set up (idempotently) and run fsdgimg's whole test suite: Python tests against real skopeo,
# umoci, podman, containerd, the Distribution registry and nginx, and the Guix channel's checks in
# a Guix 1.5 chroot. Extra arguments go to pytest (e.g. tests/core -k convert).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Guix side is checked by a real Guix 1.5 (Debian sid, in a chroot): see tests/guix/.
bash tests/guix/setup-chroot.sh
export FSDGIMG_GUIX="$PWD/tests/guix/guix"
# The real build the docker-fsdg tests check (Debian's docker.io source with the channel's patches,
# ~9 minutes on a fresh machine, cached after) starts now, beside the suite, which runs those
# tests last (tests/conftest.py): they wait for it on its lock instead of building it in line.
build_pid=
if [ $# -eq 0 ]; then
  log=$(mktemp "${TMPDIR:-/tmp}/fsdgimg-docker-fsdg-build.XXXXXX")
  setsid bash scripts/docker-fsdg-debian-build.sh </dev/null >"$log" 2>&1 &
  build_pid=$!
fi
status=0
.venv/bin/python -m pytest -p no:cacheprovider --timeout=900 "${@:-tests}" || status=$?
if [ -n "$build_pid" ] && kill -0 "$build_pid" 2>/dev/null; then
  kill -- "-$build_pid" 2>/dev/null || true   # the suite stopped early; the next run builds it again
fi
if [ -n "$build_pid" ]; then wait "$build_pid" 2>/dev/null || true; fi
exit "$status"
