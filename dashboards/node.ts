/** Node: one node in depth, chosen by the `instance` variable. */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { expr, labelVariable, musterDashboard, statPanel, timeseriesPanel } from './common.ts';

const SEL = 'instance="$instance"';

/** Builds the Node dashboard. */
export function nodeDashboard(): dashboard.DashboardBuilder {
  return musterDashboard('muster-node', 'muster / Node', 'One node in depth: CPU, memory, disks and disk I/O, network and its errors, pressure, temperatures, containers, units and processes.')
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
    .withRow(new dashboard.RowBuilder('Disks, pressure, sensors, network errors'))
    .withPanel(timeseriesPanel('Disk I/O', 'Bps', [
      [`rate(node_disk_read_bytes_total{${SEL}}[$__rate_interval])`, '{{device}} read'],
      [`-rate(node_disk_written_bytes_total{${SEL}}[$__rate_interval])`, '{{device}} written'],
    ]))
    .withPanel(timeseriesPanel('Disk busy', 'percentunit', [[`rate(node_disk_io_time_seconds_total{${SEL}}[$__rate_interval])`, '{{device}}']]))
    .withPanel(timeseriesPanel('Pressure: time waiting (some) and stalled (full)', 'percentunit', [
      [expr.pressure('cpu', SEL), 'CPU, some waiting'],
      [expr.pressure('memory', SEL), 'memory, some waiting'],
      [`rate(node_pressure_memory_stalled_seconds_total{${SEL}}[$__rate_interval])`, 'memory, all stalled'],
      [expr.pressure('io', SEL), 'IO, some waiting'],
      [`rate(node_pressure_io_stalled_seconds_total{${SEL}}[$__rate_interval])`, 'IO, all stalled'],
    ]))
    .withPanel(timeseriesPanel('Temperatures', 'celsius', [
      [`node_hwmon_temp_celsius{${SEL}}`, '{{chip}} {{sensor}}'],
      [`node_thermal_zone_temp{${SEL}}`, 'zone {{zone}} ({{type}})'],
    ]))
    .withPanel(timeseriesPanel('Network errors and drops', 'pps', [
      [`rate(node_network_receive_errs_total{${SEL}}[$__rate_interval])`, '{{device}} receive errors'],
      [`rate(node_network_transmit_errs_total{${SEL}}[$__rate_interval])`, '{{device}} transmit errors'],
      [`rate(node_network_receive_drop_total{${SEL}}[$__rate_interval])`, '{{device}} receive drops'],
      [`rate(node_network_transmit_drop_total{${SEL}}[$__rate_interval])`, '{{device}} transmit drops'],
    ]))
    .withRow(new dashboard.RowBuilder('Workloads'))
    .withPanel(timeseriesPanel('Containers', 'short', [[`sum by (state) (muster_node_containers{${SEL}})`, '{{state}}']]))
    .withPanel(timeseriesPanel('systemd units', 'short', [[`muster_node_units{${SEL}}`, '{{state}}']]))
    // process-exporter splits CPU by mode (user, system): a group's is their sum.
    .withPanel(timeseriesPanel('Busiest process groups (CPU)', 'percent', [[`topk(8, 100 * sum by (instance, groupname) (rate(namedprocess_namegroup_cpu_seconds_total{${SEL}}[$__rate_interval])))`, '{{groupname}}']]))
    .withPanel(timeseriesPanel('Largest process groups (memory)', 'bytes', [[`topk(8, namedprocess_namegroup_memory_bytes{memtype="resident",${SEL}})`, '{{groupname}}']]));
}
