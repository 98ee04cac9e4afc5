#!/usr/bin/env bash
# Build a small Debian base image from Debian packages alone, for a machine whose Docker cannot
# pull from Docker Hub (an air-gapped build host, a registry mirror that is down): debootstrap a
# minimal bookworm, add the packages asked for, and `docker import` it.
#
# Usage (as root: debootstrap and chroot need it):
#   scripts/debian-base-image.sh TAG [PACKAGE ...]
#   scripts/debian-base-image.sh local/python:3.11-slim python3 python3-venv
#   docker build --build-arg PYTHON_IMAGE=local/python:3.11-slim -t omotenashi .
#
# Environment:
#   MIRROR    Debian mirror (default http://deb.debian.org/debian)
#   SUITE     Debian release (default bookworm: its python3 is 3.11)
#   EXTRA_CA  a PEM certificate the image must trust, e.g. the CA of a TLS-intercepting proxy in
#             front of PyPI; it goes to the image's system store and pip is told to use that store
#
# Like Debian's own slim images, packages installed later in the image leave out their
# documentation, manual pages and translations.
set -euo pipefail

if [[ $# -lt 1 || $1 == -h || $1 == --help ]]; then
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
tag=$1
shift
mirror=${MIRROR:-http://deb.debian.org/debian}
suite=${SUITE:-bookworm}
if [[ $(id -u) != 0 ]]; then
    echo "debian-base-image: run as root (debootstrap and chroot need it)" >&2
    exit 2
fi
for tool in debootstrap docker tar; do
    command -v "$tool" > /dev/null || {
        echo "debian-base-image: '$tool' is not installed (apt-get install debootstrap)" >&2
        exit 2
    }
done
if [[ -n ${EXTRA_CA:-} && ! -f $EXTRA_CA ]]; then
    echo "debian-base-image: EXTRA_CA=$EXTRA_CA is not a file" >&2
    exit 2
fi

root=$(mktemp -d)
chmod 755 "$root"  # apt downloads as its own user
trap 'rm -rf "$root"' EXIT
include=ca-certificates
for package in "$@"; do include+=",$package"; done

echo "debootstrap $suite ($include) from $mirror" >&2
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" > "$root.log" 2>&1 || {
    tail -n 20 "$root.log" >&2
    exit 1
}
rm -f "$root.log"

cat > "$root/etc/dpkg/dpkg.cfg.d/90-nodoc" << 'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
cat > "$root/etc/apt/sources.list" << EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb ${SECURITY_MIRROR:-http://deb.debian.org/debian-security} $suite-security main
EOF
if [[ -n ${EXTRA_CA:-} ]]; then
    cp "$EXTRA_CA" "$root/usr/local/share/ca-certificates/extra-ca.crt"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$root/etc/pip.conf"
fi
chroot "$root" /bin/sh -c '
    set -e
    export DEBIAN_FRONTEND=noninteractive LC_ALL=C
    apt-get update -q > /dev/null
    apt-get upgrade -y -q > /dev/null
    update-ca-certificates > /dev/null
    apt-get clean
'
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/log/*.log \
    "$root"/var/log/apt/* "$root"/tmp/* "$root"/usr/share/man/* "$root"/usr/share/info/*
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +

tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . |
    docker import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' \
        - "$tag" > /dev/null
docker image ls "$tag"
