#!/bin/bash
# Prove the channel's docker-fsdg patches on a real build: Debian 12's
# docker.io source package (docker 20.10.24, the series of Guix's docker
# 20.10.27), patched with the very patch files of
# channel/fsdgimg/packages/patches, built with Debian's Go in GOPATH mode
# (Debian builds docker against its golang-*-dev packages rather than the
# vendored copies), and the patched packages' Go tests run.
#
# Guix cannot build docker here (no substitutes, no GitHub); Debian's archive
# is reachable, and its source is the same code.  Where the Guix source
# vendors github.com/docker/distribution, Debian's build takes it from
# golang-github-docker-distribution-dev: the default-registry patch applies
# there with its 'vendor/github.com/docker/distribution/' prefix stripped
# (-p5).  The docker CLI of Debian's build uses the daemon's registry package
# from the same GOPATH, so the daemon's patches cover it too; the docker-cli-*
# patch files are the same changes at docker/cli's vendored paths (a test
# checks that).
#
# Usage: scripts/docker-fsdg-debian-build.sh [--cold]
#   Prints the directory holding bin/docker, bin/dockerd, go-test.log and
#   version.  The result is cached under a key made of this script and the
#   patches, so a second run prints it at once; --cold rebuilds it with an
#   empty Go build cache (what bench/docker-fsdg measures).
#
# Cache: $FSDGIMG_DOCKER_FSDG_CACHE, by default
# ${XDG_CACHE_HOME:-~/.cache}/fsdgimg/docker-fsdg: a Debian 12 build chroot
# (made once with mmdebstrap and docker.io's build dependencies, ~2 min),
# the extracted source, the outputs.  Needs root (chroot, mounts).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
patches=$repo/channel/fsdgimg/packages/patches
cache=${FSDGIMG_DOCKER_FSDG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fsdgimg/docker-fsdg}
mirror=${FSDGIMG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cold=false
case "${1:-}" in
    "") ;;
    --cold) cold=true ;;
    *) echo "usage: $0 [--cold]" >&2; exit 2 ;;
esac

daemon_patches="docker-fsdg-default-registry.patch docker-fsdg-refuse-docker-hub.patch"
key=$( (cat "$0"; for p in $daemon_patches; do cat "$patches/$p"; done) | sha256sum | cut -c1-16)
out=$cache/out/$key
built() { [ -x "$out/bin/docker" ] && [ -x "$out/bin/dockerd" ] && [ -s "$out/go-test.log" ]; }
if ! $cold && built; then
    echo "$out"
    exit 0
fi
# One build at a time (two test runs would remove each other's work tree);
# the one that waited finds the other's result.
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9
if ! $cold && built; then
    echo "$out"
    exit 0
fi

log() { echo "docker-fsdg-debian-build: $*" >&2; }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }

root=$cache/bookworm
mkdir -p "$cache"
if [ ! -x "$root/usr/bin/go" ] || [ ! -e "$root/.fsdgimg-ready" ]; then
    log "making the Debian 12 build chroot (build dependencies of docker.io)"
    t0=$(now)
    rm -rf "$root"
    mmdebstrap --quiet --mode=root --variant=apt \
        --include=build-essential,patch,dpkg-dev,ca-certificates \
        --chrooted-customize-hook='apt-get build-dep -y docker.io' \
        bookworm "$root" "deb $mirror bookworm main" "deb-src $mirror bookworm main" >&2
    touch "$root/.fsdgimg-ready"
    echo "chroot $(elapsed "$t0")" > "$cache/chroot-seconds"
fi

# Run a shell script in the chroot, with /proc and /dev, in a private mount
# namespace so that no mount outlives the call.
in_chroot() {
    unshare --mount --propagation private -- /bin/sh -euc '
        root=$1; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        exec chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/root \
            LC_ALL=C.UTF-8 /bin/sh -euc "$@"' in-chroot "$root" "$@"
}

if [ ! -d "$root/build/src/engine" ]; then
    log "fetching and extracting Debian's docker.io source"
    rm -rf "$root/build"
    mkdir -p "$root/build"
    in_chroot 'cd /build && apt-get update -qq && apt-get source -qq --download-only docker.io >/dev/null 2>&1 &&
               dpkg-source --no-check -x docker.io_*.dsc src >/dev/null &&
               dpkg-parsechangelog -l src/debian/changelog -S Version > src/VERSION'
fi

work=$root/build/w-$key
rm -rf "$work"
mkdir -p "$work/patches"
for p in $daemon_patches; do cp "$patches/$p" "$work/patches/"; done
t0=$(now)
log "patching and building in $work"
in_chroot '
    w=/build/w-'"$key"'
    version=$(cat /build/src/VERSION)
    export GOPATH=$w/gopath:/usr/share/gocode GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE=$w/gocache
    src=$w/gopath/src/github.com/docker
    mkdir -p $src $w/bin
    cp -a /build/src/engine $src/docker
    cp -a /build/src/cli $src/cli
    cp -a /build/src/libnetwork $src/libnetwork
    cp -a /build/src/swarmkit $src/swarmkit
    # The first GOPATH entry wins: the patched copy of Debian'"'"'s distribution.
    cp -a /usr/share/gocode/src/github.com/docker/distribution $src/distribution
    patch --quiet --force --no-backup-if-mismatch -p5 -d $src/distribution \
        < $w/patches/docker-fsdg-default-registry.patch
    patch --quiet --force --no-backup-if-mismatch -p1 -d $src/docker \
        < $w/patches/docker-fsdg-refuse-docker-hub.patch
    cd $src/docker
    t0=$(date +%s.%N)
    go build -tags "apparmor seccomp" -o $w/bin/dockerd \
        -ldflags "-X github.com/docker/docker/dockerversion.Version=$version-fsdg" ./cmd/dockerd
    t1=$(date +%s.%N)
    cd $src/cli
    go build -tags pkcs11 -o $w/bin/docker \
        -ldflags "-X github.com/docker/cli/cli/version.Version=$version-fsdg" ./cmd/docker
    t2=$(date +%s.%N)
    # dockerd first: the CLI then reuses the packages both link from the Go cache.
    echo "$t0 $t1 $t2" | awk "{ printf \"dockerd %.1f\\ndocker %.1f\\n\", \$2 - \$1, \$3 - \$2 }" > $w/build-seconds
    echo "$version" > $w/version
' >&2
build_seconds=$(elapsed "$t0")

t0=$(now)
log "running the patched packages' Go tests"
# The patched packages, and the daemon's reference store, which parses
# every stored name with the patched normaliser.
if ! in_chroot '
    w=/build/w-'"$key"'
    export GOPATH=$w/gopath:/usr/share/gocode GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE=$w/gocache
    cd $w/gopath/src/github.com/docker/docker
    go test -count=1 -v github.com/docker/distribution/reference github.com/docker/docker/registry \
        github.com/docker/docker/reference > $w/go-test.log 2>&1
'; then
    tail -40 "$work/go-test.log" >&2
    log "Go tests failed"
    exit 1
fi
test_seconds=$(elapsed "$t0")

rm -rf "$out"
mkdir -p "$out/bin"
cp "$work/bin/docker" "$work/bin/dockerd" "$out/bin/"
cp "$work/go-test.log" "$work/version" "$out/"
{ printf 'build %s\ntest %s\n' "$build_seconds" "$test_seconds"; cat "$work/build-seconds"; } > "$out/seconds"
# The work tree (a GOPATH copy and Go's build cache, ~1 GB) is not kept.
rm -rf "$work"
echo "$out"
