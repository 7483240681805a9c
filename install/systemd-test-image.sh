#!/usr/bin/env bash
# Builds muster-test/systemd:latest: a real systemd (Debian's, from this
# machine) as PID 1 in a container, with two units of its own: web.service
# (busybox httpd, runs) and broken.service (exits 1, fails). The systemd
# collector's tests read it through `docker exec ... systemctl`.
# Needs: systemd and busybox-static installed, a running Docker Engine.
# Usage: bash install/systemd-test-image.sh   (does nothing if the image exists)
set -euo pipefail
IMAGE=muster-test/systemd:latest
log() { printf '[systemd-test-image] %s\n' "$*" >&2; }
if docker image inspect "$IMAGE" >/dev/null 2>&1; then exit 0; fi

R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
mkdir -p "$R"/usr/bin "$R"/usr/lib "$R"/usr/lib64 "$R"/usr/sbin "$R"/etc "$R"/run "$R"/tmp "$R"/var "$R"/proc "$R"/sys "$R"/dev "$R"/root
ln -s usr/bin "$R/bin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"; ln -s usr/sbin "$R/sbin"
copy() { for f in "$@"; do mkdir -p "$R$(dirname "$f")"; cp -L "$f" "$R$f"; done; }
copy /usr/lib/systemd/systemd /usr/bin/systemctl
for bin in /usr/lib/systemd/systemd /usr/bin/systemctl; do
  for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do copy "$lib"; done
done
cp /bin/busybox "$R/usr/bin/busybox"
cp /etc/os-release "$R/etc/"
: >"$R/etc/machine-id"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"

# Only these units: no host unit files, so nothing else starts.
U="$R/etc/systemd/system"
mkdir -p "$U/muster-test.target.wants" "$R/usr/lib/systemd/system"
printf '[Unit]\nDescription=muster test target\nDefaultDependencies=no\n' >"$U/muster-test.target"
printf '[Unit]\nDescription=muster test web server\nDefaultDependencies=no\n[Service]\nExecStart=/usr/bin/busybox httpd -f -p 8080 -h /tmp\nStandardOutput=null\nStandardError=null\n' >"$U/web.service"
printf '[Unit]\nDescription=muster test unit that fails\nDefaultDependencies=no\n[Service]\nExecStart=/usr/bin/busybox false\nStandardOutput=null\nStandardError=null\n' >"$U/broken.service"
ln -s ../web.service "$U/muster-test.target.wants/web.service"
ln -s ../broken.service "$U/muster-test.target.wants/broken.service"
ln -s muster-test.target "$U/default.target"

log "building $IMAGE from $(systemctl --version | head -1)"
tar -C "$R" -c . | docker import -c 'ENV container=docker' -c 'CMD ["/usr/lib/systemd/systemd"]' - "$IMAGE" >/dev/null
