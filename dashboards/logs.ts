/** Logs: how many lines by level, and the lines, by node, service and level, from Loki. */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, labelVariable, logsPanel, logVolumePanel, musterDashboard } from './common.ts';

/** The levels the hub labels lines with (protocol/logs.ts LogLevel), most severe first. */
const LEVELS = ['critical', 'error', 'warn', 'info', 'debug', 'trace'];

/** The stream selector every panel shares: the variables over the labels the hub sends (hub/logs/labels.ts). */
const SELECTOR = '{instance=~"$instance", service_name=~"$service", level=~"$level"}';

/** Builds the Logs dashboard. */
export function logsDashboard(): dashboard.DashboardBuilder {
  return musterDashboard('muster-logs', 'muster / Logs', 'Logs of every node and service, from Loki (labels instance, job, service_name, container, unit, level).')
    .withVariable(datasourceVariable('loki', 'Loki', 'loki'))
    .withVariable(labelVariable('instance', 'Node', 'muster_node_up', 'instance', { multi: true, includeAll: true }))
    .withVariable(labelVariable('service', 'Service', 'muster_service_instances', 'service', { multi: true, includeAll: true }))
    // "All" is .*, which also matches lines of no level (the label is absent when neither line nor priority says one).
    .withVariable(new dashboard.CustomVariableBuilder('level').label('Level').values(LEVELS.join(',')).multi(true).includeAll(true).allValue('.*'))
    .withVariable(new dashboard.TextBoxVariableBuilder('search').label('Search'))
    .withPanel(logVolumePanel('Lines by level', `sum by (level) (count_over_time(${SELECTOR} |= "$search" [$__interval]))`, '{{level}}'))
    .withPanel(logsPanel('Logs', `${SELECTOR} |= "$search"`));
}
