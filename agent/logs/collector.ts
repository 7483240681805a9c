/**
 * The agent's log collection: lines from Docker (agent/logs/docker-logs.ts)
 * and the journal (agent/logs/journal-logs.ts) are excluded by pattern,
 * rate-limited per source, cut at the line limit, redacted with the same
 * rules as command lines (protocol/redact.ts), given a level, and gathered
 * into batches that go into the agent's journal (lane `logs`) every second,
 * or sooner when a batch is full.
 *
 * Positions (agent/logs/positions.ts) move only when the journal reports the
 * batch holding a line fsync'd, so a restart resumes exactly after what a
 * restart keeps.
 */
import { CUT_MARKER, LOG_LIMITS } from '../../protocol/plain.ts';
import type { LogDrops, LogLine, LogSource, UnsequencedLogs } from '../../protocol/logs.ts';
import { redactCommandLine } from '../../protocol/redact.ts';
import type { DockerClient } from '../docker-client.ts';
import type { AgentLogger } from '../log.ts';
import { startDockerLogs, type ContainerLogInfo, type DockerLogs, type DockerLogsDeps, type DockerPosition } from './docker-logs.ts';
import { startJournalSource, type JournalLine, type JournalSource, type JournalSourceDeps } from './journal-logs.ts';
import { lineLevel, priorityLevel } from './levels.ts';
import { createRateLimiter, globMatcher, type RateLimit } from './limits.ts';
import { readPositions, writePositions, type LogPositions } from './positions.ts';

/** How the agent collects logs; every field has a default. */
export interface LogCollectorOptions {
  /** The state directory (positions live there). */
  stateDir: string;
  /** Follow Docker containers (default true). */
  docker?: boolean;
  /** Follow the systemd journal (default true). */
  journal?: boolean;
  /** `--logs-exclude`: containers, services and units whose names match are not collected. */
  exclude?: string[];
  /** Lines longer than this (characters) are cut, with CUT_MARKER (default 16 KiB). */
  maxLine?: number;
  /** Per source (a container, a unit): sustained lines and bytes a second, and the bursts banked (defaults 200/s, 256 KiB/s, ten seconds' worth). */
  rate?: Partial<RateLimit>;
  /** A batch goes into the journal this long after its first line at most (default 1 s). */
  flushMs?: number;
  /** Lines in a batch at most (default 2,000). */
  batchLines?: number;
  /** JSON characters of lines in a batch at most (default 256 Ki: under the 1 MiB frame even as 3-byte UTF-8). */
  batchChars?: number;
  /** After a long stop, how far back reading may go (default 12 h, the journal's own age bound). */
  catchUpMs?: number;
}

/** The defaults of LogCollectorOptions. */
export const LOG_DEFAULTS = Object.freeze({
  maxLine: 16 * 1024,
  linesPerSecond: 200,
  bytesPerSecond: 256 * 1024,
  burstSeconds: 10,
  flushMs: 1_000,
  batchLines: 2_000,
  batchChars: 256 * 1024,
  catchUpMs: 12 * 3_600_000,
});

export interface LogCollectorDeps {
  /** Docker; absent, no container logs. */
  docker?: DockerClient;
  now: () => number;
  log: AgentLogger;
  /** Replaceable sources, for tests. */
  startDocker?: (deps: DockerLogsDeps) => DockerLogs;
  startJournal?: (deps: JournalSourceDeps) => JournalSource;
}

/** What the collector has done since it started. */
export interface LogCollectorStats {
  lines: number;
  bytes: number;
  batches: number;
  rateLimited: number;
  cut: number;
  excluded: number;
}

/** The collector as the agent drives it. */
export interface LogCollector {
  /**
   * Starts the sources; `ship` journals a batch and returns its sequence
   * number, `persist` (optional) asks for what was journaled to be fsync'd
   * now, so that its positions are saved at once rather than at the
   * journal's next periodic fsync: a SIGKILL then re-reads a few
   * milliseconds' lines, not a second's.
   */
  start(ship: (record: UnsequencedLogs) => number, persist?: () => void): void;
  /** Every record up to `seq` is fsync'd: the positions of their lines are saved. */
  durable(seq: number): void;
  /** Stops the sources and ships the last batch (the caller then closes the journal and calls durable). */
  close(): Promise<void>;
  stats(): LogCollectorStats;
}

interface Batch {
  src: LogSource[];
  index: Map<string, number>;
  lines: LogLine[];
  chars: number;
  firstAt: number;
  docker: Map<string, DockerPosition>;
  cursor: string | undefined;
}

interface PendingPositions {
  seq: number;
  docker: Map<string, DockerPosition>;
  cursor: string | undefined;
}

/** Creates the collector; nothing runs until start(). */
export function createLogCollector(deps: LogCollectorDeps, opts: LogCollectorOptions): LogCollector {
  const { now, log } = deps;
  const maxLine = Math.min(LOG_LIMITS.line, opts.maxLine ?? LOG_DEFAULTS.maxLine);
  const r = opts.rate ?? {};
  const lps = r.linesPerSecond ?? LOG_DEFAULTS.linesPerSecond;
  const bps = r.bytesPerSecond ?? LOG_DEFAULTS.bytesPerSecond;
  const limiter = createRateLimiter({
    linesPerSecond: lps, bytesPerSecond: bps,
    burstLines: r.burstLines ?? lps * LOG_DEFAULTS.burstSeconds, burstBytes: r.burstBytes ?? bps * LOG_DEFAULTS.burstSeconds,
  }, now);
  const flushMs = opts.flushMs ?? LOG_DEFAULTS.flushMs;
  const batchLines = Math.min(LOG_LIMITS.lines, opts.batchLines ?? LOG_DEFAULTS.batchLines);
  const batchChars = opts.batchChars ?? LOG_DEFAULTS.batchChars;
  const catchUpMs = opts.catchUpMs ?? LOG_DEFAULTS.catchUpMs;
  const excluded = globMatcher(opts.exclude ?? []);

  const { positions: saved, fresh } = readPositions(opts.stateDir, now());
  if (fresh) writePositions(opts.stateDir, saved);
  let dirty = false;
  const pending: PendingPositions[] = [];
  const stats: LogCollectorStats = { lines: 0, bytes: 0, batches: 0, rateLimited: 0, cut: 0, excluded: 0 };
  const drops: LogDrops = { rateLimited: 0, rateLimitedBytes: 0, cut: 0 };
  let batch: Batch | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ship: ((record: UnsequencedLogs) => number) | undefined;
  let persist: (() => void) | undefined;
  /** The highest sequence number the journal has called durable. */
  let durableSeq = 0;
  let docker: DockerLogs | undefined;
  let journal: JournalSource | undefined;
  let closed = false;
  let lastShipped = 0;

  const floor = () => Math.max(saved.startedAt, now() - catchUpMs);

  /** Moves the saved positions over every batch the journal has made durable, and writes them. */
  const moveDurable = () => {
    while (pending.length > 0 && pending[0]!.seq <= durableSeq) {
      const p = pending.shift()!;
      for (const [id, pos] of p.docker) saved.docker[id] = pos;
      if (p.cursor) saved.journal = p.cursor;
      dirty = true;
    }
    savePositions();
  };

  /**
   * Notes the positions a shipped batch reached. The journal may have
   * fsync'd the batch (and called durable) inside ship() already, before
   * these positions were known: then they are saved now, not at its next
   * fsync a second later, when a SIGKILL meanwhile would read the batch's
   * lines again and ship them twice.
   */
  const shipped = (seq: number, b: Batch) => {
    if (b.docker.size > 0 || b.cursor) pending.push({ seq, docker: b.docker, cursor: b.cursor });
    if (seq <= durableSeq) moveDurable();
    else persist?.();
  };

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    const b = batch;
    const hasDrops = drops.rateLimited > 0 || drops.cut > 0;
    if (!ship) return;
    batch = undefined;
    if ((!b || b.lines.length === 0) && !hasDrops) {
      // Only excluded lines: their positions are safe as soon as everything shipped before them is.
      if (b && (b.docker.size > 0 || b.cursor)) shipped(lastShipped, b);
      return;
    }
    const record: UnsequencedLogs = {
      type: 'logs', ts: now(), src: b?.src ?? [], lines: b?.lines ?? [],
      ...(hasDrops ? { drops: { ...drops } } : {}),
    };
    drops.rateLimited = 0;
    drops.rateLimitedBytes = 0;
    drops.cut = 0;
    const seq = ship(record);
    lastShipped = seq;
    stats.batches++;
    if (b) shipped(seq, b);
    else if (seq > durableSeq) persist?.();
  };

  const batchFor = (): Batch => {
    if (!batch) {
      batch = { src: [], index: new Map(), lines: [], chars: 0, firstAt: now(), docker: new Map(), cursor: undefined };
      timer = setTimeout(flush, flushMs);
      timer.unref();
    }
    return batch;
  };

  /** Takes one line through the limits into the batch; false when it was dropped. */
  const add = (key: string, source: LogSource, ms: number, ns: number, raw: string, cutAlready: boolean, extra: Partial<LogLine>): boolean => {
    const bytes = Buffer.byteLength(raw, 'utf8');
    if (!limiter.take(key, bytes)) {
      stats.rateLimited++;
      drops.rateLimited++;
      drops.rateLimitedBytes += bytes;
      return false;
    }
    let text = raw;
    let cut = cutAlready;
    if (text.length > maxLine) {
      text = text.slice(0, maxLine);
      cut = true;
    }
    text = redactCommandLine(text);
    if (cut) {
      text += CUT_MARKER;
      stats.cut++;
      drops.cut++;
    }
    const level = lineLevel(text) ?? (extra.p !== undefined ? priorityLevel(extra.p) : undefined);
    let b = batchFor();
    let s = b.index.get(key);
    const line: LogLine = { s: 0, t: ms, n: ns, l: text, ...extra, ...(level ? { v: level } : {}) };
    const chars = JSON.stringify(line).length + 1;
    if (b.lines.length > 0 && (b.lines.length >= batchLines || b.chars + chars > batchChars || (s === undefined && b.src.length >= LOG_LIMITS.sources))) {
      flush();
      b = batchFor();
      s = undefined;
    }
    if (s === undefined) {
      s = b.src.length;
      b.src.push(source);
      b.index.set(key, s);
    }
    line.s = s;
    b.lines.push(line);
    b.chars += chars;
    stats.lines++;
    stats.bytes += bytes;
    return true;
  };

  const containerSource = (c: ContainerLogInfo): LogSource => ({
    kind: 'docker', name: c.name, id: c.id, ...(c.image ? { image: c.image } : {}),
    ...(c.service ? { service: c.service } : {}), ...(c.project ? { project: c.project } : {}), ...(c.compose ? { compose: c.compose } : {}),
  });
  const sources = new Map<string, LogSource>();

  const onDockerLine: DockerLogsDeps['onLine'] = (c, line, pos) => {
    const key = `d:${c.id}`;
    let src = sources.get(key);
    if (!src) sources.set(key, (src = containerSource(c)));
    add(key, src, line.ms, line.ns, line.text, line.cut, line.stderr ? { e: 1 } : {});
    // Dropped or not, the line is dealt with: the position moves past it with the batch now open.
    batchFor().docker.set(c.id, pos);
  };

  const onJournalLine = (line: JournalLine) => {
    const name = line.unit ?? line.ident;
    const key = `j:${name}`;
    if (excluded(name) || (line.unit && excluded(line.unit.replace(/\.service$/, '')))) {
      stats.excluded++;
    } else {
      let src = sources.get(key);
      if (!src) {
        src = { kind: 'journal', name, ...(line.unit ? { unit: line.unit } : {}) };
        if (sources.size > 10_000) sources.clear(); // transient units (run-*.scope) must not pile up
        sources.set(key, src);
      }
      add(key, src, line.ms, line.ns, line.text, false, { ...(line.priority !== undefined ? { p: line.priority } : {}), ...(line.pid !== undefined ? { pid: line.pid } : {}) });
    }
    batchFor().cursor = line.cursor;
  };

  const isExcluded = (c: ContainerLogInfo) => {
    const hit = excluded(c.name) || (c.service !== undefined && excluded(c.service)) || (c.compose !== undefined && excluded(c.compose));
    if (hit) log.info('not collecting the logs of an excluded container', { container: c.name });
    return hit;
  };

  const savePositions = () => {
    if (!dirty) return;
    if (writePositions(opts.stateDir, saved)) dirty = false;
  };

  return {
    start(shipTo, persistTo) {
      if (ship || closed) return;
      ship = shipTo;
      persist = persistTo;
      if (opts.docker !== false && deps.docker) {
        const start = deps.startDocker ?? startDockerLogs;
        docker = start({
          docker: deps.docker, maxLine,
          startOf: (id) => {
            const p = saved.docker[id];
            const f = floor();
            return p && p.ms >= f ? p : { ms: f, ns: 0, n: 0 };
          },
          onLine: onDockerLine,
          onGone: (id) => {
            limiter.forget(`d:${id}`);
            sources.delete(`d:${id}`);
            if (saved.docker[id]) {
              delete saved.docker[id];
              dirty = true;
            }
          },
          excluded: isExcluded,
          onProblem: (reason) => log.info('container logs are not collected for now', { reason }),
        });
      }
      if (opts.journal !== false) {
        const start = deps.startJournal ?? startJournalSource;
        journal = start({
          start: () => (saved.journal ? { cursor: saved.journal } : { sinceMs: floor() }),
          onLine: onJournalLine,
          onProblem: (reason) => log.info('journal logs are not collected for now', { reason }),
        });
      }
    },
    durable(seq) {
      if (seq > durableSeq) durableSeq = seq;
      moveDurable();
    },
    async close() {
      if (closed) return;
      closed = true;
      docker?.close();
      journal?.close();
      flush();
    },
    stats: () => ({ ...stats }),
  };
}
