/** Fleet: every node at a glance, and the busiest ones. */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { expr, labelVariable, musterDashboard, statPanel, tablePanel, timeseriesPanel } from './common.ts';

const SEL = 'instance=~"$instance"';

/** Builds the Fleet dashboard. */
export function fleetDashboard(): dashboard.DashboardBuilder {
  return musterDashboard('muster-fleet', 'muster / Fleet', 'Every node at a glance: up, CPU, memory, disk, temperature, containers and units, reboots; disk I/O, pressure, temperatures and network errors of the busiest.')
    .withVariable(labelVariable('instance', 'Node', 'muster_node_up', 'instance', { multi: true, includeAll: true }))
    .withRow(new dashboard.RowBuilder('Now'))
    .withPanel(statPanel('Nodes online', 'none', 'sum(muster_nodes{state="online"})', { legend: 'online', span: 6 }))
    .withPanel(statPanel('Nodes offline', 'none', 'sum(muster_nodes{state="offline"})', { legend: 'offline', span: 6, thresholds: [[0, 'green'], [1, 'red']] }))
    .withPanel(statPanel('Containers running', 'none', 'sum(muster_node_containers{state="running"})', { legend: 'running', span: 6 }))
    .withPanel(statPanel('Containers and units failed', 'none', 'sum(muster_node_containers_failed) + sum(muster_node_units{state="failed"})', { legend: 'failed', span: 6, thresholds: [[0, 'green'], [1, 'red']] }))
    .withPanel(tablePanel('Nodes', [
      [`muster_node_up{${SEL}}`, 'Up'],
      [expr.cpuPercent(SEL), 'CPU %'],
      [expr.memoryPercent(SEL), 'Memory %'],
      [expr.diskPercent(SEL), 'Fullest disk %'],
      [expr.temperature(SEL), 'Temperature °C'],
      [`sum by (instance) (muster_node_containers{state="running",${SEL}})`, 'Containers running'],
      [`muster_node_containers_failed{${SEL}} + on (instance) sum by (instance) (muster_node_units{state="failed",${SEL}})`, 'Failed'],
      [`node_reboot_required{${SEL}}`, 'Reboot required'],
    ], 'instance'))
    .withRow(new dashboard.RowBuilder('Busiest nodes'))
    .withPanel(timeseriesPanel('CPU (top 5)', 'percent', [[`topk(5, ${expr.cpuPercent(SEL)})`, '{{instance}}']]))
    .withPanel(timeseriesPanel('Memory (top 5)', 'percent', [[`topk(5, ${expr.memoryPercent(SEL)})`, '{{instance}}']]))
    .withPanel(timeseriesPanel('Load 1m', 'short', [[`node_load1{${SEL}}`, '{{instance}}']]))
    .withPanel(timeseriesPanel('Network received', 'Bps', [[`sum by (instance) (rate(node_network_receive_bytes_total{device!="lo",${SEL}}[$__rate_interval]))`, '{{instance}}']]))
    .withRow(new dashboard.RowBuilder('Disks, pressure, temperatures, network errors'))
    .withPanel(timeseriesPanel('Disk I/O, read + written (top 5)', 'Bps', [[`topk(5, ${expr.diskBytes(SEL)})`, '{{instance}}']]))
    .withPanel(timeseriesPanel('Pressure: time waiting (top 5 each)', 'percentunit', [
      [`topk(5, ${expr.pressure('cpu', SEL)})`, '{{instance}} CPU'],
      [`topk(5, ${expr.pressure('memory', SEL)})`, '{{instance}} memory'],
      [`topk(5, ${expr.pressure('io', SEL)})`, '{{instance}} IO'],
    ]))
    .withPanel(timeseriesPanel('Hottest sensor (top 5)', 'celsius', [[`topk(5, ${expr.hottest(SEL)})`, '{{instance}}']]))
    .withPanel(timeseriesPanel('Network errors and drops (top 5)', 'pps', [[`topk(5, ${expr.networkErrors(SEL)})`, '{{instance}}']]));
}
