/** Logs: a Loki logs panel by instance and service. */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { datasourceVariable, labelVariable, logsPanel, musterDashboard } from './common.ts';

/** Builds the Logs dashboard. */
export function logsDashboard(): dashboard.DashboardBuilder {
  return musterDashboard('muster-logs', 'muster / Logs', 'Logs of every node and service, from Loki (labels instance, service_name, container, unit, level).')
    .withVariable(datasourceVariable('loki', 'Loki', 'loki'))
    .withVariable(labelVariable('instance', 'Node', 'muster_node_up', 'instance', { multi: true, includeAll: true }))
    .withVariable(labelVariable('service', 'Service', 'muster_service_instances', 'service', { multi: true, includeAll: true }))
    .withVariable(new dashboard.TextBoxVariableBuilder('search').label('Search'))
    .withPanel(logsPanel('Logs', '{instance=~"$instance", service_name=~"$service"} |= "$search"'));
}
