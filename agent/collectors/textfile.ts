/**
 * node_exporter's `textfile` collector: metrics that cron jobs and scripts
 * write as `*.prom` files (Prometheus' text format) into a directory
 * (`--textfile-dir`), shipped as they are, with node_textfile_mtime_seconds
 * per file and node_textfile_scrape_error.
 *
 * Differences from node_exporter, because the hub renders every node into
 * one exposition: a label named `instance` becomes `exported_instance` (what
 * Prometheus itself does with a target's clashing label), and summaries and
 * histograms travel as their `_sum`, `_count`, `_bucket` (and quantile)
 * families, TYPE untyped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricType } from '../../protocol/index.ts';
import type { MetricWriter } from './metric-writer.ts';
import type { CollectorSpec } from './registry.ts';

/** One sample line. */
export interface TextSample {
  name: string;
  labels: [string, string][];
  value: number;
  timestamp: boolean;
}

/** One family of a text-format file: its TYPE, HELP and samples. */
export interface TextFamily {
  name: string;
  type: 'counter' | 'gauge' | 'untyped' | 'summary' | 'histogram';
  help: string | undefined;
  samples: TextSample[];
}

/** A text-format file that cannot be used as a whole. */
export class TextFormatError extends Error {
  readonly code = 'MUSTER_ERR_TEXTFILE';
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(s: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s) && !/^[-+]?0x[0-9a-fA-F]+$/.test(s)) throw new TextFormatError(`not a value: ${JSON.stringify(s.slice(0, 32))}`);
  return Number(s);
}

/** Parses one sample line (`name{a="1",b="x\"y"} 3.5 [ts]`). */
function parseSample(line: string): TextSample {
  const m = NAME.exec(line);
  if (!m) throw new TextFormatError(`not a sample line: ${JSON.stringify(line.slice(0, 64))}`);
  const name = m[0];
  let i = name.length;
  const labels: [string, string][] = [];
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ') i++;
      if (line[i] === '}') { i++; break; }
      const l = LABEL.exec(line.slice(i));
      if (!l) throw new TextFormatError(`bad label in ${name}`);
      i += l[0].length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=' || line[i + 1] !== '"') throw new TextFormatError(`bad label ${l[0]} in ${name}`);
      i += 2;
      let v = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) throw new TextFormatError(`unterminated label value in ${name}`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          v += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : `\\${e ?? ''}`;
        } else v += c;
      }
      labels.push([l[0], v]);
      while (line[i] === ' ') i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new TextFormatError(`bad label list in ${name}`);
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new TextFormatError(`bad sample line for ${name}`);
  return { name, labels, value: parseValue(rest[0]!), timestamp: rest.length === 2 };
}

/** The family a sample belongs to, given the TYPEs declared: `foo_bucket` of histogram `foo` is `foo`'s. */
function familyOf(name: string, types: Map<string, TextFamily['type']>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const t = types.get(base);
    if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
  }
  return name;
}

/** Parses a file in Prometheus' text format (version 0.0.4) into families, in order of first appearance. */
export function parseTextFormat(text: string): TextFamily[] {
  const families = new Map<string, TextFamily>();
  const types = new Map<string, TextFamily['type']>();
  const get = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: types.get(name) ?? 'untyped', help: undefined, samples: [] }));
    return f;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) continue; // a comment
      const name = m[2]!;
      if (!NAME.test(name) || NAME.exec(name)![0] !== name) throw new TextFormatError(`not a metric name: ${JSON.stringify(name.slice(0, 64))}`);
      if (m[1] === 'TYPE') {
        const t = (m[3] ?? '').trim();
        if (!['counter', 'gauge', 'untyped', 'summary', 'histogram'].includes(t)) throw new TextFormatError(`unknown type ${JSON.stringify(t)} for ${name}`);
        if (families.get(name)?.samples.length) throw new TextFormatError(`TYPE for ${name} after its samples`);
        types.set(name, t as TextFamily['type']);
        get(name).type = t as TextFamily['type'];
      } else {
        get(name).help = (m[3] ?? '').replace(/\\(n|\\)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      }
      continue;
    }
    const s = parseSample(line);
    get(familyOf(s.name, types)).samples.push(s);
  }
  return [...families.values()].filter((f) => f.samples.length > 0);
}

/** What one file gave, kept while its mtime and size stay the same. */
interface ParsedFile {
  mtimeMs: number;
  size: number;
  families: TextFamily[] | undefined;
  error: string | undefined;
}

/** Writes the families of all good files: missing labels are filled with "" per family, as node_exporter does. */
export function writeTextFamilies(out: MetricWriter, families: { family: TextFamily; files: string[] }[]): string | undefined {
  let error: string | undefined;
  for (const { family, files } of families) {
    try {
      const help = family.help ?? `Metric read from ${files.join(', ')}`;
      // Series of one name (a histogram's `_bucket`, a plain family) and their label names, in order of appearance.
      const byName = new Map<string, { labels: string[]; samples: TextSample[] }>();
      for (const s of family.samples) {
        let g = byName.get(s.name);
        if (!g) byName.set(s.name, (g = { labels: [], samples: [] }));
        g.samples.push(s);
        for (const [l] of s.labels) if (!g.labels.includes(l)) g.labels.push(l);
      }
      const type: MetricType = family.type === 'counter' || family.type === 'gauge' ? family.type : 'untyped';
      for (const [name, g] of byName) {
        const labels = g.labels.map((l) => (l === 'instance' ? 'exported_instance' : l));
        const add = out[type](name, help, labels);
        for (const s of g.samples) add(s.value, ...g.labels.map((l) => s.labels.find(([k]) => k === l)?.[1] ?? ''));
      }
    } catch (err) {
      error ??= `${family.name}: ${(err as Error).message}`;
    }
  }
  return error;
}

export const textfileCollector: CollectorSpec = {
  name: 'textfile',
  reads: '*.prom files in --textfile-dir',
  enabled: true,
  every: 1,
  maxSeries: 10_000,
  whenAbsent: 'quiet',
  create(ctx) {
    const cache = new Map<string, ParsedFile>();
    return (out) => {
      const dir = ctx.textfileDir;
      let errored = false;
      const mtimes: [string, number][] = [];
      const merged = new Map<string, { family: TextFamily; files: string[] }>();
      if (dir) {
        let names: string[] = [];
        try {
          names = readdirSync(dir).filter((n) => n.endsWith('.prom')).sort();
        } catch {
          errored = true;
        }
        const seen = new Set<string>();
        for (const n of names) {
          const path = join(dir, n);
          seen.add(path);
          let parsed: ParsedFile;
          try {
            const st = statSync(path);
            const have = cache.get(path);
            if (have && have.mtimeMs === st.mtimeMs && have.size === st.size) {
              parsed = have;
            } else {
              parsed = { mtimeMs: st.mtimeMs, size: st.size, families: undefined, error: undefined };
              try {
                const fams = parseTextFormat(readFileSync(path, 'utf8'));
                if (fams.some((f) => f.samples.some((s) => s.timestamp))) throw new TextFormatError('client-side timestamps are not supported; the whole file is skipped');
                parsed.families = fams;
              } catch (err) {
                parsed.error = (err as Error).message;
              }
              cache.set(path, parsed);
            }
          } catch {
            errored = true;
            continue;
          }
          if (!parsed.families) { errored = true; continue; }
          mtimes.push([path, Math.floor(parsed.mtimeMs / 1000)]);
          for (const f of parsed.families) {
            const m = merged.get(f.name);
            if (m) { m.family = { ...m.family, samples: [...m.family.samples, ...f.samples] }; m.files.push(path); } else merged.set(f.name, { family: f, files: [path] });
          }
        }
        for (const k of cache.keys()) if (!seen.has(k)) cache.delete(k);
      }
      if (writeTextFamilies(out, [...merged.values()]) !== undefined) errored = true;
      if (mtimes.length) {
        const mtime = out.gauge('node_textfile_mtime_seconds', 'Unixtime mtime of textfiles successfully read.', ['file']);
        for (const [path, t] of mtimes) mtime(t, path);
      }
      out.gauge('node_textfile_scrape_error', '1 if there was an error opening or reading a file, 0 otherwise')(errored ? 1 : 0);
    };
  },
};
