/**
 * One node's series, in the names the stock dashboards expect: host metrics
 * as node_exporter writes them, containers as cAdvisor does, systemd units
 * as node_exporter's systemd collector, process groups as process-exporter;
 * plus muster_* gauges for what those exporters have no name for (container
 * state, counts per state). Every series carries `instance="<node>"`. No
 * PIDs or other unbounded values become labels.
 */
import type { HostFacts, SampleData } from '../../protocol/index.ts';
import type { NodeWorkloads } from '../inventory.ts';
import { containerServiceName, processServiceName } from '../services.ts';
import { containerLabelName, type ExpositionWriter } from './exposition.ts';

/** What one node contributes to /metrics. */
export interface NodeMetricsInput {
  name: string;
  facts: HostFacts | null;
  sample: SampleData | undefined;
  workloads: NodeWorkloads | undefined;
}

const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
const UNIT_STATES = ['activating', 'active', 'deactivating', 'failed', 'inactive'] as const;
/** At most this many Docker labels per container become container_label_* (cAdvisor exports all; a runaway compose file should not). */
const MAX_CONTAINER_LABELS = 32;

/** Writes the series of one node. */
export function writeNodeSeries(w: ExpositionWriter, n: NodeMetricsInput): void {
  const instance = n.name;
  const s = n.sample;
  if (s) {
    for (const c of s.cpu) {
      const cpu = c.cpu.replace(/^cpu/, '');
      for (const mode of CPU_MODES) w.add('node_cpu_seconds_total', 'counter', 'Seconds the CPUs spent in each mode.', { instance, cpu, mode }, c[mode]);
    }
    w.add('node_load1', 'gauge', '1m load average.', { instance }, s.load[0]);
    w.add('node_load5', 'gauge', '5m load average.', { instance }, s.load[1]);
    w.add('node_load15', 'gauge', '15m load average.', { instance }, s.load[2]);
    const m = s.memory;
    const mem: [string, number][] = [
      ['MemTotal', m.totalBytes], ['MemAvailable', m.availableBytes], ['MemFree', m.freeBytes], ['Buffers', m.buffersBytes],
      ['Cached', m.cachedBytes], ['SwapTotal', m.swapTotalBytes], ['SwapFree', m.swapFreeBytes],
    ];
    for (const [field, v] of mem) w.add(`node_memory_${field}_bytes`, 'gauge', `Memory information field ${field}_bytes.`, { instance }, v);
    for (const f of s.filesystems) {
      const l = { instance, device: f.device, fstype: f.fstype, mountpoint: f.mountpoint };
      w.add('node_filesystem_size_bytes', 'gauge', 'Filesystem size in bytes.', l, f.sizeBytes);
      w.add('node_filesystem_free_bytes', 'gauge', 'Filesystem free space in bytes.', l, f.freeBytes);
      w.add('node_filesystem_avail_bytes', 'gauge', 'Filesystem space available to non-root users in bytes.', l, f.availBytes);
      w.add('node_filesystem_files', 'gauge', 'Filesystem total file nodes.', l, f.files);
      w.add('node_filesystem_files_free', 'gauge', 'Filesystem total free file nodes.', l, f.filesFree);
    }
    for (const i of s.network) {
      const l = { instance, device: i.iface };
      w.add('node_network_receive_bytes_total', 'counter', 'Network device statistic receive_bytes.', l, i.rxBytes);
      w.add('node_network_transmit_bytes_total', 'counter', 'Network device statistic transmit_bytes.', l, i.txBytes);
      w.add('node_network_receive_packets_total', 'counter', 'Network device statistic receive_packets.', l, i.rxPackets);
      w.add('node_network_transmit_packets_total', 'counter', 'Network device statistic transmit_packets.', l, i.txPackets);
      w.add('node_network_receive_errs_total', 'counter', 'Network device statistic receive_errs.', l, i.rxErrors);
      w.add('node_network_transmit_errs_total', 'counter', 'Network device statistic transmit_errs.', l, i.txErrors);
      w.add('node_network_receive_drop_total', 'counter', 'Network device statistic receive_drop.', l, i.rxDropped);
      w.add('node_network_transmit_drop_total', 'counter', 'Network device statistic transmit_drop.', l, i.txDropped);
    }
    for (const t of s.temperatures) {
      const [source, a = '', b = ''] = t.sensor.split('/');
      if (source === 'hwmon') w.add('node_hwmon_temp_celsius', 'gauge', 'Hardware monitor for temperature (input).', { instance, chip: a, sensor: b }, t.celsius);
      else w.add('node_thermal_zone_temp', 'gauge', 'Zone temperature in Celsius.', { instance, type: a, zone: b }, t.celsius);
    }
  }
  const f = n.facts;
  if (f) {
    w.add('node_boot_time_seconds', 'gauge', 'Node boot time, in unixtime.', { instance }, f.bootTime);
    w.add('node_uname_info', 'gauge', 'Labeled system information as provided by the uname system call.',
      { instance, sysname: 'Linux', release: f.kernel, machine: f.platform, nodename: f.hostname }, 1);
    w.add('node_os_info', 'gauge', 'A metric with a constant \'1\' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.',
      { instance, id: f.os.id, name: f.os.name, pretty_name: f.os.prettyName, version_id: f.os.version }, 1);
    w.add('node_reboot_required', 'gauge', 'Node reboot is required for software updates (1) or not (0).', { instance }, f.rebootRequired ? 1 : 0);
  }

  const wl = n.workloads;
  if (!wl) return;
  const containerStates = new Map<string, number>([['running', 0], ['exited', 0], ['restarting', 0]]);
  let failedContainers = 0;
  for (const c of wl.containers.values()) {
    containerStates.set(c.state, (containerStates.get(c.state) ?? 0) + 1);
    if (c.state !== 'running' && (c.exitCode ?? 0) !== 0 && !c.stopRequested) failedContainers++;
    const service = containerServiceName(c);
    w.add('muster_container_info', 'gauge', 'Every container on a node (running or not), labelled with its state; value 1.',
      { instance, name: c.name, image: c.image, state: c.state, health: c.health, service, compose_project: c.composeProject ?? '' }, 1);
    w.add('muster_container_restarts', 'gauge', 'Restart count Docker reports for the container.', { instance, name: c.name, service }, c.restartCount);
    const use = wl.use.get(c.id);
    if (c.state !== 'running' || !use) continue; // cAdvisor reports running containers only
    const l: Record<string, string> = { instance, id: `/docker/${c.id}`, name: c.name, image: c.image };
    let extra = 0;
    for (const [k, v] of Object.entries(c.labels)) {
      if (extra++ >= MAX_CONTAINER_LABELS) break;
      l[containerLabelName(k)] = v;
    }
    w.add('container_cpu_usage_seconds_total', 'counter', 'Cumulative cpu time consumed in seconds.', l, use.cpuSeconds);
    w.add('container_memory_usage_bytes', 'gauge', 'Current memory usage in bytes, including all memory regardless of when it was accessed.', l, use.memoryBytes);
    w.add('container_memory_working_set_bytes', 'gauge', 'Current working set in bytes.', l, use.workingSetBytes);
    w.add('container_spec_memory_limit_bytes', 'gauge', 'Memory limit for the container.', l, use.memoryLimitBytes ?? 0);
    w.add('container_network_receive_bytes_total', 'counter', 'Cumulative count of bytes received.', { ...l, interface: 'eth0' }, use.rxBytes);
    w.add('container_network_transmit_bytes_total', 'counter', 'Cumulative count of bytes transmitted.', { ...l, interface: 'eth0' }, use.txBytes);
    if (c.startedAt) w.add('container_start_time_seconds', 'gauge', 'Start time of the container since unix epoch in seconds.', l, Math.floor(c.startedAt / 1000));
  }
  for (const [state, count] of containerStates) w.add('muster_node_containers', 'gauge', 'Containers on the node by Docker state.', { instance, state }, count);
  w.add('muster_node_containers_failed', 'gauge', 'Containers that exited non-zero by themselves (not stopped by someone).', { instance }, failedContainers);

  let activeUnits = 0;
  let failedUnits = 0;
  for (const u of wl.units.values()) {
    if (!u.name.endsWith('.service')) continue;
    if (u.activeState === 'active') activeUnits++;
    if (u.activeState === 'failed') failedUnits++;
    for (const state of UNIT_STATES) {
      w.add('node_systemd_unit_state', 'gauge', 'Systemd unit', { instance, name: u.name, state, type: 'simple' }, u.activeState === state ? 1 : 0);
    }
  }
  w.add('muster_node_units', 'gauge', 'systemd service units on the node by state (0 where systemd is unavailable).', { instance, state: 'active' }, activeUnits);
  w.add('muster_node_units', 'gauge', 'systemd service units on the node by state (0 where systemd is unavailable).', { instance, state: 'failed' }, failedUnits);

  // process-exporter groups by a name; ours is the service name a bare process would get.
  const groups = new Map<string, { procs: number; cpu: number; rss: number; oldest: number }>();
  for (const p of wl.processes.values()) {
    const name = processServiceName(p);
    const g = groups.get(name) ?? { procs: 0, cpu: 0, rss: 0, oldest: Infinity };
    g.procs++;
    g.cpu += p.cpuSeconds;
    g.rss += p.rssBytes;
    g.oldest = Math.min(g.oldest, p.startTime);
    groups.set(name, g);
  }
  for (const [groupname, g] of groups) {
    const l = { instance, groupname };
    w.add('namedprocess_namegroup_num_procs', 'gauge', 'number of processes in this group', l, g.procs);
    w.add('namedprocess_namegroup_cpu_seconds_total', 'counter', 'Cpu user and system usage in seconds (muster reports them summed: no mode label)', l, Math.round(g.cpu * 100) / 100);
    w.add('namedprocess_namegroup_memory_bytes', 'gauge', 'number of bytes of memory in use', { ...l, memtype: 'resident' }, g.rss);
    w.add('namedprocess_namegroup_oldest_start_time_seconds', 'gauge', 'start time in seconds since 1970/01/01 of oldest process in group', l, g.oldest);
  }
}
