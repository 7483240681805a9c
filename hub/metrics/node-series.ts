/**
 * One node's series, in the names the stock dashboards expect: host metrics
 * as node_exporter writes them, containers as cAdvisor does, systemd units
 * as node_exporter's systemd collector, process groups as process-exporter;
 * plus muster_* gauges for what those exporters have no name for (container
 * state, counts per state). Every series carries `instance="<node>"`. No
 * PIDs or other unbounded values become labels.
 *
 * What depends only on a node's containers, units or processes (not on its
 * latest sample) is rendered once per change of those and reused from the
 * cache on later scrapes.
 */
import type { ContainerInfo, HostFacts, SampleData } from '../../protocol/index.ts';
import type { NodeWorkloads } from '../inventory.ts';
import { containerServiceName, processServiceName } from '../services.ts';
import { containerLabelName, escapeLabel, formatValue, labelText, type FamilySink, type FamilyWriter } from './exposition.ts';

/** A node's generic families (hub/metrics/agent-families.ts), bound to the node. */
export interface NodeFamiliesView {
  /** Names of the families the agent sent: the hub derives none of these itself for the node. */
  names: ReadonlySet<string>;
  write(instance: string, out: FamilySink): void;
}

/** What one node contributes to /metrics. */
export interface NodeMetricsInput {
  name: string;
  facts: HostFacts | null;
  sample: SampleData | undefined;
  workloads: NodeWorkloads | undefined;
  /**
   * Present once the node's agent sent a metrics snapshot (protocol 3): its
   * host series then come from the agent's own collectors, and the series
   * the hub derives from samples and facts are not written; any other family
   * the agent sent replaces the hub's of the same name.
   */
  families?: NodeFamiliesView;
}

/** Text rendered from a node's workloads, kept between scrapes while the workloads stay the same. */
export interface NodeSeriesCache {
  get(instance: string): CachedNode | undefined;
  set(instance: string, entry: CachedNode): void;
  /** Drops nodes not seen in the last render. */
  retain(instances: Set<string>): void;
}

interface CachedNode {
  unitsVersion: number;
  units: { lines: string; active: number; failed: number };
  containersVersion: number;
  containers: { info: string; restarts: string; labels: Map<string, string>; states: Map<string, number>; failed: number };
  processesVersion: number;
  groups: { procs: string; cpu: string; memory: string; oldest: string };
}

/** Creates an empty cache (one per HubMetrics: no module-level state). */
export function createNodeSeriesCache(): NodeSeriesCache {
  const map = new Map<string, CachedNode>();
  return {
    get: (i) => map.get(i),
    set: (i, e) => { map.set(i, e); },
    retain(instances) { for (const k of map.keys()) if (!instances.has(k)) map.delete(k); },
  };
}

const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
const UNIT_STATES = ['activating', 'active', 'deactivating', 'failed', 'inactive'] as const;
/**
 * The Docker labels that become container_label_* (cAdvisor exports them all;
 * dashboards use these). Every label on every container series would double
 * the size of /metrics for a large fleet; muster_container_info carries the
 * service and compose project for joins.
 */
const CONTAINER_LABELS = ['com.docker.compose.project', 'com.docker.compose.service', 'muster.service'];

const MEMORY_FIELDS = [
  ['MemTotal', 'totalBytes'], ['MemAvailable', 'availableBytes'], ['MemFree', 'freeBytes'], ['Buffers', 'buffersBytes'],
  ['Cached', 'cachedBytes'], ['SwapTotal', 'swapTotalBytes'], ['SwapFree', 'swapFreeBytes'],
] as const;

const NET_FIELDS = [
  ['receive_bytes', 'rxBytes'], ['transmit_bytes', 'txBytes'], ['receive_packets', 'rxPackets'], ['transmit_packets', 'txPackets'],
  ['receive_errs', 'rxErrors'], ['transmit_errs', 'txErrors'], ['receive_drop', 'rxDropped'], ['transmit_drop', 'txDropped'],
] as const;

/** Takes lines and keeps none. */
const DISCARD: FamilyWriter = { line: () => {}, raw: () => {} };

const line = (name: string, labels: string, value: number) => `${name}{${labels}} ${formatValue(value)}\n`;

function renderUnits(inst: string, w: NodeWorkloads): CachedNode['units'] {
  let lines = '';
  let active = 0;
  let failed = 0;
  for (const u of w.units.values()) {
    if (!u.name.endsWith('.service')) continue;
    if (u.activeState === 'active') active++;
    if (u.activeState === 'failed') failed++;
    const base = `${inst},name="${escapeLabel(u.name)}",state="`;
    for (const state of UNIT_STATES) lines += `node_systemd_unit_state{${base}${state}",type="simple"} ${u.activeState === state ? 1 : 0}\n`;
  }
  return { lines, active, failed };
}

function renderContainers(inst: string, w: NodeWorkloads): CachedNode['containers'] {
  let info = '';
  let restarts = '';
  const labels = new Map<string, string>();
  const states = new Map<string, number>([['running', 0], ['exited', 0], ['restarting', 0]]);
  let failed = 0;
  for (const c of w.containers.values()) {
    states.set(c.state, (states.get(c.state) ?? 0) + 1);
    if (c.state !== 'running' && (c.exitCode ?? 0) !== 0 && !c.stopRequested) failed++;
    const service = containerServiceName(c);
    info += line('muster_container_info', `${inst},${labelText({ name: c.name, image: c.image, state: c.state, health: c.health, service, compose_project: c.composeProject ?? '' })}`, 1);
    restarts += line('muster_container_restarts', `${inst},${labelText({ name: c.name, service })}`, c.restartCount);
    labels.set(c.id, `${inst},${cadvisorLabels(c)}`);
  }
  return { info, restarts, labels, states, failed };
}

/** cAdvisor's labels of a container: id, name, image and its Docker labels. */
function cadvisorLabels(c: ContainerInfo): string {
  const l: Record<string, string> = { id: `/docker/${c.id}`, name: c.name, image: c.image };
  for (const k of CONTAINER_LABELS) {
    const v = c.labels[k];
    if (v !== undefined) l[containerLabelName(k)] = v;
  }
  return labelText(l);
}

function renderGroups(inst: string, w: NodeWorkloads): CachedNode['groups'] {
  // process-exporter groups by a name; ours is the service name a bare process would get.
  const groups = new Map<string, { procs: number; cpu: number; rss: number; oldest: number }>();
  for (const p of w.processes.values()) {
    const name = processServiceName(p);
    const g = groups.get(name) ?? { procs: 0, cpu: 0, rss: 0, oldest: Infinity };
    g.procs++;
    g.cpu += p.cpuSeconds;
    g.rss += p.rssBytes;
    g.oldest = Math.min(g.oldest, p.startTime);
    groups.set(name, g);
  }
  const out = { procs: '', cpu: '', memory: '', oldest: '' };
  for (const [groupname, g] of groups) {
    const l = `${inst},groupname="${escapeLabel(groupname)}"`;
    out.procs += line('namedprocess_namegroup_num_procs', l, g.procs);
    out.cpu += line('namedprocess_namegroup_cpu_seconds_total', l, Math.round(g.cpu * 100) / 100);
    out.memory += line('namedprocess_namegroup_memory_bytes', `${l},memtype="resident"`, g.rss);
    out.oldest += line('namedprocess_namegroup_oldest_start_time_seconds', l, g.oldest);
  }
  return out;
}

/** Writes the series of one node. */
export function writeNodeSeries(out: FamilySink, cache: NodeSeriesCache, n: NodeMetricsInput): void {
  const inst = `instance="${escapeLabel(n.name)}"`;
  const agent = n.families;
  let w = out;
  if (agent) {
    agent.write(inst, out);
    // A family the agent sent is the node's; the hub's own of that name would be a second copy of its series.
    const mine = agent.names;
    w = { family: (name, type, help) => (mine.has(name) ? DISCARD : out.family(name, type, help)) };
  }
  const s = agent ? undefined : n.sample;
  if (s) {
    const cpu = w.family('node_cpu_seconds_total', 'counter', 'Seconds the CPUs spent in each mode.');
    for (const c of s.cpu) {
      const base = `${inst},cpu="${escapeLabel(c.cpu.replace(/^cpu/, ''))}",mode="`;
      for (const mode of CPU_MODES) cpu.line(`${base}${mode}"`, c[mode]);
    }
    w.family('node_load1', 'gauge', '1m load average.').line(inst, s.load[0]);
    w.family('node_load5', 'gauge', '5m load average.').line(inst, s.load[1]);
    w.family('node_load15', 'gauge', '15m load average.').line(inst, s.load[2]);
    for (const [field, key] of MEMORY_FIELDS) w.family(`node_memory_${field}_bytes`, 'gauge', `Memory information field ${field}_bytes.`).line(inst, s.memory[key]);
    const fsSize = w.family('node_filesystem_size_bytes', 'gauge', 'Filesystem size in bytes.');
    const fsFree = w.family('node_filesystem_free_bytes', 'gauge', 'Filesystem free space in bytes.');
    const fsAvail = w.family('node_filesystem_avail_bytes', 'gauge', 'Filesystem space available to non-root users in bytes.');
    const fsFiles = w.family('node_filesystem_files', 'gauge', 'Filesystem total file nodes.');
    const fsFilesFree = w.family('node_filesystem_files_free', 'gauge', 'Filesystem total free file nodes.');
    for (const f of s.filesystems) {
      const l = `${inst},${labelText({ device: f.device, fstype: f.fstype, mountpoint: f.mountpoint })}`;
      fsSize.line(l, f.sizeBytes);
      fsFree.line(l, f.freeBytes);
      fsAvail.line(l, f.availBytes);
      fsFiles.line(l, f.files);
      fsFilesFree.line(l, f.filesFree);
    }
    const net = NET_FIELDS.map(([stat, key]) => [w.family(`node_network_${stat}_total`, 'counter', `Network device statistic ${stat}.`), key] as const);
    for (const i of s.network) {
      const l = `${inst},device="${escapeLabel(i.iface)}"`;
      for (const [fam, key] of net) fam.line(l, i[key]);
    }
    for (const t of s.temperatures) {
      const [source, a = '', b = ''] = t.sensor.split('/');
      if (source === 'hwmon') w.family('node_hwmon_temp_celsius', 'gauge', 'Hardware monitor for temperature (input).').line(`${inst},${labelText({ chip: a, sensor: b })}`, t.celsius);
      else w.family('node_thermal_zone_temp', 'gauge', 'Zone temperature in Celsius.').line(`${inst},${labelText({ type: a, zone: b })}`, t.celsius);
    }
  }
  const f = agent ? null : n.facts;
  if (f) {
    w.family('node_boot_time_seconds', 'gauge', 'Node boot time, in unixtime.').line(inst, f.bootTime);
    w.family('node_uname_info', 'gauge', 'Labeled system information as provided by the uname system call.')
      .line(`${inst},${labelText({ sysname: 'Linux', release: f.kernel, machine: f.platform, nodename: f.hostname })}`, 1);
    w.family('node_os_info', 'gauge', 'A metric with a constant \'1\' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.')
      .line(`${inst},${labelText({ id: f.os.id, name: f.os.name, pretty_name: f.os.prettyName, version_id: f.os.version })}`, 1);
    w.family('node_reboot_required', 'gauge', 'Node reboot is required for software updates (1) or not (0).').line(inst, f.rebootRequired ? 1 : 0);
  }

  const wl = n.workloads;
  if (!wl) return;
  let cached = cache.get(n.name);
  if (!cached) {
    cached = {
      unitsVersion: wl.versions.units, units: renderUnits(inst, wl),
      containersVersion: wl.versions.containers, containers: renderContainers(inst, wl),
      processesVersion: wl.versions.processes, groups: renderGroups(inst, wl),
    };
    cache.set(n.name, cached);
  }
  if (cached.unitsVersion !== wl.versions.units) { cached.units = renderUnits(inst, wl); cached.unitsVersion = wl.versions.units; }
  if (cached.containersVersion !== wl.versions.containers) { cached.containers = renderContainers(inst, wl); cached.containersVersion = wl.versions.containers; }
  if (cached.processesVersion !== wl.versions.processes) { cached.groups = renderGroups(inst, wl); cached.processesVersion = wl.versions.processes; }

  const ct = cached.containers;
  w.family('muster_container_info', 'gauge', 'Every container on a node (running or not), labelled with its state; value 1.').raw(ct.info);
  w.family('muster_container_restarts', 'gauge', 'Restart count Docker reports for the container.').raw(ct.restarts);
  const cpu = w.family('container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed in seconds.');
  const memUsage = w.family('container_memory_usage_bytes', 'gauge', 'Current memory usage in bytes, including all memory regardless of when it was accessed.');
  const memWs = w.family('container_memory_working_set_bytes', 'gauge', 'Current working set in bytes.');
  const memLimit = w.family('container_spec_memory_limit_bytes', 'gauge', 'Memory limit for the container.');
  const rx = w.family('container_network_receive_bytes_total', 'counter', 'Cumulative count of bytes received.');
  const tx = w.family('container_network_transmit_bytes_total', 'counter', 'Cumulative count of bytes transmitted.');
  const start = w.family('container_start_time_seconds', 'gauge', 'Start time of the container since unix epoch in seconds.');
  for (const c of wl.containers.values()) {
    const use = wl.use.get(c.id);
    const l = ct.labels.get(c.id);
    if (c.state !== 'running' || !use || !l) continue; // cAdvisor reports running containers only
    cpu.line(l, use.cpuSeconds);
    memUsage.line(l, use.memoryBytes);
    memWs.line(l, use.workingSetBytes);
    memLimit.line(l, use.memoryLimitBytes ?? 0);
    rx.line(`${l},interface="eth0"`, use.rxBytes);
    tx.line(`${l},interface="eth0"`, use.txBytes);
    if (c.startedAt) start.line(l, Math.floor(c.startedAt / 1000));
  }
  const states = w.family('muster_node_containers', 'gauge', 'Containers on the node by Docker state.');
  for (const [state, count] of ct.states) states.line(`${inst},state="${escapeLabel(state)}"`, count);
  w.family('muster_node_containers_failed', 'gauge', 'Containers that exited non-zero by themselves (not stopped by someone).').line(inst, ct.failed);

  w.family('node_systemd_unit_state', 'gauge', 'Systemd unit').raw(cached.units.lines);
  const units = w.family('muster_node_units', 'gauge', 'systemd service units on the node by state (0 where systemd is unavailable).');
  units.line(`${inst},state="active"`, cached.units.active);
  units.line(`${inst},state="failed"`, cached.units.failed);

  w.family('namedprocess_namegroup_num_procs', 'gauge', 'number of processes in this group').raw(cached.groups.procs);
  w.family('namedprocess_namegroup_cpu_seconds_total', 'counter', 'Cpu user and system usage in seconds (muster reports them summed: no mode label)').raw(cached.groups.cpu);
  w.family('namedprocess_namegroup_memory_bytes', 'gauge', 'number of bytes of memory in use').raw(cached.groups.memory);
  w.family('namedprocess_namegroup_oldest_start_time_seconds', 'gauge', 'start time in seconds since 1970/01/01 of oldest process in group').raw(cached.groups.oldest);
}
