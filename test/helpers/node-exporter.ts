/**
 * Debian's prometheus-node-exporter and prometheus-process-exporter, started
 * by a test beside muster, and a parser of the exposition format they all
 * speak, for comparing them family by family.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, waitFor } from './processes.ts';

/** Where Debian installs it (apt install prometheus-node-exporter). */
export const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter';
/** Where Debian installs process-exporter (apt install prometheus-process-exporter). */
export const PROCESS_EXPORTER = '/usr/bin/prometheus-process-exporter';

/** One family as scraped: TYPE and series by their label set (`a="1",b="2"`, sorted by name). */
export interface ScrapedFamily {
  type: string;
  labels: string[];
  series: Map<string, number>;
}

/** Parses an exposition into families; `drop` label names (e.g. `instance`) are left out of the label sets. */
export function parseExposition(text: string, drop: string[] = []): Map<string, ScrapedFamily> {
  const out = new Map<string, ScrapedFamily>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`cannot parse: ${line}`);
    const name = m[1]!;
    const pairs: [string, string][] = [];
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) if (!drop.includes(l[1]!)) pairs.push([l[1]!, l[2]!]);
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    let fam = out.get(name);
    if (!fam) out.set(name, (fam = { type: types.get(name) ?? 'untyped', labels: pairs.map(([k]) => k), series: new Map() }));
    const v = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    fam.series.set(pairs.map(([k, v2]) => `${k}="${v2}"`).join(','), v);
  }
  return out;
}

/** A running exporter. */
export interface Exporter {
  url: string;
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

/** Starts node_exporter on a free loopback port with these flags; undefined when it is not installed. */
export function startNodeExporter(flags: string[]): Promise<Exporter | undefined> {
  return startExporter(NODE_EXPORTER, flags);
}

/** Starts process-exporter on a free loopback port with these flags; undefined when it is not installed. */
export function startProcessExporter(flags: string[]): Promise<Exporter | undefined> {
  return startExporter(PROCESS_EXPORTER, flags);
}

/** Starts a Prometheus exporter that takes --web.listen-address (both do) on a free loopback port. */
async function startExporter(binary: string, flags: string[]): Promise<Exporter | undefined> {
  if (!existsSync(binary)) return undefined;
  const what = binary.replace(/^.*\/prometheus-/, '');
  const port = await freePort();
  const child = spawn(binary, [`--web.listen-address=127.0.0.1:${port}`, ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  const url = `http://127.0.0.1:${port}/metrics`;
  const scrape = async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${what} answered ${res.status}`);
    return res.text();
  };
  await waitFor(`${what} to listen`, async () => {
    if (child.exitCode !== null) throw new Error(`${what} exited: ${log}`);
    return (await scrape()).length > 0;
  }, 10_000);
  return {
    url,
    scrape,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
