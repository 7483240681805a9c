/**
 * A fast writer of the Prometheus text exposition format, for the per-node
 * series (host, containers, units, process groups) that make up almost all of
 * /metrics. A fleet of 1,000 nodes is ~300,000 series per scrape; building
 * them as prom-client label sets and then serializing costs several times
 * more than writing the text once (bench/metrics-render.ts measures it). The
 * hub's own metrics still live in a prom-client Registry.
 */

/** Label names and values, in output order. */
export type Labels = Record<string, string>;

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

/** Formats a sample value the way Prometheus parses it (NaN, +Inf, -Inf). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** A metric family: its series are collected from every node, then written under one HELP/TYPE header. */
export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  lines: string[];
}

/** Collects families in first-seen order and writes them out. */
export interface ExpositionWriter {
  /** Adds one sample of `name`; the family is declared on first use. */
  add(name: string, type: 'counter' | 'gauge', help: string, labels: Labels, value: number): void;
  /** The whole text, every family once. */
  text(): string;
}

/** Creates an empty writer. */
export function createExpositionWriter(): ExpositionWriter {
  const families = new Map<string, Family>();
  return {
    add(name, type, help, labels, value) {
      let f = families.get(name);
      if (!f) families.set(name, (f = { name, help, type, lines: [] }));
      let l = '';
      for (const k in labels) l += `${l ? ',' : ''}${k}="${escapeLabel(labels[k]!)}"`;
      f.lines.push(`${name}{${l}} ${formatValue(value)}`);
    },
    text() {
      let out = '';
      for (const f of families.values()) {
        out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.type}\n${f.lines.join('\n')}\n`;
      }
      return out;
    },
  };
}

/** Turns a Docker label key into a Prometheus label name the way cAdvisor does: `container_label_` + [a-zA-Z0-9_]. */
export function containerLabelName(key: string): string {
  return `container_label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}
