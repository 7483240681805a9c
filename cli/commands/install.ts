/**
 * `muster install hub` and `muster uninstall hub`: the hub as a hardened
 * systemd service, run by a system user of its own, on this machine's
 * Node.js >= 22. (Agents install with the one line `muster token create`
 * prints: install/agent-install.sh.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parseFlags, parseListen } from '../args.ts';
import { CliError, writeClientConfig } from '../config.ts';
import { DNS_FLAGS, DNS_USAGE, parseDnsFlags } from '../dns-flags.ts';
import { HUB_NODE_FLAGS } from '../runtime-flags.ts';
import { createApiClient } from '../client.ts';
import { tlsFlags } from './hub.ts';
import type { Io } from '../io.ts';

export const INSTALL_USAGE = `Usage: muster install hub [--data DIR] [--listen HOST:PORT] [hub options]
       muster uninstall hub [--purge] [--data DIR]

As root, on a machine whose PID 1 is systemd: runs the hub as the service
muster-hub (/etc/systemd/system/muster-hub.service), enabled and started, as
the system user 'muster' with its data in DIR (0700, owned by it), on this
machine's Node.js >= 22, sandboxed by systemd (read-only system, no home
directories, private /tmp and devices, no capabilities but binding a port
below 1024 when it listens on one, e.g. DNS on 53). Running it again
reconfigures the service with the options given.

Options:
  --data DIR          data directory (default /var/lib/muster)
  --listen HOST:PORT  address for the API and agents (default 0.0.0.0:7070)
  --node PATH         the Node.js (>= 22) to run the hub on (default: node on
                      PATH, else the one running this command)
  --tls-san, --tls-cert, --tls-key, --no-tls, --metrics-public, --alerts,
  --node-bytes-per-minute, --node-rows-per-minute, --log-level: as for
                      'muster hub' (see muster hub --help); files must be
                      readable by the user muster
${DNS_USAGE}
Uninstall stops and removes the service and keeps DIR and the user muster;
--purge removes them too.
`;

/** The unit's name and file. */
export const HUB_UNIT_NAME = 'muster-hub.service';
export const HUB_UNIT_FILE = `/etc/systemd/system/${HUB_UNIT_NAME}`;
/** The system user the hub runs as. */
export const HUB_USER = 'muster';
/** Oldest Node.js the hub runs on (better-sqlite3 13, type stripping). */
export const HUB_MIN_NODE = 22;

/** What the unit runs and with which privileges. */
export interface HubUnitOptions {
  /** Absolute path of the Node.js binary. */
  node: string;
  /** Absolute path of the muster CLI the hub runs from (the package's `muster` bin, resolved). */
  program: string;
  /** Absolute data directory: the only place the hub may write. */
  dataDir: string;
  /** The flags after `muster hub` (--data included). */
  hubArgs: readonly string[];
  /** The hub binds a port below 1024 (DNS on 53, the API on 443): it gets CAP_NET_BIND_SERVICE and nothing else. */
  bindsPrivilegedPort: boolean;
}

/**
 * One argument of ExecStart= as systemd reads it: double-quoted when it
 * holds anything but plain characters; `%` (specifiers) and `$` (variables)
 * are doubled even inside quotes.
 */
export function systemdWord(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[A-Za-z0-9_@+=:,./%$-]+$/.test(arg) ? escaped : `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The text of muster-hub.service. */
export function hubUnit(o: HubUnitOptions): string {
  const exec = [o.node, ...HUB_NODE_FLAGS, o.program, 'hub', ...o.hubArgs].map(systemdWord).join(' ');
  const caps = o.bindsPrivilegedPort ? 'CAP_NET_BIND_SERVICE' : '';
  return `# muster hub. Written by \`muster install hub\`: run that again to change its options
# (or edit this file, then systemctl daemon-reload && systemctl restart muster-hub).
[Unit]
Description=muster hub (inventory, API, agent endpoint, DNS)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
User=${HUB_USER}
Group=${HUB_USER}
# Node.js >= 22 with the hub's V8 flags (cli/runtime-flags.ts), so it does not re-execute itself.
ExecStart=${exec}
Restart=on-failure
RestartSec=5
# Exit status 2 is a usage error: restarting cannot fix it.
RestartPreventExitStatus=2
TimeoutStopSec=30
UMask=0077
SyslogIdentifier=muster-hub

# Hardening: the hub needs its data directory, the network and nothing else of the machine.
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${systemdWord(o.dataDir)}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
# Other processes are none of its business.
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
# TCP and UDP for the API, agents and DNS; netlink for this machine's addresses (its certificate names them).
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# ${caps ? 'It listens on a port below 1024: that one capability, nothing else.' : 'No capabilities at all (it listens on no port below 1024).'}
CapabilityBoundingSet=${caps}
AmbientCapabilities=${caps}
# Not set, and why: MemoryDenyWriteExecute (V8 compiles to machine code), SystemCallArchitectures=native
# (a 32-bit userland on a 64-bit kernel, as on many Raspberry Pis, would have its Node killed).

[Install]
WantedBy=multi-user.target
`;
}

/** What the installer does to the machine; the command's tests replace it. */
export interface SystemDeps {
  uid(): number;
  /** Whether systemd is PID 1 (sd_booted: /run/systemd/system exists). */
  systemdBooted(): boolean;
  /** Runs a command; rejects with its stderr when it fails. */
  run(cmd: string, args: readonly string[]): string;
  /** Runs a command; resolves with its exit code, never rejects. */
  status(cmd: string, args: readonly string[]): number;
  /** The muster CLI this command runs from, resolved (ExecStart runs it). */
  program(): string | undefined;
  /** Node.js binaries to try, in order. */
  nodeCandidates(): string[];
  /** Milliseconds to wait for the hub's /healthz after the start. */
  startTimeoutMs: number;
}

/** The real machine. */
export function systemDeps(): SystemDeps {
  const which = (name: string) => {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() || undefined : undefined;
  };
  return {
    uid: () => process.getuid?.() ?? -1,
    systemdBooted: () => existsSync('/run/systemd/system'),
    run: (cmd, args) => {
      try {
        return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new CliError('MUSTER_ERR_INSTALL', `${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
      }
    },
    status: (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status ?? 1,
    // The muster the person ran is the one they mean to install; else the one on PATH.
    program: () => {
      for (const p of [process.argv[1], which('muster')]) {
        if (!p) continue;
        try { return realpathSync(p); } catch { /* try the next */ }
      }
      return undefined;
    },
    nodeCandidates: () => [which('node'), process.execPath].filter((p): p is string => Boolean(p)),
    startTimeoutMs: 30_000,
  };
}

/** Directories the service cannot see (ProtectHome=, PrivateTmp=) or must not own. */
const HIDDEN = /^\/(home|root|run\/user|tmp|var\/tmp)(\/|$)/;
const SYSTEM_DIRS = /^\/(bin|boot|dev|etc|lib\w*|opt|proc|run|sbin|srv|sys|usr|var|var\/lib|var\/cache|var\/log|mnt|media)?$/;

function usage(message: string): never {
  throw new CliError('MUSTER_ERR_USAGE', message, 2);
}

function requireSystem(sys: SystemDeps, what: string): void {
  if (sys.uid() !== 0) throw new CliError('MUSTER_ERR_NOT_ROOT', `${what} needs root: it creates a system user and a systemd unit. Run it with sudo.`);
  if (!sys.systemdBooted()) throw new CliError('MUSTER_ERR_NO_SYSTEMD', `systemd is not PID 1 on this machine (no /run/systemd/system): there is no service manager to ${what === 'muster install hub' ? 'install into' : 'remove from'}. Run the hub in the foreground instead: muster hub --data DIR`);
}

/** The first candidate that is Node.js >= 22, with its version. */
function pickNode(sys: SystemDeps, given: string | undefined): { path: string; version: string } {
  const tried: string[] = [];
  for (const path of given ? [given] : sys.nodeCandidates()) {
    let version = '';
    try {
      version = sys.run(path, ['-p', 'process.versions.node']).trim();
    } catch {
      tried.push(`${path} (does not run)`);
      continue;
    }
    if (Number(version.split('.')[0]) >= HUB_MIN_NODE) return { path: resolve(path), version };
    tried.push(`${path} (v${version})`);
  }
  throw new CliError('MUSTER_ERR_NO_NODE', `the hub needs Node.js ${HUB_MIN_NODE} or newer and found ${tried.length ? tried.join(', ') : 'none'}. `
    + `Install one system-wide (Debian 13's nodejs, NodeSource's nodejs 22 or 24, or the official tarball under /usr/local: https://nodejs.org/en/download), then run this again, or name it with --node PATH.`);
}

/** Checks that the user muster can reach a file: not hidden by the sandbox, and readable (or executable). */
function checkReadable(sys: SystemDeps, what: string, path: string, exec = false): void {
  const hidden = HIDDEN.exec(path);
  if (hidden) throw new CliError('MUSTER_ERR_INSTALL', `${what} ${path} is under /${hidden[1]}, which the hub's service cannot see (ProtectHome=, PrivateTmp=): put it somewhere system-wide (e.g. /usr/local or /etc/muster)`);
  if (sys.status('runuser', ['-u', HUB_USER, '--', 'test', exec ? '-x' : '-r', path]) !== 0) {
    throw new CliError('MUSTER_ERR_INSTALL', `${what} ${path} is not ${exec ? 'executable' : 'readable'} by the user ${HUB_USER}: fix its permissions (and those of the directories above it)`);
  }
}

/** The data directory named in an installed unit (`--data DIR` in ExecStart). */
export function dataDirOfUnit(unit: string): string | undefined {
  const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  const m = exec && /\s--data\s+("(?:[^"\\]|\\.)*"|\S+)/.exec(exec);
  if (!m) return undefined;
  const word = m[1]!;
  return (word.startsWith('"') ? word.slice(1, -1).replace(/\\(.)/g, '$1') : word).replace(/%%/g, '%').replace(/\$\$/g, '$');
}

async function installHub(argv: string[], io: Io, sys: SystemDeps): Promise<number> {
  const { values } = parseFlags(argv, {
    data: { type: 'string' }, listen: { type: 'string' }, node: { type: 'string' }, 'log-level': { type: 'string' }, alerts: { type: 'string' },
    'node-bytes-per-minute': { type: 'string' }, 'node-rows-per-minute': { type: 'string' },
    'tls-san': { type: 'string', multiple: true }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'no-tls': { type: 'boolean' },
    'metrics-public': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    ...DNS_FLAGS,
  });
  if (values.help) { io.out(INSTALL_USAGE); return 0; }
  // Every flag is checked here, before the machine is touched.
  const listen = values.listen ?? '0.0.0.0:7070';
  const { host, port } = parseListen(listen);
  const dns = parseDnsFlags(values);
  const tls = tlsFlags(values);
  const dataDir = resolve(values.data ?? '/var/lib/muster');
  if (SYSTEM_DIRS.test(dataDir) || HIDDEN.test(dataDir)) usage(`--data must be a directory of the hub's own, such as /var/lib/muster or /srv/muster, not ${dataDir}`);
  if (values.node !== undefined && !isAbsolute(values.node)) usage(`--node must be an absolute path, not ${JSON.stringify(values.node)}`);
  requireSystem(sys, 'muster install hub');

  const node = pickNode(sys, values.node);
  const program = sys.program();
  if (!program) throw new CliError('MUSTER_ERR_INSTALL', 'cannot tell where the muster command is installed; install the package (npm install -g muster) and run this again');

  const hubArgs = ['--data', dataDir, '--listen', listen];
  if (values['dns-listen'] !== undefined) hubArgs.push('--dns-listen', values['dns-listen']);
  if (values.domain !== undefined) hubArgs.push('--domain', values.domain);
  for (const u of values['dns-upstream'] ?? []) hubArgs.push('--dns-upstream', u);
  if (values['dns-ttl'] !== undefined) hubArgs.push('--dns-ttl', values['dns-ttl']);
  for (const s of values['tls-san'] ?? []) hubArgs.push('--tls-san', s);
  const files: [string, string][] = [];
  for (const flag of ['tls-cert', 'tls-key', 'alerts'] as const) {
    const v = values[flag];
    if (v === undefined) continue;
    hubArgs.push(`--${flag}`, resolve(v));
    files.push([`--${flag}`, resolve(v)]);
  }
  if (values['no-tls']) hubArgs.push('--no-tls');
  if (values['metrics-public']) hubArgs.push('--metrics-public');
  for (const flag of ['node-bytes-per-minute', 'node-rows-per-minute', 'log-level'] as const) {
    if (values[flag] !== undefined) hubArgs.push(`--${flag}`, values[flag]);
  }
  const bindsPrivilegedPort = (port > 0 && port < 1024) || (dns !== false && dns.port > 0 && dns.port < 1024);

  const did: string[] = [];
  if (sys.status('id', ['-u', HUB_USER]) !== 0) {
    sys.run('useradd', ['--system', '--user-group', '--home-dir', dataDir, '--no-create-home', '--shell', '/usr/sbin/nologin', '--comment', 'muster hub', HUB_USER]);
    did.push(`created the system user ${HUB_USER}`);
  }
  sys.run('mkdir', ['-p', dataDir]);
  // The data may come from a hub run by hand as root: the service's user must own all of it.
  sys.run('chown', ['-R', `${HUB_USER}:${HUB_USER}`, dataDir]);
  sys.run('chmod', ['0700', dataDir]);
  did.push(`data directory ${dataDir} (0700, owned by ${HUB_USER})`);
  checkReadable(sys, 'Node.js', node.path, true);
  checkReadable(sys, 'the muster command', program);
  for (const [flag, path] of files) checkReadable(sys, flag, path);

  const unit = hubUnit({ node: node.path, program, dataDir, hubArgs, bindsPrivilegedPort });
  const previous = existsSync(HUB_UNIT_FILE);
  // A unit systemd would reject never replaces a working one (verify wants the unit's own file name).
  if (sys.status('sh', ['-c', 'command -v systemd-analyze']) === 0) {
    const dir = mkdtempSync(join(tmpdir(), 'muster-install-'));
    try {
      writeFileSync(join(dir, HUB_UNIT_NAME), unit);
      sys.run('systemd-analyze', ['verify', join(dir, HUB_UNIT_NAME)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  writeFileSync(`${HUB_UNIT_FILE}.new`, unit, { mode: 0o644 });
  renameSync(`${HUB_UNIT_FILE}.new`, HUB_UNIT_FILE);
  did.push(`${previous ? 'rewrote' : 'wrote'} ${HUB_UNIT_FILE}`);
  sys.run('systemctl', ['daemon-reload']);
  sys.run('systemctl', ['enable', HUB_UNIT_NAME]);
  sys.run('systemctl', ['restart', HUB_UNIT_NAME]);
  did.push(`enabled and ${previous ? 're' : ''}started ${HUB_UNIT_NAME}`);

  // Up when /healthz answers; checked against the hub's own CA when it has one.
  const local = `${tls.disabled ? 'http' : 'https'}://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`;
  const caFile = tls.disabled || tls.certFile ? undefined : `${dataDir}/tls/ca.crt`;
  const deadline = Date.now() + sys.startTimeoutMs;
  let health: { status?: string; version?: string } | undefined;
  let lastError = '';
  while (!health && Date.now() < deadline) {
    try {
      if (caFile && !existsSync(caFile)) throw new Error(`no ${caFile} yet`);
      health = await createApiClient({ hub: local, token: '-', ...(caFile ? { caFile } : {}) }).get('/healthz');
    } catch (err) {
      lastError = (err as Error).message;
      // A hub that exited once will not do better by waiting: show why now.
      const restarts = (() => { try { return Number(sys.run('systemctl', ['show', '-p', 'NRestarts', '--value', HUB_UNIT_NAME]).trim()); } catch { return 0; } })();
      if (restarts > 0 || sys.status('systemctl', ['is-failed', '--quiet', HUB_UNIT_NAME]) === 0) break;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  if (!health) {
    let log = '';
    try { log = sys.run('journalctl', ['-u', HUB_UNIT_NAME, '-n', '15', '--no-pager', '-o', 'cat']); } catch { /* no journal: the message says where to look */ }
    throw new CliError('MUSTER_ERR_HUB_START', `${did.join('; ')}; but the hub did not answer at ${local}/healthz (${lastError}).\n${log}See journalctl -u ${HUB_UNIT_NAME}; muster uninstall hub undoes this.`);
  }
  const tokenFile = `${dataDir}/admin.token`;
  let configFile: string | undefined;
  if (!tls.certFile && existsSync(tokenFile)) {
    configFile = writeClientConfig(io.env, { hub: local, token: readFileSync(tokenFile, 'utf8').trim(), ...(caFile ? { caFile } : {}) });
  }
  const caHash = caFile ? createHash('sha256').update(new X509Certificate(readFileSync(caFile)).raw).digest('hex') : undefined;
  io.out([
    `muster hub ${health.version ?? ''} is installed and running (${health.status ?? 'ok'}) at ${local}`,
    ...did.map((d) => `  - ${d}`),
    `  runs  ${[node.path, ...HUB_NODE_FLAGS, program, 'hub', ...hubArgs].join(' ')}  (Node.js v${node.version})`,
    ...(caHash ? [`  TLS   the hub's own CA, ${caFile}; agents pin it with --ca-hash sha256:${caHash}`] : []),
    `  admin token in ${tokenFile}${configFile ? `; this user's CLI is configured in ${configFile}` : ''}`,
    '',
    `Add a node:  muster token create --role agent    (prints the one line to run there)`,
    `Logs:        journalctl -u ${HUB_UNIT_NAME} -f`,
    `Undo:        muster uninstall hub                (keeps ${dataDir} and the user ${HUB_USER}; --purge removes them)`,
    '',
  ].join('\n'));
  return 0;
}

async function uninstallHub(argv: string[], io: Io, sys: SystemDeps): Promise<number> {
  const { values } = parseFlags(argv, { purge: { type: 'boolean' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) { io.out(INSTALL_USAGE); return 0; }
  requireSystem(sys, 'muster uninstall hub');
  const installed = existsSync(HUB_UNIT_FILE);
  const dataDir = values.data ? resolve(values.data) : installed ? dataDirOfUnit(readFileSync(HUB_UNIT_FILE, 'utf8')) : undefined;
  const did: string[] = [];
  if (installed) {
    sys.status('systemctl', ['disable', '--now', HUB_UNIT_NAME]);
    rmSync(HUB_UNIT_FILE, { force: true });
    sys.run('systemctl', ['daemon-reload']);
    sys.status('systemctl', ['reset-failed', HUB_UNIT_NAME]);
    did.push(`stopped, disabled and removed ${HUB_UNIT_NAME}`);
  } else {
    did.push(`${HUB_UNIT_NAME} was not installed`);
  }
  if (values.purge) {
    if (dataDir && !SYSTEM_DIRS.test(dataDir) && existsSync(dataDir)) {
      rmSync(dataDir, { recursive: true, force: true });
      did.push(`removed the data directory ${dataDir}`);
    }
    if (sys.status('id', ['-u', HUB_USER]) === 0) {
      sys.run('userdel', [HUB_USER]);
      did.push(`removed the user ${HUB_USER}`);
    }
  } else {
    did.push(`kept ${dataDir ? `the data in ${dataDir}` : 'the data'} and the user ${HUB_USER}: muster install hub${dataDir && dataDir !== '/var/lib/muster' ? ` --data ${dataDir}` : ''} brings the same hub back; muster uninstall hub --purge removes them`);
  }
  io.out(did.map((d) => `${d}\n`).join(''));
  return 0;
}

/** `muster install hub`. */
export function installCommand(argv: string[], io: Io, sys: SystemDeps = systemDeps()): Promise<number> {
  const [what, ...rest] = argv;
  if (!what || what === '--help' || what === '-h') { io.out(INSTALL_USAGE); return Promise.resolve(what ? 0 : 2); }
  if (what !== 'hub') usage(`muster install knows 'hub' only, not '${what}'; a node gets its agent from the one line 'muster token create --role agent' prints`);
  return installHub(rest, io, sys);
}

/** `muster uninstall hub`. */
export function uninstallCommand(argv: string[], io: Io, sys: SystemDeps = systemDeps()): Promise<number> {
  const [what, ...rest] = argv;
  if (!what || what === '--help' || what === '-h') { io.out(INSTALL_USAGE); return Promise.resolve(what ? 0 : 2); }
  if (what !== 'hub') usage(`muster uninstall knows 'hub' only, not '${what}'; on a node: sh /usr/local/lib/muster-agent/install.sh --uninstall`);
  return uninstallHub(rest, io, sys);
}
