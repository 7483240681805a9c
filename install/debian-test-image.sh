#!/usr/bin/env bash
# Builds muster-test/debian-node:12: a fresh Debian 12 root from Debian's
# archive (debootstrap, minbase) with systemd, curl, ca-certificates, dbus and
# Debian's own nodejs (18), booted by the install tests with systemd as PID 1.
# It stands for the machine a person runs the one-line install on, so nothing
# of this checkout goes into it.
# Needs: debootstrap, a running Docker Engine, Debian's mirror (no registry).
# Usage: bash install/debian-test-image.sh   (does nothing if the image exists)
set -euo pipefail
IMAGE=muster-test/debian-node:12
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf '[debian-test-image] %s\n' "$*" >&2; }
if docker image inspect "$IMAGE" >/dev/null 2>&1; then exit 0; fi

R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
log "debootstrap bookworm from $MIRROR into $R (about 2 minutes)"
debootstrap --variant=minbase --include=systemd,systemd-sysv,curl,ca-certificates,nodejs,dbus \
  bookworm "$R" "$MIRROR" >"$R.log" 2>&1 || { tail -30 "$R.log" >&2; rm -f "$R.log"; exit 1; }
rm -f "$R.log"

# An empty machine-id: each container makes its own at first boot and keeps
# it across restarts, as a freshly installed machine would.
: >"$R/etc/machine-id"
rm -f "$R/var/lib/dbus/machine-id"
# Units that wait for hardware a container does not have only slow the boot.
for u in getty@tty1.service serial-getty@.service console-getty.service systemd-networkd-wait-online.service; do
  ln -sf /dev/null "$R/etc/systemd/system/$u"
done
# The archive's package lists are not needed to boot; the install script
# runs apt-get update itself when it has to install nodejs.
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb

log "importing $IMAGE ($(chroot "$R" node --version 2>/dev/null || echo 'node ?'))"
# docker import takes no STOPSIGNAL: the tests run it with --stop-signal SIGRTMIN+3 (systemd's
# "halt"), so that `docker restart` shuts the machine down cleanly, as a reboot does.
tar -C "$R" -c . | docker import -c 'ENV container=docker' -c 'CMD ["/lib/systemd/systemd"]' - "$IMAGE" >/dev/null
log "built $IMAGE"
