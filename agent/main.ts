/**
 * The agent's command line: `muster-agent --hub URL --join TOKEN` (the bundled
 * single file) and `muster agent ...` both end here. Reads flags and the
 * environment, builds the collectors and the agent, and runs until a signal.
 */
import { parseArgs } from 'node:util';
import { hostname, homedir } from 'node:os';
import { join, posix } from 'node:path';
import { readFileSync } from 'node:fs';
import { MUSTER_VERSION } from '../protocol/version.ts';
import { createCollectors } from './collectors/index.ts';
import { createStateStore } from './state.ts';
import { createLogger, type LogLevel } from './log.ts';
import { createAgent, type Agent } from './agent.ts';
import { createDockerClient, DEFAULT_DOCKER_SOCKET } from './docker-client.ts';
import { createDeployExecutor, type DeployPolicy } from './deploy.ts';
import { createDeployJournal } from './deploy-journal.ts';
import { unitOfCgroup } from './deploy-policy.ts';
import { createContainerReader } from './collectors/containers.ts';
import { createProcessReader } from './collectors/processes.ts';
import { createProcScan } from './collectors/proc-scan.ts';
import { createListenerReader } from './collectors/listeners.ts';
import { createUnitReader } from './collectors/systemd-units.ts';
import { createWorkloadCollector } from './workloads.ts';
import { CA_HASH_RE, resolveHubTrust } from './hub-trust.ts';
import { createUpgrader } from './upgrade.ts';
import { createLogCollector } from './logs/collector.ts';
import { existsSync, statSync } from 'node:fs';
import { createMetricsCollector, enabledCollectors, type CollectorSwitches } from './collectors/registry.ts';
import type { ContainerCgroupUse } from './collectors/container-cgroups.ts';
import { nodeCollectors, type NodeCollectorOptions } from './collectors/node-collectors.ts';
import { parseProcessGroups, ProcessGroupsConfigError } from './collectors/process-groups-config.ts';

/** Every collector's name, for the flags and --help. */
const COLLECTOR_NAMES = nodeCollectors().map((c) => c.name);

/** `a, b, c` in lines of at most `width` characters. */
function wrapWords(words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [i, w] of words.entries()) {
    const piece = i < words.length - 1 ? `${w},` : w;
    if (line && line.length + 1 + piece.length > width) {
      lines.push(line);
      line = piece;
    } else line = line ? `${line} ${piece}` : piece;
  }
  if (line) lines.push(line);
  return lines;
}

export const AGENT_USAGE = `Usage: muster agent --hub URL [--join TOKEN] [options]

Runs the muster agent on this node: it reports host facts, resource use, and
what runs here (processes, Docker containers, systemd units, listening ports)
to the hub. The first start needs a join token (muster token create --role
agent); the agent then keeps a node credential in its state directory.

Options:
  --hub URL          hub address, e.g. https://hub.lan:7070  (env MUSTER_HUB)
  --ca-hash PIN      sha256:HEX of the hub's CA certificate, from the join
                     command; the agent refuses a hub whose CA does not match
                     and keeps the CA in its state directory  (env MUSTER_CA_HASH)
  --ca-file FILE     the hub's CA certificate (PEM) instead of --ca-hash
  --join TOKEN       join token of role agent                (env MUSTER_JOIN_TOKEN)
  --name NAME        node name (default: this host's name)
  --state DIR        state directory (default: /var/lib/muster-agent as root,
                     ~/.local/state/muster-agent otherwise)
  --interval DUR     sample period, e.g. 10s, 1m (default 10s)
  --journal-size SZ  bound on the journal of unsent records in the state
                     directory, e.g. 64M (default 64M); past it the oldest
                     records go, and the loss is counted and reported
  --journal-age DUR  records older than this are dropped (default 12h)
  --label K=V        node label, repeatable (e.g. --label group=compute)
  --docker-socket P  Docker Engine socket (default: DOCKER_HOST if unix://,
                     else ${DEFAULT_DOCKER_SOCKET})
  --no-deploy        refuse every deploy the hub sends (muster deploy); the
                     refusal and its reason are recorded in the hub's job
  --allow-image PAT  deploy only images matching PAT (repeatable; * matches
                     anything, e.g. --allow-image 'registry.lab/*')
  --allow-bind PATH  let deploys bind-mount the host path PATH and what is
                     under it (repeatable; symlinks and .. are resolved on
                     this host first); without it only named volumes
  --allow-privileged let deploys run privileged containers, give host
                     devices and add capabilities (--privileged, --device,
                     --cap-add)
  --allow-host-namespaces
                     let deploys use the host's network and PID namespaces
                     (--network host, --pid host)
  --allow-unit PAT   act only on systemd units matching PAT (repeatable;
                     * matches anything, e.g. --allow-unit 'web*'); ssh,
                     systemd-*, dbus, networking, gettys, targets and the
                     agent's own unit are refused whatever the flags
  --textfile-dir DIR ship the metrics in DIR/*.prom (Prometheus' text format,
                     as node_exporter's --collector.textfile.directory)
  --collector.NAME, --no-collector.NAME
                     switch a metrics collector on or off, by node_exporter's
                     name; --collector.disable-defaults turns off every one
                     not named with --collector.NAME. The collectors:
                     ${wrapWords(COLLECTOR_NAMES, 56).join('\n                     ')}
  --process-groups FILE
                     group processes as process-exporter's config file FILE
                     says (process_names with comm, exe and cmdline matchers
                     and name templates) for its namedprocess_namegroup_*
                     families; without it, every process with a command line
                     is grouped by its name ({{.Comm}})
  --process-groups-threads
                     also the per-thread-name families (process-exporter's
                     -threads); reads four files per thread every interval
  --process-groups-smaps
                     also memtype proportionalResident/proportionalSwapped
                     (process-exporter's -gather-smaps); reads smaps_rollup
  --collector.filesystem.mount-points-exclude RE
  --collector.filesystem.fs-types-exclude RE
                     mounts the filesystem collector leaves out (node_exporter's
                     defaults otherwise)
  --no-logs          ship no logs; by default every container's output (Docker
                     Engine API) and the systemd journal go to the hub, which
                     keeps recent lines for 'muster logs' and pushes to Loki
  --logs-exclude PAT containers, services or units whose names match PAT
                     are not collected (repeatable; * matches anything,
                     e.g. --logs-exclude 'debug-*' --logs-exclude cron.service)
  --logs-max-line SZ lines longer than this are cut, marked ' …[cut]'
                     (default 16K, at most 32K)
  --logs-rate N      per container or unit: lines a second it may ship,
                     sustained (default 200; ten seconds' worth banks as a
                     burst); lines over it are dropped and counted
  --logs-rate-bytes SZ
                     the same in bytes a second (default 256K)
  --log-level LEVEL  debug, info, warn, error (default info)
  --check            check the flags and exit: 0 when they are good, 2 with
                     every problem (the installer runs it before it touches
                     a running agent)
  -h, --help         show this help
  --version          print the version
`;

/** A node name the hub will accept: a DNS-label-like word. */
export const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Parses `500ms`, `10s`, `2m`, `1h` into milliseconds. */
export function parseInterval(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
  const ms = Number(m[1]) * unit;
  return ms > 0 ? ms : undefined;
}

/** Parses `64M`, `1G`, `512K` or plain bytes (powers of 1024). */
export function parseSize(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  return Number.isSafeInteger(Math.round(n)) && n > 0 ? Math.round(n) : undefined;
}

/** The default node name: the host name up to the first dot, made acceptable. */
export function defaultNodeName(): string {
  const h = hostname().split('.')[0]!.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return h.slice(0, 63) || 'node';
}

export interface AgentCommandIo {
  argv: string[];
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
}

/** A usage problem: printed with the hint to run --help, exit code 2. */
export class UsageError extends Error {
  readonly code = 'MUSTER_ERR_USAGE';
}

export interface AgentConfig {
  hub: string;
  joinToken?: string;
  name: string;
  stateDir: string;
  intervalMs: number;
  labels: Record<string, string>;
  logLevel: LogLevel;
  dockerSocket: string;
  deploy: DeployPolicy;
  journalMaxBytes?: number;
  journalMaxAgeMs?: number;
  /** The pin of the hub's CA (`--ca-hash`), or its certificate file (`--ca-file`). */
  caHash?: string;
  caFile?: string;
  /** Where the service's launcher runs the agent from (MUSTER_AGENT_HOME): set, the agent can upgrade itself. */
  home?: string;
  /** Log collection (`--no-logs`, `--logs-*`); absent, on with the defaults. */
  logs?: { enabled: boolean; exclude: string[]; maxLine?: number; linesPerSecond?: number; bytesPerSecond?: number };
  /** Which metrics collectors run (`--collector.NAME`, `--no-collector.NAME`, `--collector.disable-defaults`). */
  collectors: CollectorSwitches;
  /** Options of the collectors that take some. */
  collectorOptions: NodeCollectorOptions;
  /** The textfile collector's directory (`--textfile-dir`). */
  textfileDir?: string;
}

/** Turns flags and environment into a validated agent config, reporting every problem at once. */
export function parseAgentArgs(argv: string[], env: Record<string, string | undefined>): AgentConfig | 'help' | 'version' | 'check' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        hub: { type: 'string' }, join: { type: 'string' }, name: { type: 'string' }, state: { type: 'string' },
        interval: { type: 'string' }, label: { type: 'string', multiple: true }, 'log-level': { type: 'string' },
        'journal-size': { type: 'string' }, 'journal-age': { type: 'string' },
        'docker-socket': { type: 'string' }, 'no-deploy': { type: 'boolean' }, 'allow-image': { type: 'string', multiple: true },
        'allow-bind': { type: 'string', multiple: true }, 'allow-privileged': { type: 'boolean' },
        'allow-host-namespaces': { type: 'boolean' }, 'allow-unit': { type: 'string', multiple: true },
        'ca-hash': { type: 'string' }, 'ca-file': { type: 'string' }, check: { type: 'boolean' },
        'no-logs': { type: 'boolean' }, 'logs-exclude': { type: 'string', multiple: true }, 'logs-max-line': { type: 'string' },
        'logs-rate': { type: 'string' }, 'logs-rate-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' },
        'textfile-dir': { type: 'string' }, 'collector.disable-defaults': { type: 'boolean' },
        'process-groups': { type: 'string' }, 'process-groups-threads': { type: 'boolean' }, 'process-groups-smaps': { type: 'boolean' },
        'collector.filesystem.mount-points-exclude': { type: 'string' }, 'collector.filesystem.fs-types-exclude': { type: 'string' },
        ...Object.fromEntries(COLLECTOR_NAMES.flatMap((n) => [[`collector.${n}`, { type: 'boolean' as const }], [`no-collector.${n}`, { type: 'boolean' as const }]])),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  if (values.version) return 'version';
  const problems: string[] = [];
  const hub = values.hub ?? env.MUSTER_HUB;
  if (!hub) problems.push('--hub URL is required (or set MUSTER_HUB)');
  else {
    try {
      const u = new URL(hub);
      if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) problems.push(`--hub must be an http(s):// or ws(s):// URL, not ${hub}`);
    } catch {
      problems.push(`--hub is not a URL: ${hub}`);
    }
  }
  const name = values.name ?? defaultNodeName();
  if (!NODE_NAME_RE.test(name)) problems.push(`--name must be 1-63 letters, digits, '-', '_' or '.', starting with a letter or digit: ${JSON.stringify(name)}`);
  const intervalMs = parseInterval(values.interval ?? '10s');
  if (!intervalMs) problems.push(`--interval must be a duration like 10s or 1m, not ${JSON.stringify(values.interval)}`);
  else if (intervalMs < 1_000) problems.push('--interval must be at least 1s');
  const journalMaxBytes = values['journal-size'] === undefined ? undefined : parseSize(values['journal-size']);
  if (values['journal-size'] !== undefined && (journalMaxBytes === undefined || journalMaxBytes < 1024 * 1024)) {
    problems.push(`--journal-size must be a size of at least 1M, like 64M or 1G, not ${JSON.stringify(values['journal-size'])}`);
  }
  const journalMaxAgeMs = values['journal-age'] === undefined ? undefined : parseInterval(values['journal-age']);
  if (values['journal-age'] !== undefined && (journalMaxAgeMs === undefined || journalMaxAgeMs < 60_000)) {
    problems.push(`--journal-age must be a duration of at least 1m, like 12h, not ${JSON.stringify(values['journal-age'])}`);
  }
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.\/-]{0,62})=(.{0,256})$/.exec(l);
    if (!m) problems.push(`--label must be KEY=VALUE, not ${JSON.stringify(l)}`);
    else labels[m[1]!] = m[2]!;
  }
  const logLevel = (values['log-level'] ?? 'info') as LogLevel;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) problems.push(`--log-level must be debug, info, warn or error`);
  let dockerSocket = values['docker-socket'];
  if (dockerSocket === undefined && env.DOCKER_HOST) {
    if (env.DOCKER_HOST.startsWith('unix://')) dockerSocket = env.DOCKER_HOST.slice('unix://'.length);
    else problems.push(`DOCKER_HOST=${env.DOCKER_HOST} is not a unix:// socket; the agent talks to the local Engine only (use --docker-socket PATH)`);
  }
  if (dockerSocket !== undefined && !dockerSocket.startsWith('/')) problems.push(`--docker-socket must be an absolute path, not ${JSON.stringify(dockerSocket)}`);
  const allowImages = values['allow-image'];
  for (const p of allowImages ?? []) if (!/^[A-Za-z0-9*][A-Za-z0-9*._\/:@-]{0,511}$/.test(p)) problems.push(`--allow-image must be an image pattern like registry.lab/* or nginx:*, not ${JSON.stringify(p)}`);
  if (values['no-deploy'] && allowImages) problems.push('--no-deploy and --allow-image contradict each other; give one');
  const allowBinds = values['allow-bind']?.map((p) => (p.startsWith('/') ? posix.normalize(p).replace(/(.)\/$/, '$1') : p));
  for (const p of allowBinds ?? []) if (!p.startsWith('/')) problems.push(`--allow-bind must be an absolute host path like /srv/app, not ${JSON.stringify(p)}`);
  const allowUnits = values['allow-unit'];
  for (const p of allowUnits ?? []) if (!/^[A-Za-z0-9:_.\\@*-]{1,256}$/.test(p)) problems.push(`--allow-unit must be a unit pattern like web* or nginx.service, not ${JSON.stringify(p)}`);
  const deployFlags = (['allow-bind', 'allow-privileged', 'allow-host-namespaces', 'allow-unit'] as const).filter((k) => values[k] !== undefined);
  if (values['no-deploy'] && deployFlags.length) problems.push(`--no-deploy and ${deployFlags.map((k) => `--${k}`).join(', ')} contradict each other; give one`);
  const logsExclude = values['logs-exclude'] ?? [];
  for (const p of logsExclude) if (!/^[A-Za-z0-9*?][A-Za-z0-9*?:_.\/@-]{0,255}$/.test(p)) problems.push(`--logs-exclude must be a name pattern like 'debug-*' or cron.service, not ${JSON.stringify(p)}`);
  const maxLine = values['logs-max-line'] === undefined ? undefined : parseSize(values['logs-max-line']);
  if (values['logs-max-line'] !== undefined && (maxLine === undefined || maxLine < 256 || maxLine > 32 * 1024)) problems.push(`--logs-max-line must be a size from 256 to 32K, not ${JSON.stringify(values['logs-max-line'])}`);
  const linesPerSecond = values['logs-rate'] === undefined ? undefined : Number(values['logs-rate']);
  if (linesPerSecond !== undefined && !(Number.isInteger(linesPerSecond) && linesPerSecond >= 1 && linesPerSecond <= 1_000_000)) problems.push(`--logs-rate must be a whole number of lines a second from 1, not ${JSON.stringify(values['logs-rate'])}`);
  const bytesPerSecond = values['logs-rate-bytes'] === undefined ? undefined : parseSize(values['logs-rate-bytes']);
  if (values['logs-rate-bytes'] !== undefined && (bytesPerSecond === undefined || bytesPerSecond < 1024)) problems.push(`--logs-rate-bytes must be a size of at least 1K, like 256K, not ${JSON.stringify(values['logs-rate-bytes'])}`);
  const logFlags = (['logs-exclude', 'logs-max-line', 'logs-rate', 'logs-rate-bytes'] as const).filter((k) => values[k] !== undefined);
  if (values['no-logs'] && logFlags.length) problems.push(`--no-logs and ${logFlags.map((k) => `--${k}`).join(', ')} contradict each other; give one`);
  if (problems.length) throw new UsageError(problems.join('\n'));
  const stateDir = values.state ?? (process.getuid?.() === 0 ? '/var/lib/muster-agent' : join(homedir(), '.local/state/muster-agent'));
  const joinToken = values.join ?? env.MUSTER_JOIN_TOKEN;
  const caHash = values['ca-hash'] ?? env.MUSTER_CA_HASH;
  if (caHash !== undefined && !CA_HASH_RE.test(caHash)) problems.push(`--ca-hash must be sha256: and 64 hex digits (as the join command prints it), not ${JSON.stringify(caHash)}`);
  const caFile = values['ca-file'];
  if (caFile !== undefined && !existsSync(caFile)) problems.push(`--ca-file ${caFile} does not exist`);
  const v = values as Record<string, string | boolean | string[] | undefined>;
  const collectors: CollectorSwitches = {
    enable: COLLECTOR_NAMES.filter((n) => v[`collector.${n}`] === true),
    disable: COLLECTOR_NAMES.filter((n) => v[`no-collector.${n}`] === true),
    disableDefaults: v['collector.disable-defaults'] === true,
  };
  for (const n of collectors.enable!) if (collectors.disable!.includes(n)) problems.push(`--collector.${n} and --no-collector.${n} contradict each other; give one`);
  const collectorOptions: NodeCollectorOptions = {};
  for (const [flag, key] of [['collector.filesystem.mount-points-exclude', 'mountPointsExclude'], ['collector.filesystem.fs-types-exclude', 'fsTypesExclude']] as const) {
    const re = v[flag];
    if (typeof re !== 'string') continue;
    try {
      // node_exporter anchors nothing itself; its defaults carry their own ^...$.
      (collectorOptions.filesystem ??= {})[key] = new RegExp(re);
    } catch (err) {
      problems.push(`--${flag} must be a regular expression: ${(err as Error).message}`);
    }
  }
  const groupsFile = values['process-groups'];
  if (groupsFile !== undefined) {
    try {
      (collectorOptions.processGroups ??= {}).config = parseProcessGroups(readFileSync(groupsFile, 'utf8'));
    } catch (err) {
      const why = err instanceof ProcessGroupsConfigError ? err.message.split('\n').map((l) => `\n  ${l}`).join('') : ` ${(err as Error).message}`;
      problems.push(`--process-groups ${groupsFile}:${why}`);
    }
  }
  if (values['process-groups-threads']) (collectorOptions.processGroups ??= {}).threads = true;
  if (values['process-groups-smaps']) (collectorOptions.processGroups ??= {}).smaps = true;
  const textfileDir = values['textfile-dir'];
  if (textfileDir !== undefined) {
    let dir = false;
    try { dir = statSync(textfileDir).isDirectory(); } catch { /* reported below */ }
    if (!dir) problems.push(`--textfile-dir ${textfileDir} is not a directory`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'));
  if (values.check) return 'check';
  return {
    hub: hub!, name, stateDir, intervalMs: intervalMs!, labels, logLevel, dockerSocket: dockerSocket ?? DEFAULT_DOCKER_SOCKET,
    deploy: {
      enabled: !values['no-deploy'], ...(allowImages ? { allowImages } : {}),
      ...(allowBinds ? { allowBinds } : {}),
      ...(values['allow-privileged'] ? { allowPrivileged: true } : {}),
      ...(values['allow-host-namespaces'] ? { allowHostNamespaces: true } : {}),
      ...(allowUnits ? { allowUnits } : {}),
    },
    ...(joinToken ? { joinToken } : {}),
    ...(journalMaxBytes !== undefined ? { journalMaxBytes } : {}),
    ...(journalMaxAgeMs !== undefined ? { journalMaxAgeMs } : {}),
    ...(caHash ? { caHash: caHash.toLowerCase() } : {}),
    ...(caFile ? { caFile } : {}),
    ...(env.MUSTER_AGENT_HOME ? { home: env.MUSTER_AGENT_HOME } : {}),
    logs: {
      enabled: !values['no-logs'], exclude: logsExclude,
      ...(maxLine !== undefined ? { maxLine } : {}),
      ...(linesPerSecond !== undefined ? { linesPerSecond } : {}),
      ...(bytesPerSecond !== undefined ? { bytesPerSecond } : {}),
    },
    collectors, collectorOptions,
    ...(textfileDir !== undefined ? { textfileDir } : {}),
  };
}

/** Builds and starts an agent from a config; the caller owns shutdown. */
export async function startAgent(config: AgentConfig, hooks: { onFatal?: (code: number, reason: string) => void; onRestart?: (why: 'upgraded' | 'unconfirmed') => void; log?: ReturnType<typeof createLogger> } = {}): Promise<Agent> {
  const log = hooks.log ?? createLogger({ level: config.logLevel });
  const collectors = createCollectors({ name: config.name, labels: config.labels, agentVersion: MUSTER_VERSION });
  const state = createStateStore(config.stateDir);
  const facts = await collectors.facts();
  const saved = state.readCredential();
  if (saved && saved.node !== config.name) {
    throw new UsageError(`the state directory ${config.stateDir} belongs to node '${saved.node}', not '${config.name}'; use --state for another directory`);
  }
  // The container reader's events ask the agent for an early read; the agent does not exist yet here.
  let agentRef: Agent | undefined;
  const docker = createDockerClient({ socketPath: config.dockerSocket });
  // Containers' use comes from the cgroups the cAdvisor collector reads each interval, not Docker's
  // one-shot stats (an HTTP round trip per container per interval), unless that collector is off.
  let cgroupUse: ReadonlyMap<string, ContainerCgroupUse> = new Map();
  const cgroupsCollected = enabledCollectors(nodeCollectors(config.collectorOptions), config.collectors).some((c) => c.name === 'containers');
  const containers = createContainerReader({
    docker,
    onChange: () => agentRef?.refreshWorkloads(),
    ...(cgroupsCollected ? { cgroupUse: () => cgroupUse } : {}),
  });
  const units = createUnitReader({});
  // One pass over /proc/PID/stat per sample for the process list and the process groups, read a few ms apart.
  const procScan = createProcScan({ maxAgeMs: Math.min(1_000, config.intervalMs / 2) });
  const workloads = createWorkloadCollector({
    processes: createProcessReader({ scan: procScan }),
    listeners: createListenerReader({}),
    containers,
    units,
  });
  // The unit the agent runs in, whatever it is called, is as protected as muster-agent.service.
  const ownUnit = unitOfCgroup((() => { try { return readFileSync('/proc/self/cgroup', 'utf8'); } catch { return ''; } })());
  const deploys = createDeployExecutor({
    docker, policy: config.deploy, journal: createDeployJournal(config.stateDir), now: Date.now, log, ...(ownUnit ? { ownUnit } : {}),
  });
  if (/^(http|ws):/.test(config.hub)) log.warn('the hub is plain http: this node\'s credential and what it reports cross the network in clear, and the hub cannot be verified');
  const trust = () => resolveHubTrust({ hub: config.hub, stateDir: config.stateDir, ...(config.caHash ? { caHash: config.caHash } : {}), ...(config.caFile ? { caFile: config.caFile } : {}) });
  const upgrader = createUpgrader({ home: config.home, hub: config.hub, trust, version: MUSTER_VERSION, now: Date.now });
  const metrics = createMetricsCollector({
    registry: nodeCollectors({ ...config.collectorOptions, containers: { containers, onUse: (use) => { cgroupUse = use; } }, processGroups: { ...config.collectorOptions.processGroups, scan: procScan } }),
    switches: config.collectors,
    ...(config.textfileDir !== undefined ? { textfileDir: config.textfileDir } : {}),
    onFailure: (collector, error, absent) => {
      if (!error) log.info('a metrics collector works again', { collector });
      else if (absent) log.debug('a metrics collector has nothing to read on this host', { collector, error });
      else log.warn('a metrics collector failed', { collector, error });
    },
  });
  const logOpts = config.logs ?? { enabled: true, exclude: [] };
  const logs = logOpts.enabled ? createLogCollector({ docker, now: Date.now, log }, {
    stateDir: config.stateDir, exclude: logOpts.exclude,
    ...(logOpts.maxLine !== undefined ? { maxLine: logOpts.maxLine } : {}),
    rate: {
      ...(logOpts.linesPerSecond !== undefined ? { linesPerSecond: logOpts.linesPerSecond } : {}),
      ...(logOpts.bytesPerSecond !== undefined ? { bytesPerSecond: logOpts.bytesPerSecond } : {}),
    },
  }) : undefined;
  const agent = createAgent({ collectors, workloads, state, log, deploys, trust, upgrader, metrics, ...(logs ? { logs } : {}) }, {
    hub: config.hub, name: config.name, machineId: facts.machineId, joinToken: config.joinToken,
    intervalMs: config.intervalMs, onFatal: hooks.onFatal, ...(hooks.onRestart ? { onRestart: hooks.onRestart } : {}),
    ...(config.journalMaxBytes !== undefined ? { journalMaxBytes: config.journalMaxBytes } : {}),
    ...(config.journalMaxAgeMs !== undefined ? { journalMaxAgeMs: config.journalMaxAgeMs } : {}),
    onClose: () => { containers.close(); units.close(); },
  });
  agentRef = agent;
  agent.start();
  log.info('agent started', { node: config.name, hub: config.hub, intervalMs: config.intervalMs, version: MUSTER_VERSION });
  return agent;
}

/** Runs the agent command until SIGINT/SIGTERM; returns the exit code. */
export async function runAgentCommand(io: AgentCommandIo): Promise<number> {
  let config;
  try {
    config = parseAgentArgs(io.argv, io.env);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`muster agent: ${err.message}\nRun 'muster agent --help' for usage.\n`);
      return 2;
    }
    throw err;
  }
  if (config === 'help') { io.out(AGENT_USAGE); return 0; }
  if (config === 'version') { io.out(`muster-agent ${MUSTER_VERSION}\n`); return 0; }
  if (config === 'check') { io.out('muster agent: the flags are good\n'); return 0; }
  return new Promise<number>((resolve) => {
    let agent: Agent | undefined;
    const stop = async (code: number) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await agent?.close();
      resolve(code);
    };
    const onSignal = () => void stop(0);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // An upgrade ends the process with 0 (systemd starts the new bundle); a new version that cannot reach the hub with 1.
    startAgent(config, { onFatal: () => void stop(1), onRestart: (why) => void stop(why === 'upgraded' ? 0 : 1) }).then((a) => { agent = a; }, (err: Error) => {
      io.err(`muster agent: ${err.message}\n`);
      void stop(err instanceof UsageError ? 2 : 1);
    });
  });
}
