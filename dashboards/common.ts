/**
 * Shared pieces of muster's dashboards: datasource variables, the instance and
 * service variables, and panel factories that take a PromQL expression. Every
 * dashboard file builds from these, so queries and looks stay consistent.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as loki from '@grafana/grafana-foundation-sdk/loki';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import * as logs from '@grafana/grafana-foundation-sdk/logs';

/** The Prometheus datasource, chosen by the `datasource` variable. */
export const PROMETHEUS: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
/** The Loki datasource, chosen by the `loki` variable. */
export const LOKI: common.DataSourceRef = { type: 'loki', uid: '${loki}' };

/** A `datasource` variable of the given plugin type. */
export function datasourceVariable(name: string, label: string, type: 'prometheus' | 'loki'): dashboard.DatasourceVariableBuilder {
  return new dashboard.DatasourceVariableBuilder(name).label(label).type(type);
}

/** A Prometheus query variable over the values of one label. */
export function labelVariable(name: string, label: string, metric: string, labelName: string, opts: { multi?: boolean; includeAll?: boolean } = {}): dashboard.QueryVariableBuilder {
  const v = new dashboard.QueryVariableBuilder(name)
    .label(label)
    .datasource(PROMETHEUS)
    .query(`label_values(${metric}, ${labelName})`)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
  if (opts.multi) v.multi(true);
  if (opts.includeAll) v.includeAll(true).allValue('.+');
  return v;
}

/** A PromQL target. */
export function promQuery(expr: string, legend = '', refId = 'A'): prometheus.DataqueryBuilder {
  return new prometheus.DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId);
}

/** A LogQL target. */
export function lokiQuery(expr: string, refId = 'A'): loki.DataqueryBuilder {
  return new loki.DataqueryBuilder().expr(expr).refId(refId);
}

/** A time series panel of one or more PromQL expressions. */
export function timeseriesPanel(title: string, unit: string, queries: [expr: string, legend: string][]): timeseries.PanelBuilder {
  const p = new timeseries.PanelBuilder().title(title).datasource(PROMETHEUS).unit(unit).lineWidth(1).fillOpacity(10).height(8).span(12);
  queries.forEach(([expr, legend], i) => p.withTarget(promQuery(expr, legend, String.fromCharCode(65 + i))));
  return p;
}

/** A single-value panel; `noSensor` maps NaN to a word (for sensors a node does not have). */
export function statPanel(title: string, unit: string, expr: string, opts: { legend?: string; thresholds?: [number, string][]; nanText?: string; span?: number } = {}): stat.PanelBuilder {
  const p = new stat.PanelBuilder().title(title).datasource(PROMETHEUS).unit(unit).height(4).span(opts.span ?? 4)
    .withTarget(promQuery(expr, opts.legend ?? '{{instance}}'))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
  if (opts.thresholds) {
    p.thresholds(new dashboard.ThresholdsConfigBuilder().mode(dashboard.ThresholdsMode.Absolute)
      .steps(opts.thresholds.map(([value, color], i) => ({ value: i === 0 ? null : value, color }))));
  }
  if (opts.nanText) {
    p.mappings([{ type: dashboard.MappingType.SpecialValue, options: { match: dashboard.SpecialValueMatch.NotANumber, result: { text: opts.nanText } } }]);
  }
  return p;
}

/** A table of instant PromQL results, one column per query, joined on the given label. */
export function tablePanel(title: string, queries: [expr: string, column: string][], joinOn: string): table.PanelBuilder {
  const p = new table.PanelBuilder().title(title).datasource(PROMETHEUS).height(10).span(24);
  queries.forEach(([expr, column], i) => p.withTarget(promQuery(expr, column, String.fromCharCode(65 + i)).instant().format(prometheus.PromQueryFormat.Table)));
  p.withTransformation({ id: 'joinByField', options: { byField: joinOn, mode: 'outer' } });
  p.withTransformation({ id: 'organize', options: { excludeByName: { Time: true, 'Time 1': true, 'Time 2': true, 'Time 3': true, 'Time 4': true, 'Time 5': true, 'Time 6': true, 'Time 7': true, 'Time 8': true },
    renameByName: Object.fromEntries(queries.map(([, column], i) => [`Value #${String.fromCharCode(65 + i)}`, column])) } });
  return p;
}

/** A stacked bar chart of one LogQL metric query (log volume), by its legend. */
export function logVolumePanel(title: string, expr: string, legend: string): timeseries.PanelBuilder {
  return new timeseries.PanelBuilder().title(title).datasource(LOKI).unit('short').height(6).span(24)
    .withTarget(lokiQuery(expr).legendFormat(legend))
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .drawStyle(common.GraphDrawStyle.Bars).fillOpacity(80).lineWidth(1)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
}

/** A Loki logs panel. */
export function logsPanel(title: string, expr: string): logs.PanelBuilder {
  return new logs.PanelBuilder().title(title).datasource(LOKI).withTarget(lokiQuery(expr)).height(20).span(24)
    .showTime(true).wrapLogMessage(true).enableLogDetails(true).sortOrder(common.LogsSortOrder.Descending);
}

/** A dashboard with muster's defaults: tags, refresh, time range, the datasource variable. */
export function musterDashboard(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['muster'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(datasourceVariable('datasource', 'Prometheus', 'prometheus'));
}

/** Expressions shared by several dashboards. `sel` is a label selector body such as instance=~"$instance". */
export const expr = {
  cpuPercent: (sel: string) => `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle",${sel}}[$__rate_interval])))`,
  memoryPercent: (sel: string) => `100 * (1 - node_memory_MemAvailable_bytes{${sel}} / node_memory_MemTotal_bytes{${sel}})`,
  diskPercent: (sel: string) => `100 * max by (instance) (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|devtmpfs|overlay|squashfs",${sel}} / node_filesystem_size_bytes{fstype!~"tmpfs|devtmpfs|overlay|squashfs",${sel}})`,
  /** Bytes read and written per second, all disks of each node together. */
  diskBytes: (sel: string) => `sum by (instance) (rate(node_disk_read_bytes_total{${sel}}[$__rate_interval]) + rate(node_disk_written_bytes_total{${sel}}[$__rate_interval]))`,
  /** Share of time some task waited for `resource` (cpu, memory, io): pressure stall information. */
  pressure: (resource: 'cpu' | 'memory' | 'io', sel: string) => `rate(node_pressure_${resource}_waiting_seconds_total{${sel}}[$__rate_interval])`,
  /** Receive and transmit errors and drops per second, all interfaces of each node together. */
  // One rate() per name: rate() over several names drops __name__ and leaves series Prometheus cannot tell apart.
  networkErrors: (sel: string) => ['receive_errs', 'transmit_errs', 'receive_drop', 'transmit_drop']
    .map((m) => `sum by (instance) (rate(node_network_${m}_total{${sel}}[$__rate_interval]))`).join(' + '),
  /** Hottest sensor per node, for nodes that have one. */
  hottest: (sel: string) => `max by (instance) ({__name__=~"node_hwmon_temp_celsius|node_thermal_zone_temp",${sel}})`,
  /** Hottest sensor per node; NaN (shown as "no sensor") for nodes without one. */
  temperature: (sel: string) => `max by (instance) ({__name__=~"node_hwmon_temp_celsius|node_thermal_zone_temp",${sel}}) or on (instance) (muster_node_up{${sel}} * NaN)`,
};
