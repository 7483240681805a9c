/**
 * The labels a log line is pushed to Loki under, as DESIGN.md names them:
 * `instance` (the node), `job`, `service_name`, `container` or `unit`, and
 * `level` when known; everything of high cardinality (container id, image,
 * PID, stdout/stderr) goes to structured metadata instead. The service name
 * is the one `muster services` shows (hub/services.ts).
 */
import type { LogSource } from '../../protocol/logs.ts';
import { containerServiceName, SERVICE_LABEL, unitServiceName } from '../services.ts';

/** Every label name the hub sends to Loki; the Logs dashboard may query no other (test/dashboards checks it). */
export const LOKI_LABELS = Object.freeze(['instance', 'job', 'service_name', 'container', 'unit', 'level'] as const);

/** The `job` of each kind of source, as promtail's examples name them. */
export const LOKI_JOBS = Object.freeze({ docker: 'docker', journal: 'systemd-journal' });

/** The service a log source belongs to. */
export function sourceService(src: LogSource): string {
  if (src.kind === 'docker') {
    return containerServiceName({ labels: src.service ? { [SERVICE_LABEL]: src.service } : {}, ...(src.compose ? { composeService: src.compose } : {}), name: src.name });
  }
  return src.unit ? unitServiceName(src.unit) : src.name;
}

/** The Loki labels of a source's lines at one level, sorted by name. */
export function lokiLabels(node: string, src: LogSource, level: string | undefined): [string, string][] {
  const out: [string, string][] = [
    ['instance', node],
    ['job', LOKI_JOBS[src.kind]],
    ['service_name', sourceService(src)],
  ];
  if (src.kind === 'docker') out.push(['container', src.name]);
  else if (src.unit) out.push(['unit', src.unit]);
  if (level) out.push(['level', level]);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** A label value in Prometheus' quoted form. */
function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** `{a="x", b="y"}`, the labels string of Loki's protobuf push. */
export function labelString(labels: readonly [string, string][]): string {
  return `{${labels.map(([k, v]) => `${k}=${quote(v)}`).join(', ')}}`;
}
