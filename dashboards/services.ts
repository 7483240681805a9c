/** Services: instances per service, where they run, their state, restarts and container use. */
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { labelVariable, musterDashboard, statPanel, tablePanel, timeseriesPanel } from './common.ts';

const SEL = 'service=~"$service"';

/** Builds the Services dashboard. */
export function servicesDashboard(): dashboard.DashboardBuilder {
  return musterDashboard('muster-services', 'muster / Services', 'Every service: how many instances are healthy, where they run, restarts, and container CPU and memory.')
    .withVariable(labelVariable('service', 'Service', 'muster_service_instances', 'service', { multi: true, includeAll: true }))
    .withPanel(statPanel('Healthy instances', 'none', `sum(muster_service_instances{state="healthy",${SEL}})`, { legend: 'healthy', span: 12 }))
    .withPanel(statPanel('Unhealthy instances', 'none', `sum(muster_service_instances{state="unhealthy",${SEL}})`, { legend: 'unhealthy', span: 12, thresholds: [[0, 'green'], [1, 'red']] }))
    .withPanel(tablePanel('Instances', [
      [`muster_service_instance_info{${SEL}}`, 'Healthy'],
    ], 'service'))
    .withPanel(timeseriesPanel('Healthy instances per service', 'short', [[`sum by (service) (muster_service_instances{state="healthy",${SEL}})`, '{{service}}']]))
    .withPanel(timeseriesPanel('Container restarts', 'short', [[`sum by (service, instance) (muster_container_restarts{${SEL}})`, '{{service}} on {{instance}}']]))
    .withPanel(timeseriesPanel('Container CPU', 'percent', [[`100 * sum by (name, instance) (rate(container_cpu_usage_seconds_total{name=~".+"}[$__rate_interval]) * on (instance, name) group_left (service) max by (instance, name, service) (muster_container_info{state="running",${SEL}}))`, '{{name}} on {{instance}}']]))
    .withPanel(timeseriesPanel('Container memory (working set)', 'bytes', [[`sum by (name, instance) (container_memory_working_set_bytes{name=~".+"} * on (instance, name) group_left (service) max by (instance, name, service) (muster_container_info{state="running",${SEL}}))`, '{{name}} on {{instance}}']]));
}
