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

/** The TYPE of a family: what the hub derives is a counter or a gauge; textfile metrics without a TYPE line are untyped. */
export type FamilyType = 'counter' | 'gauge' | 'untyped';

/** Escapes HELP text: backslash and newline (help from agents may hold either). */
export function escapeHelp(v: string): string {
  return /[\\\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n') : v;
}

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
  /** Adds a block of lines rendered earlier (cached text or its UTF-8 bytes, newline-terminated). */
  raw(text: string | Buffer): void;
}

/** Where families are written: an exposition writer, a per-node collector, or a filter in front of one. */
export interface FamilySink {
  family(name: string, type: FamilyType, help: string): FamilyWriter;
}

/** Collects families in first-seen order and writes them out. */
export interface ExpositionWriter {
  /** The family `name`, declared on first use. */
  family(name: string, type: FamilyType, help: string): FamilyWriter;
  /** Adds one sample with a label object (for the occasional series; hot paths use family().line()). */
  add(name: string, type: FamilyType, help: string, labels: Labels, value: number): void;
  /** The whole text, every family once. */
  text(): string;
  /** The same, encoded as UTF-8: for a large fleet, far cheaper than one huge string. */
  buffer(): Buffer;
  /** The same as a list of buffers, for a caller that joins them with more (one copy instead of two). */
  buffers(): Buffer[];
}

/** Creates an empty writer. */
export function createExpositionWriter(): ExpositionWriter {
  const families = new Map<string, { header: string; chunks: (string | Buffer)[]; writer: FamilyWriter }>();
  const family = (name: string, type: FamilyType, help: string): FamilyWriter => {
    let f = families.get(name);
    if (!f) {
      const chunks: (string | Buffer)[] = [];
      const prefix = `${name}{`;
      f = {
        header: `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`,
        chunks,
        writer: {
          line: (labels, value) => { chunks.push(`${prefix}${labels}} ${formatValue(value)}\n`); },
          raw: (text) => { if (text.length) chunks.push(text); },
        },
      };
      families.set(name, f);
    }
    return f.writer;
  };
  const buffers = (): Buffer[] => {
    // Text rendered now is joined in small runs and encoded once; bytes cached per node
    // (createFamilyCollector) go in as they are, so a scrape of a large fleet is mostly copying.
    const out: Buffer[] = [];
    let run: string[] = [];
    const flush = () => {
      if (run.length) out.push(Buffer.from(run.join(''), 'utf8'));
      run = [];
    };
    for (const f of families.values()) {
      if (f.chunks.length === 0) continue;
      run.push(f.header);
      for (const c of f.chunks) {
        if (typeof c === 'string') {
          run.push(c);
          if (run.length >= 256) flush();
        } else {
          flush();
          out.push(c);
        }
      }
    }
    flush();
    return out;
  };
  return {
    buffers,
    family,
    add(name, type, help, labels, value) {
      family(name, type, help).line(labelText(labels), value);
    },
    text() {
      return this.buffer().toString('utf8');
    },
    buffer() {
      return Buffer.concat(buffers());
    },
  };
}

/** One family's lines from one source (a node), as UTF-8, with what its header needs. */
export interface FamilyText {
  name: string;
  type: FamilyType;
  help: string;
  bytes: Buffer;
}

/** Collects families as text, to be kept and later added to a writer with `raw` (per-node caching). */
export interface FamilyCollector {
  family(name: string, type: FamilyType, help: string): FamilyWriter;
  /** What was collected, families in first-use order. */
  entries(): FamilyText[];
}

/** Creates an empty collector. */
export function createFamilyCollector(): FamilyCollector {
  type Entry = { name: string; type: FamilyType; help: string; parts: (string | Buffer)[]; writer: FamilyWriter };
  const families = new Map<string, Entry>();
  return {
    family(name, type, help) {
      let f = families.get(name);
      if (!f) {
        const prefix = `${name}{`;
        const parts: (string | Buffer)[] = [];
        f = {
          name, type, help, parts,
          writer: {
            line: (labels, value) => { parts.push(`${prefix}${labels}} ${formatValue(value)}\n`); },
            raw: (text) => { if (text.length) parts.push(text); },
          },
        };
        families.set(name, f);
      }
      return f.writer;
    },
    entries: () => [...families.values()].filter((f) => f.parts.length).map(({ name, type, help, parts }) => ({
      name, type, help,
      bytes: parts.length === 1 && Buffer.isBuffer(parts[0]) ? parts[0] : Buffer.from(parts.map((p) => (typeof p === 'string' ? p : p.toString('utf8'))).join(''), 'utf8'),
    })),
  };
}

/** Turns a Docker label key into a Prometheus label name the way cAdvisor does: `container_label_` + [a-zA-Z0-9_]. */
export function containerLabelName(key: string): string {
  return `container_label_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** Writes families one after another into one buffer: for one node's exposition, whose families each come whole. */
export interface SequentialWriter extends FamilySink {
  /** Adds one sample with a label object, as its own family unless it continues the family just written. */
  add(name: string, type: FamilyType, help: string, labels: Labels, value: number): void;
  /** Everything written, as UTF-8 chunks in order: the cached bytes themselves, not copies. */
  buffers(): Buffer[];
}

/**
 * Creates a writer that puts each family's header where the family starts
 * and its lines right after. Cheaper than {@link createExpositionWriter} for
 * a single node (no per-family lists), but it cannot interleave:
 * a family started again after another one is a bug, and throws, because it
 * would be a second TYPE line that Prometheus refuses.
 */
export function createSequentialWriter(): SequentialWriter {
  const parts: (string | Buffer)[] = [];
  const seen = new Set<string>();
  let current = '';
  let writer: FamilyWriter | undefined;
  const family = (name: string, type: FamilyType, help: string): FamilyWriter => {
    if (name === current && writer) return writer;
    if (seen.has(name)) throw new Error(`family ${name} written twice, apart: its series must come together`);
    seen.add(name);
    current = name;
    parts.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
    const prefix = `${name}{`;
    writer = {
      line: (labels, value) => { parts.push(`${prefix}${labels}} ${formatValue(value)}\n`); },
      raw: (text) => { if (text.length) parts.push(text); },
    };
    return writer;
  };
  return {
    family,
    add(name, type, help, labels, value) {
      family(name, type, help).line(labelText(labels), value);
    },
    buffers() {
      // Cached bytes go out as they are (no copy); what was written now is joined in runs between them.
      const out: Buffer[] = [];
      let run = '';
      for (const p of parts) {
        if (typeof p === 'string') run += p;
        else {
          if (run) out.push(Buffer.from(run, 'utf8'));
          run = '';
          out.push(p);
        }
      }
      if (run) out.push(Buffer.from(run, 'utf8'));
      return out;
    },
  };
}
