/** Node: one node in depth, chosen by the `instance` variable. */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { expr, labelVariable, musterDashboard, statPanel, timeseriesPanel } from './common.ts';

const SEL = 'instance="$instance"';

/** Builds the Node dashboard. */
export function nodeDashboard(): dashboard.DashboardBuilder {
  return musterDashboard('muster-node', 'muster / Node', 'One node in depth: CPU, memory, disks, network, temperature, containers, units and processes.')
    .withVariable(labelVariable('instance', 'Node', 'muster_node_up', 'instance'))
    .withRow(new dashboard.RowBuilder('Overview'))
    .withPanel(statPanel('Up', 'none', `muster_node_up{${SEL}}`, { span: 4, thresholds: [[0, 'red'], [1, 'green']] }))
    .withPanel(statPanel('CPU', 'percent', expr.cpuPercent(SEL), { span: 4 }))
    .withPanel(statPanel('Memory', 'percent', expr.memoryPercent(SEL), { span: 4 }))
    .withPanel(statPanel('Fullest disk', 'percent', expr.diskPercent(SEL), { span: 4, thresholds: [[0, 'green'], [80, 'orange'], [90, 'red']] }))
    .withPanel(statPanel('Temperature', 'celsius', expr.temperature(SEL), { span: 4, nanText: 'no sensor', thresholds: [[0, 'green'], [70, 'orange'], [80, 'red']] }))
    .withPanel(statPanel('Uptime', 's', `time() - node_boot_time_seconds{${SEL}}`, { span: 4 }))
    .withRow(new dashboard.RowBuilder('Resources'))
    .withPanel(timeseriesPanel('CPU by mode', 'percent', [[`100 * sum by (mode) (rate(node_cpu_seconds_total{mode!="idle",${SEL}}[$__rate_interval])) / scalar(count(node_cpu_seconds_total{mode="idle",${SEL}}))`, '{{mode}}']]))
    .withPanel(timeseriesPanel('Load', 'short', [[`node_load1{${SEL}}`, '1m'], [`node_load5{${SEL}}`, '5m'], [`node_load15{${SEL}}`, '15m']]))
    .withPanel(timeseriesPanel('Memory', 'bytes', [
      [`node_memory_MemTotal_bytes{${SEL}} - node_memory_MemAvailable_bytes{${SEL}}`, 'used'],
      [`node_memory_Cached_bytes{${SEL}} + node_memory_Buffers_bytes{${SEL}}`, 'cache and buffers'],
      [`node_memory_SwapTotal_bytes{${SEL}} - node_memory_SwapFree_bytes{${SEL}}`, 'swap used'],
    ]))
    .withPanel(timeseriesPanel('Disk used', 'percent', [[`100 * (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|devtmpfs|overlay|squashfs",${SEL}} / node_filesystem_size_bytes{fstype!~"tmpfs|devtmpfs|overlay|squashfs",${SEL}})`, '{{mountpoint}}']]))
    .withPanel(timeseriesPanel('Network', 'Bps', [
      [`rate(node_network_receive_bytes_total{device!="lo",${SEL}}[$__rate_interval])`, '{{device}} in'],
      [`-rate(node_network_transmit_bytes_total{device!="lo",${SEL}}[$__rate_interval])`, '{{device}} out'],
    ]))
    .withPanel(timeseriesPanel('Temperature', 'celsius', [[expr.temperature(SEL), '{{instance}}']]))
    .withRow(new dashboard.RowBuilder('Workloads'))
    .withPanel(timeseriesPanel('Containers', 'short', [[`sum by (state) (muster_node_containers{${SEL}})`, '{{state}}']]))
    .withPanel(timeseriesPanel('systemd units', 'short', [[`muster_node_units{${SEL}}`, '{{state}}']]))
    .withPanel(timeseriesPanel('Busiest process groups (CPU)', 'percent', [[`topk(8, 100 * rate(namedprocess_namegroup_cpu_seconds_total{${SEL}}[$__rate_interval]))`, '{{groupname}}']]))
    .withPanel(timeseriesPanel('Largest process groups (memory)', 'bytes', [[`topk(8, namedprocess_namegroup_memory_bytes{memtype="resident",${SEL}})`, '{{groupname}}']]));
}
