/**
 * The log batches of one simulated agent (bench/ingest-simulator.ts), shaped
 * as agent/logs/collector.ts ships them: the sources named once per batch,
 * lines pointing at them, times in milliseconds and nanoseconds, a level when
 * the line states one. Each agent has three containers (a web server's access
 * log, an app's structured log, a database) and one systemd unit, and lines
 * of realistic length (80-200 bytes) that differ from one another, so
 * compression on the link and Loki's encoding see what they would see.
 */
import type { LogLine, LogSource, UnsequencedLogs } from '../protocol/index.ts';

/** One agent's log generator. */
export interface SimulatedLogs {
  /** A batch of `lines` lines stamped over the second before `now`. */
  batch(lines: number, now: number): UnsequencedLogs;
}

const hex = (seed: number, len: number) => {
  let out = '';
  let x = seed >>> 0 || 1;
  while (out.length < len) {
    x = (x * 1_103_515_245 + 12_345) >>> 0;
    out += (x >>> 8).toString(16).padStart(6, '0');
  }
  return out.slice(0, len);
};

/** Creates the generator of agent `index` (deterministic). */
export function createSimulatedLogs(index: number): SimulatedLogs {
  const src: LogSource[] = [
    { kind: 'docker', name: `web-${index}`, id: hex(index * 4 + 1, 64), image: 'nginx:1.27', compose: 'web', project: 'shop' },
    { kind: 'docker', name: `api-${index}`, id: hex(index * 4 + 2, 64), image: 'registry.lab/shop/api:2.4.1', service: 'api' },
    { kind: 'docker', name: `db-${index}`, id: hex(index * 4 + 3, 64), image: 'postgres:16' },
    { kind: 'journal', name: 'cron.service', unit: 'cron.service' },
  ];
  let n = 0;
  const line = (ms: number, ns: number): LogLine => {
    n++;
    const k = n % 10;
    if (k < 5) {
      return { s: 0, t: ms, n: ns, l: `10.0.${index % 250}.${n % 250} - - [02/Dec/2026:01:02:03 +0000] "GET /api/v1/items/${n}?page=${n % 17} HTTP/1.1" 200 ${1000 + (n % 9000)} "-" "Mozilla/5.0 (X11; Linux x86_64)"` };
    }
    if (k < 8) {
      const level = k === 7 && n % 3 === 0 ? 'error' : 'info';
      return { s: 1, t: ms, n: ns, l: `{"level":"${level}","ts":"2026-12-02T01:02:03.${String(n % 1000).padStart(3, '0')}Z","msg":"handled request","route":"/items/:id","id":${n},"ms":${n % 97}}`, v: level };
    }
    if (k === 8) return { s: 2, t: ms, n: ns, l: `2026-12-02 01:02:03.${n % 1000} UTC [${1000 + (n % 500)}] LOG:  duration: ${(n % 1000) / 10} ms  statement: SELECT * FROM items WHERE id = ${n}`, e: 1 };
    return { s: 3, t: ms, n: ns, l: `(root) CMD (/usr/local/bin/backup --incremental --target /srv/backup/${n % 31})`, p: 6, pid: 1000 + (n % 30_000), v: 'info' };
  };
  return {
    batch(lines, now) {
      const out: LogLine[] = [];
      const start = now - 1000;
      for (let i = 0; i < lines; i++) {
        const at = start + (i * 1000) / lines;
        const ms = Math.floor(at);
        out.push(line(ms, Math.floor((at - ms) * 1e6)));
      }
      return { type: 'logs', ts: now, src, lines: out };
    },
  };
}
