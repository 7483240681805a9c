/**
 * `muster recommend`, `muster deploy` and `muster jobs`: where a new service
 * fits, pushing it there in one command (flags close to `docker run`), and the
 * jobs that did it.
 */
import { randomBytes } from 'node:crypto';
import { createApiClient, type ApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { bytes, table } from '../format.ts';
import type { Io } from '../io.ts';
import { describeAction, redactDeployAction, type ContainerSpec, type DeployAction, type PortMapping, type RestartPolicy, type VolumeMount } from '../../protocol/index.ts';
import { NETWORK_NAME_PATTERN, type DeviceMapping } from '../../protocol/index.ts';
import type { PlacementAnswer } from '../../hub/placement.ts';
import type { jobView } from '../../hub/routes/deploys.ts';
import { parseBytes, parseCpu } from '../../hub/placement.ts';

type JobView = ReturnType<typeof jobView>;

/** A job as JSON for people. The hub already shows env values as `<redacted>`; a 0.1.0 hub did not, so the CLI does it too. */
const jobJson = (job: JobView) => JSON.stringify({ ...job, action: redactDeployAction(job.action) }, null, 2) + '\n';

const CONNECTION = `  --hub URL      hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN  admin token (env MUSTER_TOKEN)`;

export const RECOMMEND_USAGE = `Usage: muster recommend [--cpu CORES] [--memory SIZE] [--disk SIZE] [--platform OS/ARCH]
                        [--constraint LABEL=VALUE]... [--port PORT[/udp]]... [--strategy binpack|spread]
                        [--spread-by LABEL] [--service NAME] [--image IMAGE] [--force] [--json]

Ranks every node for a new service: the ones it fits on, best first, with the
figures behind the score (free CPU and memory after placing it, from the p95
of the last hour, day and week plus what recent deploys reserved), and the
ones it does not fit on with every reason. Nothing is started.

Options:
  --cpu CORES          cores it needs: 0.5, 2, 500m
  --memory SIZE        memory it needs: 256M, 1G
  --disk SIZE          free disk it needs where Docker keeps its data
  --platform P         linux/amd64, linux/arm64, linux/arm/v7
  --constraint L=V     a node label that must match (repeatable): group=compute
  --port PORT          a host port it needs free (repeatable): 8080, 53/udp
  --strategy S         binpack (default: fill the fullest node that fits) or spread
  --spread-by LABEL    with spread: spread across the values of this node label
  --service NAME       the service it is, so spread avoids nodes already running it
  --image IMAGE        nodes that already hold the image score higher
  --force              when nothing fits, name the closest node anyway (over-commit, with a warning)
  --json               print the API's answer as JSON
${CONNECTION}

Exit codes: 0 a node fits, 1 nothing fits (the closest node is shown), 2 usage.
`;

export const DEPLOY_USAGE = `Usage: muster deploy --node NAME|auto --image IMAGE --name NAME [-p [IP:]HOST:CONTAINER[/udp]]...
                     [-e KEY=VALUE]... [-l KEY=VALUE]... [-v SRC:DST[:ro]]... [--restart POLICY]
                     [--cpu CORES] [--memory SIZE] [--platform OS/ARCH] [--replace] [--no-wait] [-- COMMAND ARGS...]
                     [--privileged] [--network host|NAME] [--pid host] [--device PATH]... [--cap-add CAP]...
       muster deploy --node NAME (--restart-container NAME | --stop-container NAME | --remove-container NAME)
       muster deploy --node NAME --unit UNIT --action start|stop|restart

Sends a one-shot deploy to the agent of a node, as a job the hub keeps: runs a
container (as 'docker run -d' would), replaces a running one by name (the new
one starts before the old one stops), restarts, stops or removes a container,
or starts, stops or restarts a systemd unit. --node auto runs the container
on the top node of 'muster recommend' for it (its --cpu, --memory, published
ports, platform and image). The job's progress is shown live; the exit code
is 0 when it succeeded, 1 when it failed, was refused or timed out.

Options:
  --node NAME          the target node, or auto
  --image IMAGE        image to run
  --name NAME          container name (and the service name unless -l muster.service=... says otherwise)
  -p, --publish SPEC   publish a port: 8080:80, 127.0.0.1:8080:80, 53:53/udp, or 80 (any free host port)
  -e, --env K=V        environment variable (K alone takes the value from this shell)
  -l, --label K=V      container label (muster.service=NAME names the service)
  -v, --volume SPEC    bind mount or named volume: /srv/data:/data, data:/data:ro
  --restart POLICY     no, always, unless-stopped (default), on-failure
  --cpu CORES          CPU limit: 0.5, 2, 500m (also what --node auto reserves)
  --memory SIZE        memory limit: 256M, 1G (also what --node auto reserves)
  --platform P         linux/amd64, linux/arm64, linux/arm/v7
  --privileged         a privileged container (every capability and device)
  --network NET        host (the node's own network) or a Docker network's name
  --pid host           the node's PID namespace
  --device SPEC        a host device: /dev/ttyUSB0, /dev/ttyUSB0:/dev/modem:rw (repeatable)
  --cap-add CAP        add a capability: NET_ADMIN, SYS_TIME, ALL (repeatable)
                       The agent refuses these, and bind mounts of host paths, unless it
                       runs with --allow-privileged, --allow-host-namespaces or --allow-bind
  --constraint L=V     with --node auto: a node label that must match (repeatable)
  --strategy S         with --node auto: binpack (default) or spread
  --spread-by LABEL    with --node auto and spread: spread across this node label's values
  --force              with --node auto: over-commit the closest node when none fits
  --replace            replace the running container of that name (start new, then stop old)
  --restart-container NAME, --stop-container NAME, --remove-container NAME
  --unit UNIT --action start|stop|restart
  --id ID              job id (default: a fresh one); sending the same id twice runs the job once
  --queue-timeout DUR  how long the job waits for an offline node (default 10m)
  --no-wait            print the job id and return; follow it with 'muster jobs show ID'
  --json               print the final job as JSON
${CONNECTION}
`;

export const JOBS_USAGE = `Usage: muster jobs [--limit N] [--json]
       muster jobs show ID [--json]

Lists deploy jobs, newest first: id, node, what, state, who asked and when;
'show' prints one job with its whole output.

Options:
  --limit N      how many jobs to list (default 20)
  --json         print the API's answer as JSON
${CONNECTION}
`;

const usage = (message: string) => new CliError('MUSTER_ERR_USAGE', message, 2);

/** `KEY=VALUE` pairs of a repeated flag; a key alone takes `fromEnv(key)` when given. */
export function parsePairs(flag: string, list: string[] | undefined, fromEnv?: (k: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    const key = i < 0 ? item : item.slice(0, i);
    if (!key) throw usage(`${flag} needs KEY=VALUE, not ${JSON.stringify(item)}`);
    if (i < 0) {
      const v = fromEnv?.(key);
      if (v === undefined) throw usage(`${flag} ${key}: give KEY=VALUE${fromEnv ? `, or set ${key} in this shell` : ''}`);
      out[key] = v;
    } else {
      out[key] = item.slice(i + 1);
    }
  }
  return out;
}

/** `-p` the way docker reads it: [IP:][HOST:]CONTAINER[/PROTO]. */
export function parsePublish(spec: string): PortMapping {
  const m = /^(?:(?:\[([0-9a-fA-F:]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):)?(?:(\d{1,5})?:)?(\d{1,5})(?:\/(tcp|udp))?$/.exec(spec);
  const valid = (p: string | undefined) => p === undefined || (Number(p) >= 1 && Number(p) <= 65535);
  if (!m || !valid(m[3]) || !valid(m[4])) throw usage(`-p needs [IP:][HOST:]CONTAINER[/udp] like 8080:80 or 127.0.0.1:8080:80, not ${JSON.stringify(spec)}`);
  const hostIp = m[1] ?? m[2];
  return {
    containerPort: Number(m[4]), protocol: (m[5] as 'tcp' | 'udp' | undefined) ?? 'tcp',
    ...(m[3] ? { hostPort: Number(m[3]) } : {}), ...(hostIp ? { hostIp } : {}),
  };
}

/** `-v SRC:DST[:ro|rw]`. */
export function parseVolume(spec: string): VolumeMount {
  const parts = spec.split(':');
  const [source, target, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !source || !target?.startsWith('/') || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
    throw usage(`-v needs SRC:DST[:ro] with an absolute DST, like /srv/data:/data or data:/data:ro, not ${JSON.stringify(spec)}`);
  }
  return { source, target, ...(mode === 'ro' ? { readOnly: true } : {}) };
}

const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'];

/** Linux capabilities by the names `docker run --cap-add` takes (without CAP_). */
export const CAPABILITIES: readonly string[] = [
  'AUDIT_CONTROL', 'AUDIT_READ', 'AUDIT_WRITE', 'BLOCK_SUSPEND', 'BPF', 'CHECKPOINT_RESTORE', 'CHOWN', 'DAC_OVERRIDE',
  'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'IPC_LOCK', 'IPC_OWNER', 'KILL', 'LEASE', 'LINUX_IMMUTABLE', 'MAC_ADMIN',
  'MAC_OVERRIDE', 'MKNOD', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_RAW', 'PERFMON', 'SETFCAP', 'SETGID',
  'SETPCAP', 'SETUID', 'SYSLOG', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_CHROOT', 'SYS_MODULE', 'SYS_NICE', 'SYS_PACCT',
  'SYS_PTRACE', 'SYS_RAWIO', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'WAKE_ALARM',
];

/** `--cap-add` as docker takes it: any case, with or without CAP_, or ALL. */
export function parseCapability(cap: string): string {
  const name = cap.toUpperCase().replace(/^CAP_/, '');
  if (name !== 'ALL' && !CAPABILITIES.includes(name)) throw usage(`--cap-add needs a Linux capability like NET_ADMIN or SYS_TIME (or ALL), not ${JSON.stringify(cap)}`);
  return name;
}

/** `--device HOST[:CONTAINER][:PERMS]`, as docker reads it. */
export function parseDevice(spec: string): DeviceMapping {
  const parts = spec.split(':');
  const perms = parts.length > 1 && /^[rwm]{1,3}$/.test(parts.at(-1)!) ? parts.pop() : undefined;
  const [hostPath, containerPath] = parts;
  if (parts.length > 2 || !hostPath?.startsWith('/') || (containerPath !== undefined && !containerPath.startsWith('/')) || (perms && new Set(perms).size !== perms.length)) {
    throw usage(`--device needs HOST[:CONTAINER][:PERMS] with absolute paths and PERMS of r, w, m, like /dev/ttyUSB0 or /dev/ttyUSB0:/dev/modem:rw, not ${JSON.stringify(spec)}`);
  }
  return { hostPath, ...(containerPath ? { containerPath } : {}), ...(perms ? { permissions: perms } : {}) };
}

const NETWORK_NAME = new RegExp(NETWORK_NAME_PATTERN);

/** `--network host` or a Docker network's name; another container's namespace is not something a deploy can ask for. */
export function parseNetwork(net: string): string {
  if (net.startsWith('container:')) throw usage(`--network ${net}: sharing another container's network is not supported; give host or a network's name`);
  if (!NETWORK_NAME.test(net)) throw usage(`--network needs host or a Docker network's name (letters, digits, '_', '.', '-'), not ${JSON.stringify(net)}`);
  return net;
}

const RECOMMEND_FLAGS = {
  cpu: { type: 'string' }, memory: { type: 'string' }, disk: { type: 'string' }, platform: { type: 'string' },
  constraint: { type: 'string', multiple: true }, port: { type: 'string', multiple: true }, strategy: { type: 'string' },
  'spread-by': { type: 'string' }, service: { type: 'string' }, image: { type: 'string' }, force: { type: 'boolean' },
  json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

/** Bytes that may be negative (short by that much). */
const signedBytes = (n: number) => (n < 0 ? `-${bytes(-n)}` : bytes(n));

/** Turns a placement answer into lines for people. */
export function formatPlacement(a: PlacementAnswer): string {
  const rows = a.ranked.map((r) => [
    r.node,
    r.feasible ? 'yes' : 'no',
    r.feasible ? r.score.toFixed(0) : '-',
    `${r.figures.cpuFreeAfter.toFixed(2)} cores`,
    signedBytes(r.figures.memoryFreeAfterBytes),
    r.figures.diskFreeAfterBytes === null ? '-' : signedBytes(r.figures.diskFreeAfterBytes),
    r.feasible ? r.notes.join('; ') || '-' : r.reasons.map((x) => x.message).join('; '),
  ]);
  const head = a.fits
    ? `Best: ${a.best}`
    : `Nothing fits.${a.closest ? ` Closest: ${a.closest}.` : ''}${a.best ? ` Forced: ${a.best}.` : ' Use --force to over-commit the closest node.'}`;
  return [
    head, '',
    table(['NODE', 'FITS', 'SCORE', 'CPU FREE AFTER', 'MEM FREE AFTER', 'DISK FREE AFTER', 'WHY'], rows).trimEnd(),
    ...a.warnings.map((w) => `warning: ${w}`),
    '',
  ].join('\n');
}

export async function recommendCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, RECOMMEND_FLAGS);
  if (values.help) { io.out(RECOMMEND_USAGE); return 0; }
  const body: Record<string, unknown> = {};
  if (values.cpu !== undefined) {
    if (parseCpu(values.cpu) === undefined) throw usage(`--cpu needs cores like 0.5, 2 or 500m, not ${JSON.stringify(values.cpu)}`);
    body.cpu = values.cpu;
  }
  for (const k of ['memory', 'disk'] as const) {
    const v = values[k];
    if (v === undefined) continue;
    if (parseBytes(v) === undefined) throw usage(`--${k} needs a size like 256M or 1G, not ${JSON.stringify(v)}`);
    body[k] = v;
  }
  if (values.platform) body.platform = values.platform;
  if (values.constraint) body.constraints = parsePairs('--constraint', values.constraint);
  if (values.port) body.ports = values.port;
  if (values.strategy) body.strategy = values.strategy;
  if (values['spread-by']) body.spreadBy = values['spread-by'];
  if (values.service) body.service = values.service;
  if (values.image) body.image = values.image;
  if (values.force) body.force = true;
  const api = createApiClient(resolveClient(values, io.env));
  const answer = await api.post<PlacementAnswer>('/api/v1/placements', body);
  io.out(values.json ? JSON.stringify(answer, null, 2) + '\n' : formatPlacement(answer));
  return answer.fits ? 0 : 1;
}

const DEPLOY_FLAGS = {
  node: { type: 'string' }, image: { type: 'string' }, name: { type: 'string' },
  publish: { type: 'string', short: 'p', multiple: true }, env: { type: 'string', short: 'e', multiple: true },
  label: { type: 'string', short: 'l', multiple: true }, volume: { type: 'string', short: 'v', multiple: true },
  restart: { type: 'string' }, cpu: { type: 'string' }, memory: { type: 'string' }, platform: { type: 'string' },
  constraint: { type: 'string', multiple: true }, strategy: { type: 'string' }, 'spread-by': { type: 'string' }, force: { type: 'boolean' },
  replace: { type: 'boolean' }, 'restart-container': { type: 'string' }, 'stop-container': { type: 'string' },
  'remove-container': { type: 'string' }, unit: { type: 'string' }, action: { type: 'string' },
  privileged: { type: 'boolean' }, network: { type: 'string' }, pid: { type: 'string' },
  device: { type: 'string', multiple: true }, 'cap-add': { type: 'string', multiple: true },
  id: { type: 'string' }, 'queue-timeout': { type: 'string' }, 'no-wait': { type: 'boolean' }, json: { type: 'boolean' },
  hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

type DeployValues = ReturnType<typeof parseFlags<typeof DEPLOY_FLAGS>>['values'];

/** Builds the deploy action from the flags; every conflict is a usage error. */
export function deployActionFromFlags(v: DeployValues, command: string[], env: Record<string, string | undefined>): DeployAction {
  const containerOps = (['restart-container', 'stop-container', 'remove-container'] as const).filter((k) => v[k] !== undefined);
  const modes = containerOps.length + (v.unit !== undefined ? 1 : 0) + (v.image !== undefined ? 1 : 0);
  if (modes !== 1) throw usage('give exactly one of --image (run or --replace a container), --restart-container, --stop-container, --remove-container or --unit');
  const powers = (['privileged', 'network', 'pid', 'device', 'cap-add'] as const).filter((k) => v[k] !== undefined);
  if (v.image === undefined && powers.length) throw usage(`${powers.map((k) => `--${k}`).join(', ')} apply to a container started with --image only`);
  if (containerOps.length === 1) {
    const op = containerOps[0]!;
    return { kind: 'container', action: op.replace('-container', '') as 'restart' | 'stop' | 'remove', name: v[op]! };
  }
  if (v.unit !== undefined) {
    if (v.action !== 'start' && v.action !== 'stop' && v.action !== 'restart') throw usage('--unit needs --action start, stop or restart');
    return { kind: 'unit', action: v.action, unit: v.unit.includes('.') ? v.unit : `${v.unit}.service` };
  }
  if (!v.name) throw usage('--name is required with --image');
  const restart = v.restart ?? 'unless-stopped';
  if (!RESTART_POLICIES.includes(restart)) throw usage(`--restart needs one of ${RESTART_POLICIES.join(', ')}, not ${JSON.stringify(restart)}`);
  let cpus: number | undefined;
  if (v.cpu !== undefined) {
    cpus = parseCpu(v.cpu);
    if (cpus === undefined) throw usage(`--cpu needs cores like 0.5, 2 or 500m, not ${JSON.stringify(v.cpu)}`);
  }
  let memoryBytes: number | undefined;
  if (v.memory !== undefined) {
    memoryBytes = parseBytes(v.memory);
    if (memoryBytes === undefined || memoryBytes < 4 * 1024 * 1024) throw usage(`--memory needs a size of at least 4M like 256M or 1G, not ${JSON.stringify(v.memory)}`);
  }
  if (v.pid !== undefined && v.pid !== 'host') throw usage(`--pid takes host only (the node's PID namespace), not ${JSON.stringify(v.pid)}`);
  const network = v.network === undefined ? undefined : parseNetwork(v.network);
  const devices = v.device?.map(parseDevice);
  const capAdd = v['cap-add'] && [...new Set(v['cap-add'].map(parseCapability))];
  const container: ContainerSpec = {
    image: v.image!, name: v.name,
    env: parsePairs('-e', v.env, (k) => env[k]),
    labels: parsePairs('-l', v.label),
    ports: (v.publish ?? []).map(parsePublish),
    volumes: (v.volume ?? []).map(parseVolume),
    restart: restart as RestartPolicy,
    ...(command.length ? { command } : {}),
    ...(cpus !== undefined ? { cpus } : {}),
    ...(memoryBytes !== undefined ? { memoryBytes: Math.round(memoryBytes) } : {}),
    ...(v.platform ? { platform: v.platform } : {}),
    ...(v.privileged ? { privileged: true } : {}),
    ...(network ? { network } : {}),
    ...(v.pid ? { pid: 'host' as const } : {}),
    ...(devices ? { devices } : {}),
    ...(capAdd ? { capAdd } : {}),
  };
  return { kind: v.replace ? 'replace' : 'run', container };
}

const ENDED = new Set(['succeeded', 'failed', 'timed out']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prints a job's output as it arrives until the job ends; returns the final job. */
async function follow(api: ApiClient, id: string, io: Io, quiet: boolean, first?: JobView): Promise<JobView> {
  let after = 0;
  let job = first;
  for (;;) {
    if (!job) job = await api.get<JobView>(`/api/v1/deploys/${encodeURIComponent(id)}?after=${after}`);
    for (const line of job.output ?? []) {
      if (line.seq <= after) continue;
      after = line.seq;
      if (!quiet) io.err(`${line.ts.slice(11, 19)}  ${line.step.padEnd(8)} ${line.message}\n`);
    }
    if (ENDED.has(job.state)) return job;
    job = undefined;
    await sleep(300);
  }
}

export async function deployCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, DEPLOY_FLAGS, true);
  if (values.help) { io.out(DEPLOY_USAGE); return 0; }
  // node:util puts what follows `--` among the positionals; nothing else may be one.
  const dashdash = argv.indexOf('--');
  const command = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  if (positionals.length !== command.length) throw usage(`unexpected argument ${JSON.stringify(positionals[0])}; put the container's command after --`);
  if (!values.node) throw usage('--node NAME or --node auto is required');
  const action = deployActionFromFlags(values, command, io.env);
  const auto = values.node === 'auto';
  if (!auto && (values.constraint || values.strategy || values['spread-by'] || values.force)) throw usage('--constraint, --strategy, --spread-by and --force apply to --node auto only');
  const body: Record<string, unknown> = {
    id: values.id ?? `${action.kind === 'run' || action.kind === 'replace' ? action.container.name : action.kind}-${randomBytes(4).toString('hex')}`.slice(0, 64),
    node: values.node, action,
  };
  if (values['queue-timeout']) body.queueTimeout = values['queue-timeout'];
  if (auto) {
    const placement: Record<string, unknown> = {};
    if (values.constraint) placement.constraints = parsePairs('--constraint', values.constraint);
    if (values.strategy) placement.strategy = values.strategy;
    if (values['spread-by']) placement.spreadBy = values['spread-by'];
    if (Object.keys(placement).length) body.placement = placement;
    if (values.force) body.force = true;
  }
  const api = createApiClient(resolveClient(values, io.env));
  let res: { created: boolean; job: JobView; warnings?: string[] };
  try {
    res = await api.post('/api/v1/deploys', body);
  } catch (err) {
    if (err instanceof CliError && err.code === 'MUSTER_ERR_NO_PLACEMENT' && err.details.placement) {
      io.err(`${err.message}\n\n${formatPlacement(err.details.placement as PlacementAnswer)}`);
      return 1;
    }
    throw err;
  }
  for (const w of res.warnings ?? []) io.err(`warning: ${w}\n`);
  const job = res.job;
  if (!values.json) io.err(`job ${job.id}: ${job.node}${auto ? ' (chosen by placement)' : ''}${res.created ? '' : ' (already known: not sent again)'}\n`);
  if (values['no-wait']) {
    io.out(values.json ? jobJson(job) : `${job.id}\n`);
    return 0;
  }
  const final = await follow(api, job.id, io, values.json === true, job);
  if (values.json) io.out(jobJson(final));
  else io.out(`${final.state}: ${final.message ?? ''}\n`);
  return final.state === 'succeeded' ? 0 : 1;
}

const JOBS_FLAGS = {
  limit: { type: 'string' }, json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

export async function jobsCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, JOBS_FLAGS, true);
  if (values.help) { io.out(JOBS_USAGE); return 0; }
  const api = createApiClient(resolveClient(values, io.env));
  if (positionals[0] === 'show') {
    const id = positionals[1];
    if (!id || positionals.length > 2) throw usage('give one job id: muster jobs show ID');
    const job = await api.get<JobView>(`/api/v1/deploys/${encodeURIComponent(id)}`);
    if (values.json) { io.out(jobJson(job)); return 0; }
    const lines = [
      `job ${job.id}: ${describeAction(job.action)} on ${job.node}`,
      `state     ${job.state}${job.message ? `: ${job.message}` : ''}`,
      `asked by  ${job.requestedBy} at ${job.createdAt}`,
      `updated   ${job.updatedAt}`,
      ...(job.containerId ? [`container ${job.containerId.slice(0, 12)}`] : []),
      '', 'output:',
      ...(job.output ?? []).map((l) => `  ${l.ts}  ${l.step.padEnd(8)} ${l.message}`),
      '',
    ];
    io.out(lines.join('\n'));
    return job.state === 'failed' || job.state === 'timed out' ? 1 : 0;
  }
  if (positionals.length) throw usage(`unknown argument ${JSON.stringify(positionals[0])}: muster jobs [show ID]`);
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw usage('--limit needs a whole number from 1 to 1000');
  const res = await api.get<{ jobs: JobView[] }>(`/api/v1/deploys?limit=${limit}`);
  if (values.json) { io.out(JSON.stringify({ ...res, jobs: res.jobs.map((j) => ({ ...j, action: redactDeployAction(j.action) })) }, null, 2) + '\n'); return 0; }
  if (res.jobs.length === 0) { io.out("No deploy jobs yet. Start one with 'muster deploy'.\n"); return 0; }
  io.out(table(['ID', 'NODE', 'WHAT', 'STATE', 'ASKED BY', 'CREATED'],
    res.jobs.map((j) => [j.id, j.node, describeAction(j.action), j.state, j.requestedBy, j.createdAt.replace('T', ' ').slice(0, 19)])));
  return 0;
}
