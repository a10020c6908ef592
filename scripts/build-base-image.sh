#!/usr/bin/env bash
# Makes the local base image the container test builds the Dockerfile on: a minimal Debian 12
# (debootstrap --variant=minbase) with python3 and python3-venv, imported into podman.
#
# CI cannot reach Docker Hub, so the Dockerfile's default base (python:3.11-slim) cannot be pulled;
# this image stands in for it with the same contract: `python3` with `venv` and pip (ensurepip), a
# CA bundle, useradd. It trusts the CAs the building machine added in /usr/local/share/ca-certificates
# (a TLS-inspecting egress proxy, as pip on the host does), so that pip can reach PyPI during the build.
#
# Cached twice: an image already in podman with the same recipe label returns at once, and the rootfs
# tarball kept in the cache directory is re-imported without running debootstrap again.
# Prints the image reference as its only line on standard output; progress goes to standard error.
#   BASE_IMAGE_NAME       image reference (default localhost/cloudflare-siem-forwarder-base:bookworm)
#   BASE_IMAGE_CACHE_DIR  where the rootfs tarball is kept (default /var/cache/cloudflare-siem-forwarder)
#   DEBIAN_MIRROR         Debian mirror (default http://deb.debian.org/debian)
#   CONTAINERS_CONF       honoured by podman as usual
# Needs root (debootstrap), podman and debootstrap (scripts/install-container-tools.sh).
set -euo pipefail

image="${BASE_IMAGE_NAME:-localhost/cloudflare-siem-forwarder-base:bookworm}"
cache_dir="${BASE_IMAGE_CACHE_DIR:-/var/cache/cloudflare-siem-forwarder}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="bookworm"
packages="python3,python3-venv,ca-certificates"

say() { echo "build-base-image.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "run as root (debootstrap needs it)"
    exit 1
fi
for tool in podman debootstrap sha256sum; do
    if ! command -v "$tool" >/dev/null; then
        say "$tool is missing: run scripts/install-container-tools.sh first"
        exit 1
    fi
done

# The recipe is what the image is made of: a change to any part (this script included) makes a new one.
local_cas="$(find /usr/local/share/ca-certificates -type f -name '*.crt' 2>/dev/null | sort || true)"
recipe="$(
    {
        printf '%s\n' "$suite" "$packages" "$mirror"
        sha256sum "$0"
        if [ -n "$local_cas" ]; then
            # shellcheck disable=SC2086  # one path per line, none with spaces (find output above)
            cat $local_cas
        fi
    } | sha256sum | cut -c1-16
)"

if [ "$(podman image inspect --format '{{index .Labels "cloudflare-siem-forwarder.base.recipe"}}' "$image" 2>/dev/null || true)" = "$recipe" ]; then
    say "$image is up to date (recipe $recipe)"
    echo "$image"
    exit 0
fi

tarball="$cache_dir/base-$suite-$recipe.tar"
if [ ! -s "$tarball" ]; then
    mkdir -p "$cache_dir"
    work_dir="$(mktemp -d)"
    # --one-file-system: should debootstrap stop with /proc or /sys still mounted in the rootfs,
    # the cleanup must not reach through them.
    trap 'rm -rf --one-file-system "$work_dir"' EXIT
    rootfs="$work_dir/rootfs"
    say "debootstrap $suite ($packages) from $mirror: about a minute"
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work_dir/debootstrap.log" 2>&1 || {
        tail -n 30 "$work_dir/debootstrap.log" >&2
        say "debootstrap failed"
        exit 1
    }
    if [ -n "$local_cas" ]; then
        # shellcheck disable=SC2086
        cp $local_cas "$rootfs/usr/local/share/ca-certificates/"
        chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
    fi
    cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
    # What a container never needs: package caches and lists, documentation, manuals, locales.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
        "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    # Older recipes' tarballs are of no further use.
    find "$cache_dir" -maxdepth 1 -name "base-$suite-*.tar" ! -name "$(basename "$tarball")" -delete
fi

say "importing $tarball as $image"
podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --change "LABEL cloudflare-siem-forwarder.base.recipe=$recipe" \
    --change "LABEL org.opencontainers.image.title=debian-$suite-python3" \
    --message "debootstrap --variant=minbase --include=$packages $suite" \
    "$tarball" "$image" >/dev/null
echo "$image"
