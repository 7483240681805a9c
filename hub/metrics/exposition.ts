/**
 * A fast writer of the Prometheus text exposition format, for the per-node
 * series (host, containers, units, process groups) that make up almost all of
 * /metrics. A fleet of 1,000 nodes is several hundred thousand series per
 * scrape; building them as prom-client label sets and then serializing costs
 * several times more than writing the text once, so label sets are rendered
 * to text once (per node, per container) and reused across families
 * (bench/metrics-render.ts measures it). The hub's own metrics still live in
 * a prom-client Registry.
 */

/** Label names and values, in output order. */
export type Labels = Record<string, string>;

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

/** Renders a label set once: `a="1",b="2"` (no braces), for reuse across series. */
export function labelText(labels: Labels): string {
  let l = '';
  for (const k in labels) l += `${l ? ',' : ''}${k}="${escapeLabel(labels[k]!)}"`;
  return l;
}

/** Formats a sample value the way Prometheus parses it (NaN, +Inf, -Inf). */
export function formatValue(v: number): string {
  if (v !== v) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One metric family being written: its series go under one HELP/TYPE header. */
export interface FamilyWriter {
  /** Adds a series whose labels were rendered with labelText (or by hand). */
  line(labels: string, value: number): void;
  /** Adds a block of lines rendered earlier (cached text, newline-terminated). */
  raw(text: string): void;
}

/** Collects families in first-seen order and writes them out. */
export interface ExpositionWriter {
  /** The family `name`, declared on first use. */
  family(name: string, type: 'counter' | 'gauge', help: string): FamilyWriter;
  /** Adds one sample with a label object (for the occasional series; hot paths use family().line()). */
  add(name: string, type: 'counter' | 'gauge', help: string, labels: Labels, value: number): void;
  /** The whole text, every family once. */
  text(): string;
  /** The same, encoded as UTF-8 straight into a buffer: for a large fleet, far cheaper than one huge string. */
  buffer(): Buffer;
}

/** Creates an empty writer. */
export function createExpositionWriter(): ExpositionWriter {
  const families = new Map<string, { header: string; chunks: string[]; writer: FamilyWriter }>();
  const family = (name: string, type: 'counter' | 'gauge', help: string): FamilyWriter => {
    let f = families.get(name);
    if (!f) {
      const chunks: string[] = [];
      const prefix = `${name}{`;
      f = {
        header: `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`,
        chunks,
        writer: {
          line: (labels, value) => { chunks.push(`${prefix}${labels}} ${formatValue(value)}\n`); },
          raw: (text) => { if (text) chunks.push(text); },
        },
      };
      families.set(name, f);
    }
    return f.writer;
  };
  return {
    family,
    add(name, type, help, labels, value) {
      family(name, type, help).line(labelText(labels), value);
    },
    text() {
      return this.buffer().toString('utf8');
    },
    buffer() {
      // Joining hundreds of thousands of small strings into one costs more than all the rest of a
      // render (V8 flattens the rope); writing each into a growing buffer does not.
      let buf = Buffer.allocUnsafe(1 << 20);
      let at = 0;
      const put = (s: string) => {
        if (at + s.length * 3 > buf.length) {
          const bigger = Buffer.allocUnsafe(Math.max(buf.length * 2, at + s.length * 3));
          buf.copy(bigger, 0, 0, at);
          buf = bigger;
        }
        at += buf.write(s, at);
      };
      for (const f of families.values()) {
        if (f.chunks.length === 0) continue;
        put(f.header);
        // Small joins keep both the rope flattening and the number of writes low.
        for (let i = 0; i < f.chunks.length; i += 256) put(f.chunks.slice(i, i + 256).join(''));
      }
      return buf.subarray(0, at);
    },
  };
}

/** Turns a Docker label key into a Prometheus label name the way cAdvisor does: `container_label_` + [a-zA-Z0-9_]. */
export function containerLabelName(key: string): string {
  return `container_label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}
