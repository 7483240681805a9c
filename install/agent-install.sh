#!/bin/sh
# muster agent installer. The hub serves this file at /install.sh; `muster
# token create --role agent` prints the line that fetches it over the hub's
# pinned CA and runs it:
#
#   curl ... https://HUB/install.sh | sh -s -- --hub https://HUB --join TOKEN --ca-hash sha256:HEX [agent flags]
#
# On a Debian, Ubuntu or Raspberry Pi OS machine with systemd it installs the
# agent as the service muster-agent: Node.js >= 18 (Debian's nodejs, with
# apt-get, when there is none), the hub's agent bundle checked against its
# SHA-256, the launcher, the unit; then starts it and waits until it reports.
# Run it again to change the flags (the flags given replace the old ones) or,
# without any, to upgrade in place with the flags kept. Other flags (--name,
# --label, --no-deploy, --allow-*, ...) go to the agent: muster agent --help.
#
#   sh /usr/local/lib/muster-agent/install.sh --uninstall [--purge]
#
# removes the service and the program; the state (the node's credential)
# stays, so a reinstall keeps the node's identity, unless --purge.
#
# Contains no secrets: the join token comes on the command line.
set -eu

PREFIX=/usr/local/lib/muster-agent
CONF=/etc/muster-agent
STATE=/var/lib/muster-agent
UNIT_NAME=muster-agent.service
UNIT=/etc/systemd/system/$UNIT_NAME
MIN_NODE=18

say() { printf 'muster-agent: %s\n' "$*" >&2; }
die() { printf 'muster-agent: error: %s\n' "$*" >&2; exit 1; }

usage() {
  cat <<'EOF'
Usage: install.sh --hub URL --join TOKEN --ca-hash sha256:HEX [agent flags]
       install.sh [agent flags]          (again: upgrade, keeping --hub and --ca-hash)
       install.sh --uninstall [--purge]

Installs the muster agent as the systemd service muster-agent: program in
/usr/local/lib/muster-agent, flags in /etc/muster-agent/agent.flags, state
in /var/lib/muster-agent. Agent flags (--name, --label K=V, --no-deploy,
--allow-image PAT, ...) are passed on; see `muster agent --help`.

  --hub URL        the hub, e.g. https://hub.lan:7070
  --join TOKEN     join token (muster token create --role agent); needed
                   until the node has joined, not after
  --ca-hash PIN    sha256:HEX of the hub's CA: nothing is fetched from a hub
                   whose CA does not have it
  --uninstall      stop and remove the service and the program; the state
                   stays (a reinstall keeps the node's identity)
  --purge          with --uninstall: remove the state too
EOF
}

# Privileged steps run as root, or through sudo for a person who is not.
if [ "$(id -u)" -eq 0 ]; then
  SUDO=
elif command -v sudo >/dev/null 2>&1; then
  SUDO=sudo
else
  die "run this as root (there is no sudo on this machine)"
fi
as_root() {
  if [ -n "$SUDO" ]; then sudo "$@" </dev/null; else "$@" </dev/null; fi
}

# The agent's flags go to a file one argument per line (values keep their spaces);
# the launcher reads them back the same way.
add_flag() {
  case $1 in *'
'*) die "an argument holds a line break: $1" ;; esac
  printf '%s\n' "$1" >>"$TMP/agent.flags"
}

# The SHA-256 of the first certificate of a PEM file: PEM is base64 of the
# DER, so this needs no openssl (base64 and sha256sum are in coreutils).
ca_pin() {
  printf 'sha256:%s' "$(awk '/-----BEGIN CERTIFICATE-----/ { p = 1; next } /-----END CERTIFICATE-----/ { exit } p' "$1" | base64 -d | sha256sum | cut -c1-64)"
}

# Major version of a Node.js binary, 0 if it does not run.
node_major() {
  "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' </dev/null 2>/dev/null || printf 0
}

find_node() {
  command -v node 2>/dev/null || command -v nodejs 2>/dev/null || true
}

ensure_node() {
  NODE=$(find_node)
  if [ -z "$NODE" ]; then
    command -v apt-get >/dev/null 2>&1 || die "Node.js >= $MIN_NODE is needed and this machine has neither it nor apt-get: install Node.js $MIN_NODE or newer (your distribution's nodejs package, or https://nodejs.org/en/download) and run this again"
    say "Node.js is not installed: installing Debian's nodejs with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed; install Node.js >= $MIN_NODE (apt-get install nodejs) and run this again"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs >/dev/null || die "apt-get install nodejs failed; install Node.js >= $MIN_NODE and run this again"
    NODE=$(find_node)
    [ -n "$NODE" ] || die "apt-get installed nodejs but there is no node on PATH ($PATH)"
  fi
  major=$(node_major "$NODE")
  if [ "$major" -lt "$MIN_NODE" ]; then
    die "the agent needs Node.js >= $MIN_NODE; $NODE is $("$NODE" --version 2>/dev/null || echo 'not runnable'). Debian 11, Ubuntu 22.04 and older ship an older nodejs: install Node.js $MIN_NODE or newer (https://nodejs.org/en/download, or NodeSource's packages), make it the node on PATH, and run this again"
  fi
}

# One value of the installed flags file: the line after FLAG.
installed_flag() {
  [ -f "$CONF/agent.flags" ] || return 0
  awk -v f="$1" 'p { print; exit } $0 == f { p = 1 }' "$CONF/agent.flags"
}

uninstall() {
  [ -d /run/systemd/system ] || die "systemd is not running as PID 1 here; nothing to uninstall"
  as_root systemctl disable --now "$UNIT_NAME" >/dev/null 2>&1 || true
  as_root rm -f "$UNIT"
  as_root systemctl daemon-reload
  as_root systemctl reset-failed "$UNIT_NAME" >/dev/null 2>&1 || true
  as_root rm -rf "$PREFIX" "$CONF"
  say "removed the service $UNIT_NAME, $PREFIX and $CONF"
  if [ -n "$PURGE" ]; then
    as_root rm -rf "$STATE"
    say "removed the state $STATE: this node joins afresh if installed again (forget it on the hub: muster nodes remove NAME)"
  else
    as_root rm -f "$STATE/join-token"
    say "kept the state $STATE (the node's credential): a reinstall comes back as the same node; --purge removes it"
  fi
}

write_launcher() {
  # The unit runs this. Upgrades (a new bundle swapped in beside the old one, and a
  # rollback when it does not connect) belong here, between the flags and the exec.
  cat >"$TMP/run.sh" <<'LAUNCHER'
#!/bin/sh
# muster agent launcher, run by muster-agent.service; written by install.sh.
# Starts the agent bundle beside it on $MUSTER_NODE (from
# /etc/muster-agent/agent.env) with the flags in /etc/muster-agent/agent.flags,
# one argument per line. The join token is handed over in the environment
# (not on the command line, where every user and the process list would see
# it) only until the node has joined.
set -eu
DIR=/usr/local/lib/muster-agent
CONF=/etc/muster-agent
STATE=/var/lib/muster-agent
NODE=${MUSTER_NODE:-node}

# 1. The flags.
set --
while IFS= read -r arg || [ -n "$arg" ]; do
  case $arg in '' | '#'*) continue ;; esac
  set -- "$@" "$arg"
done <"$CONF/agent.flags"

# 2. The join token, until a credential newer than it says the node has joined.
if [ -f "$STATE/join-token" ]; then
  if [ -s "$STATE/credential.json" ] && [ -n "$(find "$STATE/credential.json" -newer "$STATE/join-token")" ]; then
    rm -f "$STATE/join-token"
  else
    MUSTER_JOIN_TOKEN=$(cat "$STATE/join-token")
    export MUSTER_JOIN_TOKEN
  fi
fi

# 3. An upgrade on probation (agent/upgrade.ts): the new bundle had a minute to reach
#    the hub, and deletes upgrade.pending when it does. Past that minute (it crashed at
#    start, or could not connect and gave up), the previous bundle goes back in place.
if [ -f "$DIR/upgrade.pending" ] && [ -f "$DIR/muster-agent.js.prev" ]; then
  if [ $(($(date +%s) - $(stat -c %Y "$DIR/upgrade.pending"))) -gt 60 ]; then
    mv -f "$DIR/muster-agent.js.prev" "$DIR/muster-agent.js"
    rm -f "$DIR/upgrade.pending"
    echo "muster-agent: the upgraded agent did not reach the hub within a minute; the previous one is back" >&2
  fi
fi

# 4. Node's flags, the same as agent/runtime-flags.ts gives for this version (why: there):
#    V8's interpreter only and a small young generation halve what the agent costs over
#    Node itself. Node 18 and 20 need --no-expose-wasm to start quietly; later ones refuse it.
case $("$NODE" --version 2>/dev/null) in
  v18.* | v19.* | v20.*) NODE_FLAGS="--lite-mode --no-expose-wasm --max-semi-space-size=1" ;;
  *) NODE_FLAGS="--lite-mode --max-semi-space-size=1" ;;
esac

# 5. The agent. MUSTER_AGENT_HOME tells it that it runs as this service and may swap in
#    an upgrade the hub pushes (agent/upgrade.ts: muster-agent.js, .prev, upgrade.pending).
MUSTER_AGENT_HOME=$DIR
export MUSTER_AGENT_HOME
# shellcheck disable=SC2086 # the flags are words
exec "$NODE" $NODE_FLAGS "$DIR/muster-agent.js" --state "$STATE" "$@"
LAUNCHER
}

write_unit() {
  cat >"$TMP/unit" <<'UNIT'
# muster agent: reports this node to the muster hub. Written by
# /usr/local/lib/muster-agent/install.sh; run it again rather than editing.
[Unit]
Description=muster agent (reports this node to the muster hub)
Wants=network-online.target
After=network-online.target docker.service
# The hub may be away for hours: keep trying, never give up after a burst of restarts.
StartLimitIntervalSec=0

[Service]
Type=exec
EnvironmentFile=/etc/muster-agent/agent.env
ExecStart=/usr/local/lib/muster-agent/run.sh
Restart=always
RestartSec=5
# Exit status 2 is a usage error (a bad flag, the state of another node): restarting cannot fix it.
RestartPreventExitStatus=2
TimeoutStopSec=20
UMask=0077
SyslogIdentifier=muster-agent

# Hardening. The agent reads /proc, /sys, mounts (statfs), the journal
# (journalctl) and the Docker socket, writes only its state, and acts through
# other daemons: containers through dockerd's socket, units through systemd's
# (systemctl), which do the work outside this sandbox.
NoNewPrivileges=yes
# Everything read-only but the state directory (StateDirectory= makes it writable) and the
# program's directory, where an upgrade pushed by the hub swaps the new bundle in.
ProtectSystem=strict
StateDirectory=muster-agent
StateDirectoryMode=0700
ReadWritePaths=/usr/local/lib/muster-agent
# Read-only, not hidden: mounts under /home are measured and --allow-bind paths there resolved.
ProtectHome=read-only
# The agent keeps no temporary files; a --allow-bind path under /tmp is resolved in this private one.
PrivateTmp=yes
# /proc/sys, /sys and the cgroup tree stay readable (the collectors read them) but cannot be written.
ProtectKernelTunables=yes
ProtectControlGroups=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
LockPersonality=yes
# Unix sockets (dockerd, systemd, journal), TCP to the hub, netlink for the interface list.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
# Root without root's other powers: read any file and directory (DAC_READ_SEARCH: statfs of
# every mount, the journal) and see every process's executable and sockets (SYS_PTRACE:
# /proc/PID/exe and /proc/PID/fd, for what listens where). Sockets owned by root need no more.
CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE
# Not set, and why: MemoryDenyWriteExecute (V8 compiles to machine code), ProtectProc=invisible
# (the agent reports every process), SystemCallArchitectures=native (a 32-bit Raspberry Pi OS
# on a 64-bit kernel would have its Node killed), PrivateDevices and PrivateNetwork (the agent
# reports the host's devices and addresses).

[Install]
WantedBy=multi-user.target
UNIT
}

# Waits until the agent says it reached the hub, or fails, or 30 s pass.
wait_connected() {
  since=$1
  i=0
  while [ $i -lt 60 ]; do
    log=$(as_root journalctl -u "$UNIT_NAME" --since "@$since" -o cat --no-pager 2>/dev/null || true)
    case $log in
      *'connected to hub'*) return 0 ;;
      *'refusing the hub'* | *'hub refused this agent'* | *'muster agent: '*)
        printf '%s\n' "$log" | tail -n 5 >&2
        die "the agent did not get in (above); fix that and run this again (journalctl -u $UNIT_NAME shows its log)" ;;
    esac
    if [ "$(as_root systemctl is-active "$UNIT_NAME" || true)" = failed ]; then
      printf '%s\n' "$log" | tail -n 5 >&2
      die "the service failed (above; journalctl -u $UNIT_NAME)"
    fi
    sleep 0.5
    i=$((i + 1))
  done
  printf '%s\n' "$log" | tail -n 5 >&2
  say "warning: installed and running, but the agent has not reached the hub within 30 s; it keeps trying (journalctl -u $UNIT_NAME -f)"
}

install_agent() {
  [ -d /run/systemd/system ] || die "systemd is not running as PID 1 here: this installer sets up a systemd service. Run the agent by hand instead: node muster-agent.js --hub URL --join TOKEN (the bundle is at HUB/dl/muster-agent.js)"
  command -v curl >/dev/null 2>&1 || die "curl is needed (apt-get install curl)"

  # No --hub: upgrade in place with the installed configuration.
  reuse=
  if [ -z "$HUB" ]; then
    HUB=$(installed_flag --hub)
    [ -n "$HUB" ] || die "--hub URL is needed (the line muster token create --role agent prints has it)"
    [ -n "$CA_HASH" ] || CA_HASH=$(installed_flag --ca-hash)
    reuse=1
  fi
  HUB=${HUB%/}
  case $HUB in
    https://*) ;;
    http://*) say "warning: the hub is plain http: the agent bundle and everything the agent sends cross the network unverified and in clear" ;;
    *) die "--hub must be an https:// (or http://) URL, not $HUB" ;;
  esac
  if [ -n "$CA_HASH" ]; then
    CA_HASH=$(printf '%s' "$CA_HASH" | tr 'A-F' 'a-f')
    hex=${CA_HASH#sha256:}
    case $CA_HASH:${#hex} in
      sha256:*:64) case $hex in *[!0-9a-f]*) die "--ca-hash must be sha256: and 64 hex digits, not $CA_HASH" ;; esac ;;
      *) die "--ca-hash must be sha256: and 64 hex digits, not $CA_HASH" ;;
    esac
  fi

  ensure_node

  # The hub's CA, checked against the pin before anything else is fetched.
  set -- -fsS --retry 3 --retry-connrefused
  case $HUB in
    https://*)
      if [ -n "$CA_HASH" ]; then
        curl -fsSk "$HUB/cacerts" -o "$TMP/ca.crt" || die "could not fetch the hub's CA from $HUB/cacerts"
        got=$(ca_pin "$TMP/ca.crt")
        [ "$got" = "$CA_HASH" ] || die "the hub at $HUB has a CA with hash $got, not the pinned $CA_HASH: this is not the hub the command was made for (or it made a new CA). Nothing was installed."
        set -- "$@" --cacert "$TMP/ca.crt"
      else
        say "no --ca-hash: the hub's certificate must be one this machine trusts"
      fi ;;
  esac

  # The bundle, checked against the hash the hub publishes, and tried on this Node.
  curl "$@" "$HUB/dl/muster-agent.js" -o "$TMP/muster-agent.js" || die "could not download the agent from $HUB/dl/muster-agent.js"
  curl "$@" "$HUB/dl/muster-agent.js.sha256" -o "$TMP/muster-agent.js.sha256" || die "could not download $HUB/dl/muster-agent.js.sha256"
  want=$(cut -c1-64 "$TMP/muster-agent.js.sha256")
  have=$(sha256sum "$TMP/muster-agent.js" | cut -c1-64)
  [ "$want" = "$have" ] || die "the agent bundle's SHA-256 is $have, the hub says $want; nothing was installed"
  version=$("$NODE" "$TMP/muster-agent.js" --version </dev/null 2>&1) || die "the agent bundle does not run on $NODE ($("$NODE" --version)): $version"
  # A copy of this script, for uninstalling and upgrading later without the hub's command line.
  curl "$@" "$HUB/install.sh" -o "$TMP/install.sh" || say "warning: could not keep a copy of install.sh (uninstall: see the hub's README)"

  # The agent's flags: these replace the installed ones; none given, the installed ones stay.
  if [ -n "$reuse" ] && [ ! -s "$TMP/agent.flags" ] && [ -f "$CONF/agent.flags" ]; then
    cp "$CONF/agent.flags" "$TMP/agent.flags"
  else
    passed=$(cat "$TMP/agent.flags")
    : >"$TMP/agent.flags"
    add_flag --hub
    add_flag "$HUB"
    if [ -n "$CA_HASH" ]; then add_flag --ca-hash; add_flag "$CA_HASH"; fi
    if [ -n "$passed" ]; then printf '%s\n' "$passed" >>"$TMP/agent.flags"; fi
  fi
  # Bad flags are refused here, before the running agent is touched.
  set --
  while IFS= read -r arg; do set -- "$@" "$arg"; done <"$TMP/agent.flags"
  problems=$("$NODE" "$TMP/muster-agent.js" --check --state "$STATE" "$@" </dev/null 2>&1) || die "$(printf '%s' "$problems" | sed 's/^muster agent: //')"

  if [ -z "$JOIN" ] && ! as_root test -s "$STATE/credential.json"; then
    die "this node has not joined the hub yet: give --join TOKEN (muster token create --role agent prints the whole line)"
  fi

  write_launcher
  write_unit
  printf 'MUSTER_NODE=%s\n' "$NODE" >"$TMP/agent.env"

  as_root mkdir -p "$PREFIX" "$CONF" "$STATE"
  as_root chmod 0700 "$STATE"
  # Each file goes in under a temporary name and is renamed over the old one: a running
  # agent, or one starting now, sees the old file or the new, never half of one.
  put() { # MODE SOURCE TARGET
    as_root install -m "$1" "$2" "$3.new"
    as_root mv -f "$3.new" "$3"
  }
  put 0644 "$TMP/muster-agent.js" "$PREFIX/muster-agent.js"
  # This install supersedes an upgrade from the hub still waiting to be confirmed.
  as_root rm -f "$PREFIX/upgrade.pending"
  put 0755 "$TMP/run.sh" "$PREFIX/run.sh"
  if [ -s "$TMP/install.sh" ]; then put 0755 "$TMP/install.sh" "$PREFIX/install.sh"; fi
  put 0644 "$TMP/agent.flags" "$CONF/agent.flags"
  put 0644 "$TMP/agent.env" "$CONF/agent.env"
  # The agent checks a kept CA against --ca-hash at every start: keep the one just verified.
  if [ -s "$TMP/ca.crt" ]; then put 0644 "$TMP/ca.crt" "$STATE/ca.crt"; fi
  if [ -n "$JOIN" ]; then
    (umask 077 && printf '%s\n' "$JOIN" >"$TMP/join-token")
    put 0600 "$TMP/join-token" "$STATE/join-token"
  fi
  put 0644 "$TMP/unit" "$UNIT"

  since=$(date +%s)
  as_root systemctl daemon-reload
  as_root systemctl enable "$UNIT_NAME" >/dev/null 2>&1
  as_root systemctl restart "$UNIT_NAME"
  say "installed $version on $("$NODE" --version) ($NODE): $PREFIX, flags in $CONF/agent.flags, state in $STATE"
  wait_connected "$since"
  say "the service $UNIT_NAME is enabled and running, connected to $HUB"
  say "uninstall: sh $PREFIX/install.sh --uninstall   (--purge also removes $STATE)"
}

main() {
  HUB='' JOIN='' CA_HASH='' MODE=install PURGE=''
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  : >"$TMP/agent.flags"
  while [ $# -gt 0 ]; do
    case $1 in
      --hub | --join | --ca-hash)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in --hub) HUB=$2 ;; --join) JOIN=$2 ;; --ca-hash) CA_HASH=$2 ;; esac
        shift 2 ;;
      --hub=*) HUB=${1#*=}; shift ;;
      --join=*) JOIN=${1#*=}; shift ;;
      --ca-hash=*) CA_HASH=${1#*=}; shift ;;
      --uninstall) MODE=uninstall; shift ;;
      --purge) PURGE=1; shift ;;
      --state | --state=*) die "the installed agent keeps its state in $STATE" ;;
      -h | --help) usage; exit 0 ;;
      *) add_flag "$1"; shift ;;
    esac
  done
  if [ "$MODE" = uninstall ]; then
    [ ! -s "$TMP/agent.flags" ] || die "--uninstall takes no other flags than --purge"
    uninstall
  else
    [ -z "$PURGE" ] || die "--purge goes with --uninstall"
    install_agent
  fi
}

# The whole script is read before anything runs: a download cut short runs nothing.
main "$@"
