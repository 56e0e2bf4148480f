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
exec .venv/bin/python -m pytest -p no:cacheprovider --timeout=900 "${@:-tests}"
