#!/usr/bin/env bash
# Set up a Debian machine for fsdgimg, idempotently: the Debian packages fsdgimg drives and its
# tests use as real peers, and a virtualenv (.venv) holding fsdgimg and its Python dependencies.
# A second run installs nothing and takes a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # fsdgimg's own tools: rootfs builders, comparison
  mmdebstrap debootstrap diffoscope-minimal tar gzip zstd pigz ca-certificates
  # real peers the tests and benchmarks run against
  skopeo umoci podman containerd docker-registry nginx apache2 caddy docker.io
  apache2-utils openssl uidmap fuse-overlayfs curl time python3-venv
  # OpenPGP image signatures (fsdgimg sign --gpg-key)
  gnupg
  # foreign architectures: qemu-user emulation registered with binfmt_misc, and arch-test to ask
  # whether this host can run an architecture's binaries
  qemu-user-static binfmt-support arch-test
  # the static tree's page checked in headless Chromium; mirrors of a static tree copied with rsync
  chromium rsync
  # the FSDG audit's first license detector, for copyright files DEP-5 does not cover
  licensecheck
)
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo

# binfmt_misc is not mounted at boot on every machine (containers, minimal VMs): without it
# binfmt-support registers nothing and foreign-architecture builds cannot run.
binfmt=/proc/sys/fs/binfmt_misc
mount_binfmt() {
  if [ -d "$binfmt" ] && [ ! -e "$binfmt/register" ]; then
    $sudo mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null \
      || echo "setup: cannot mount binfmt_misc; foreign architectures will not build here" >&2
  fi
}
mount_binfmt
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  # Debian's nginx, apache2 and docker-registry would start system services on ports 80 and 5000
  # (and apache2 fails to install where nginx already holds 80): keep them from starting at all;
  # fsdgimg's tests start their own instances on free loopback ports.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    own_policy=1
  fi
  trap '[ "$own_policy" = 1 ] && $sudo rm -f "$policy"' EXIT
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The packages register their interpreters when installed; on a machine that booted since (a
# fresh, empty binfmt_misc) they must be enabled again. update-binfmts is idempotent.
if [ -e "$binfmt/register" ] && [ ! -e "$binfmt/qemu-aarch64" ] && command -v update-binfmts >/dev/null; then
  $sudo update-binfmts --enable >/dev/null 2>&1 \
    || echo "setup: update-binfmts --enable failed; foreign architectures may not build here" >&2
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# Reinstall only when the project's metadata changed since the last install.
stamp=.venv/.fsdgimg-installed
if [ ! -f "$stamp" ] || [ python/pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >&2
  .venv/bin/python -m pip install -q -e "python[test,spdx]" >&2
  touch "$stamp"
fi

# The FSDG audit's second license detector, ScanCode (scancode-toolkit), for the license texts
# licensecheck cannot name. It lives in a virtualenv of its own inside .venv: its plugin system
# (plugincode 32) finds no hooks with pluggy 1.6, which pytest needs. Its `scancode` is linked
# into .venv/bin, where fsdgimg looks for it beside its own interpreter.
scan=.venv/scancode
scan_version=32.5.0
if [ ! -x "$scan/bin/scancode" ] || ! grep -qx "$scan_version" "$scan/.fsdgimg-version" 2>/dev/null; then
  "$python" -m venv "$scan"
  "$scan/bin/python" -m pip install -q "scancode-toolkit-mini==$scan_version" "pluggy<1.5" >&2
  echo "$scan_version" > "$scan/.fsdgimg-version"
fi
ln -sf ../scancode/bin/scancode .venv/bin/scancode
