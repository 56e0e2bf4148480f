#!/bin/bash
# Prepare a Debian sid chroot holding Guix 1.5 (Debian has no guix in
# bookworm/trixie, and installing sid's on the host would upgrade libc6) and
# start its guix-daemon, offline (--no-substitutes).  Idempotent: when the
# chroot exists, is mounted and its daemon runs, this returns at once.
#
# Run as root.  Environment:
#   FSDGIMG_GUIX_CHROOT  where the chroot lives (default below; outside the
#                        repository so that it survives between CI runs)
#   FSDGIMG_DEBIAN_MIRROR  Debian mirror (default: the one apt already uses)
set -euo pipefail

chroot_dir=${FSDGIMG_GUIX_CHROOT:-/var/cache/fsdgimg/guix-sid}
ready_mark="$chroot_dir/.fsdgimg-ready"
pid_file="$chroot_dir/run/fsdgimg-guix-daemon.pid"
log() { printf 'setup-chroot: %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    log "must run as root"; exit 1
fi

# The Debian mirror apt is configured with: first URI of a deb822 or
# one-line source that is not a security archive.
debian_mirror() {
    if [ -n "${FSDGIMG_DEBIAN_MIRROR:-}" ]; then
        echo "$FSDGIMG_DEBIAN_MIRROR"; return
    fi
    local uri
    uri=$( { cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
               | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n'
             cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
               | awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }'
           } | grep -v -e security -e '^$' | grep '/debian/\?$' | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

daemon_running() {
    [ -s "$pid_file" ] || return 1
    local pid state
    pid=$(cat "$pid_file")
    [ -r "/proc/$pid/stat" ] || return 1
    # A dead daemon that nobody reaped is a zombie: kill -0 would succeed.
    state=$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
    [ "$state" != Z ] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q guix-daemon
}

install_mmdebstrap() {
    log "installing mmdebstrap"
    local try
    # Other installs may hold apt's lock for a while: retry.
    for try in 1 2 3 4 5 6; do
        if DEBIAN_FRONTEND=noninteractive apt-get install -y -q mmdebstrap >/dev/null; then
            return 0
        fi
        [ "$try" != 2 ] || apt-get update -q >/dev/null || true
        sleep 10
    done
    log "could not install mmdebstrap"; exit 1
}

create_chroot() {
    command -v mmdebstrap >/dev/null || install_mmdebstrap
    local mirror tmp
    mirror=$(debian_mirror)
    tmp="$chroot_dir.tmp.$$"
    log "creating $chroot_dir from $mirror (sid, guix)"
    mkdir -p "$(dirname "$chroot_dir")"
    rm -rf "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    # sid's Release file may be past its Valid-Until on frozen mirrors.
    mmdebstrap --quiet --mode=root --variant=apt \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --include=guix,ca-certificates,passwd \
        sid "$tmp" "$mirror"
    # Debian's guix postinst creates no build users.
    chroot "$tmp" groupadd --system guixbuild
    for i in $(seq -w 1 10); do
        chroot "$tmp" useradd --system --gid guixbuild --groups guixbuild \
            --home-dir /var/empty --no-create-home --shell /usr/sbin/nologin \
            --comment "Guix build user $i" "guixbuilder$i"
    done
    mkdir -p "$tmp/run"
    touch "$tmp/.fsdgimg-ready"
    rm -rf "$chroot_dir"
    mv "$tmp" "$chroot_dir"
    trap - EXIT
}

mount_chroot() {
    # The daemon's builds need "/" to be a mount point it can make private.
    if ! mountpoint -q "$chroot_dir"; then
        mount --bind "$chroot_dir" "$chroot_dir"
        mount --make-private "$chroot_dir"
    fi
    mountpoint -q "$chroot_dir/proc" || mount -t proc proc "$chroot_dir/proc"
    if ! mountpoint -q "$chroot_dir/sys"; then
        mount --rbind /sys "$chroot_dir/sys"; mount --make-rslave "$chroot_dir/sys"
    fi
    if ! mountpoint -q "$chroot_dir/dev"; then
        mount --rbind /dev "$chroot_dir/dev"; mount --make-rslave "$chroot_dir/dev"
    fi
}

start_daemon() {
    mkdir -p "$chroot_dir/run" "$chroot_dir/var/log"
    rm -f "$chroot_dir/var/guix/daemon-socket/socket"
    # Detached (own session, no inherited stdio) so that it never keeps a CI
    # run's pipes open.
    setsid chroot "$chroot_dir" /usr/bin/guix-daemon \
        --build-users-group=guixbuild --discover=no --no-substitutes \
        </dev/null >>"$chroot_dir/var/log/guix-daemon.log" 2>&1 &
    echo $! > "$pid_file"
    local i
    for i in $(seq 1 100); do
        [ -S "$chroot_dir/var/guix/daemon-socket/socket" ] && return 0
        daemon_running || break
        sleep 0.1
    done
    log "guix-daemon did not start; see $chroot_dir/var/log/guix-daemon.log"
    tail -n 20 "$chroot_dir/var/log/guix-daemon.log" >&2 || true
    exit 1
}

install_sid_registry() {
    # sid's docker-registry (Distribution 2.8.3, the version upstream Guix
    # packages): the channel's tests run its generated config.yml with it too.
    # Idempotent.
    [ -x "$chroot_dir/usr/bin/docker-registry" ] && return 0
    log "installing docker-registry in $chroot_dir"
    chroot "$chroot_dir" apt-get -o Acquire::Check-Valid-Until=false update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive chroot "$chroot_dir" apt-get install -y -q \
        --no-install-recommends docker-registry >/dev/null
}

install_sid_tools() {
    # Peers of the trust tests, from sid (Debian 12 has none of them): cosign
    # oras, skopeo and podman (Debian 12's are built without sigstore).  Idempotent.
    [ -x "$chroot_dir/usr/bin/cosign" ] && [ -x "$chroot_dir/usr/bin/oras" ] && [ -x "$chroot_dir/usr/bin/skopeo" ] \
        && [ -x "$chroot_dir/usr/bin/podman" ] && return 0
    log "installing cosign, oras, skopeo and podman in $chroot_dir"
    chroot "$chroot_dir" apt-get -o Acquire::Check-Valid-Until=false update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive chroot "$chroot_dir" apt-get install -y -q \
        --no-install-recommends cosign oras skopeo podman >/dev/null
}

install_sid_mirror_tools() {
    # Peers of the blob-mirror tests (tests/static/test_blob_mirrors.py): crane pulls through
    # redirects, and mirrorbits (with its redis, rsync to scan mirrors, and MaxMind's DB writer for
    # the GeoIP files it will not start without) is a real redirector in front of the mirrors.
    # Debian 12 has none of them.  Idempotent.
    [ -x "$chroot_dir/usr/bin/crane" ] && [ -x "$chroot_dir/usr/bin/mirrorbits" ] \
        && [ -e "$chroot_dir/usr/bin/redis-server" ] && [ -x "$chroot_dir/usr/bin/rsync" ] \
        && chroot "$chroot_dir" perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null && return 0
    log "installing crane, mirrorbits, redis-server, rsync and libmaxmind-db-writer-perl in $chroot_dir"
    chroot "$chroot_dir" apt-get -o Acquire::Check-Valid-Until=false update -q >/dev/null
    # No init system in the chroot: invoke-rc.d starts no redis itself.
    DEBIAN_FRONTEND=noninteractive chroot "$chroot_dir" apt-get install -y -q \
        --no-install-recommends crane mirrorbits redis-server rsync libmaxmind-db-writer-perl >/dev/null
}

install_sid_referrers_registry() {
    # Go and go-containerregistry's sources, to build the registry with the OCI 1.1 referrers API the
    # attestation tests run (tests/servers.py ReferrersRegistry): Debian has no Distribution 3.x.
    # Idempotent.
    [ -x "$chroot_dir/usr/bin/go" ] \
        && [ -d "$chroot_dir/usr/share/gocode/src/github.com/google/go-containerregistry/pkg/registry" ] && return 0
    log "installing golang-go and golang-github-google-go-containerregistry-dev in $chroot_dir"
    chroot "$chroot_dir" apt-get -o Acquire::Check-Valid-Until=false update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive chroot "$chroot_dir" apt-get install -y -q \
        --no-install-recommends golang-go golang-github-google-go-containerregistry-dev >/dev/null
}

[ -e "$ready_mark" ] || create_chroot
mount_chroot
install_sid_registry
install_sid_tools
install_sid_mirror_tools
install_sid_referrers_registry
if daemon_running && [ -S "$chroot_dir/var/guix/daemon-socket/socket" ]; then
    exit 0
fi
start_daemon
log "guix-daemon running (pid $(cat "$pid_file"))"
