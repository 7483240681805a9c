/**
 * The agent's durable outbox, after Prometheus' tsdb/wlog: every record the
 * agent will send to the hub (a sample, a workloads delta, a log batch) is
 * appended to a segment file before it counts as queued, and leaves only when
 * the hub acks it. After a SIGKILL or a power cut the agent replays the
 * segments and sends what is left with its original sequence numbers.
 *
 * Layout under `dir`: `main/` and `logs/` (one directory per lane) with
 * segment files `00000001.seg`, `00000002.seg`, ...; and `position.json`
 * ({ acked, nextSeq, remap }) replaced atomically. A record is a 32-byte
 * little-endian header, the kind and the body:
 *
 *   0 magic FF 4D 4A 52 · 4 version (1) · 5 kind length · 6 reserved (0)
 *   8 body length u32 · 12 seq (low u32, high u32) · 20 ts f64 (ms)
 *   28 CRC-32 of bytes 0..27, the kind and the body · 32 kind · body (UTF-8)
 *
 * The magic starts with 0xFF, a byte UTF-8 text never contains, so after a
 * damaged record the scan finds the next record start in the body-free bytes.
 *
 * Only an index (seq, offset, length per record; newest ts per segment) is
 * kept in memory; bodies are read back from disk when they are sent.
 */
import { fsyncDir, replaceFileDurably, writeAll } from './durable-file.ts';
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from './crc32.ts';

/** 'main' carries samples and workload deltas; 'logs' carries log batches and is dropped first when the journal is full. */
export type JournalLane = 'main' | 'logs';

/** The lanes, in the order their directories are replayed. */
export const JOURNAL_LANES: readonly JournalLane[] = Object.freeze(['main', 'logs']);

/** One record as handed back for sending. */
export interface JournalRecord {
  seq: number;
  ts: number;
  lane: JournalLane;
  kind: string;
  /** The caller's UTF-8 (JSON) text, unchanged. */
  body: string;
}

/** Where the journal lives, its bounds and how often it fsyncs. */
export interface JournalOptions {
  /** The journal's own directory, e.g. `<state>/journal`; created mode 0700, files 0600. */
  dir: string;
  /** Bound on the segment bytes of both lanes together (default 64 MiB); the newest 'main' segment is never dropped for it. */
  maxBytes?: number;
  /** Records whose ts is older than this are dropped, a whole segment at a time (default 12 h). */
  maxAgeMs?: number;
  /** A lane rolls to a new segment file past this size (default 1 MiB). */
  segmentBytes?: number;
  /** fsync at most this often; appends in between wait for one timer (default 1000 ms). */
  syncEveryMs?: number;
  now?: () => number;
  /** Called after an fsync made every record up to `seq` durable; must not throw. */
  onDurable?: (seq: number) => void;
}

/** Records lost, by cause, since this journal was opened. */
export interface JournalLosses {
  /** Unacked records in segments dropped to stay under maxBytes. */
  overflow: number;
  /** Unacked records in segments dropped for being older than maxAgeMs. */
  expired: number;
  /** Damaged records (a torn tail, a flipped bit, a garbage file) skipped at replay or read. */
  corrupt: number;
  /** Unacked records given new numbers because the hub was ahead of this journal (not lost, but renumbered). */
  renumbered: number;
  /** Records the disk refused that did not fit in the in-memory spill either. */
  unwritten: number;
}

/** What the journal holds and has lost, for the agent to report. */
export interface JournalStats {
  /** Unacked records, on disk and in memory. */
  pending: number;
  /** Bytes in segment files. */
  bytes: number;
  nextSeq: number;
  ackedSeq: number;
  durableSeq: number;
  /** Records kept in memory only because the disk refused them (ENOSPC, EIO). */
  held: number;
  /** The code (or message) of the last write, sync or position error; undefined if none. */
  lastError: string | undefined;
  lost: JournalLosses;
}

/** The durable outbox; see openJournal. */
export interface Journal {
  /**
   * Appends a record and returns its seq (one counter across lanes, from 1).
   * Never throws for I/O: a record the disk refuses is kept in memory.
   */
  append(lane: JournalLane, kind: string, ts: number, body: string): number;
  /** The highest seq such that every record up to it is fsync'd (or held in memory); the agent sends only those. */
  durableSeq(): number;
  /** fsyncs now if anything is unsynced, then calls onDurable. */
  sync(): void;
  /** Cumulative ack: forgets every record up to `seq` and deletes fully acked segments. */
  ack(seq: number): void;
  /**
   * Unacked durable records with seq > `after`, ascending across lanes, at most
   * `limit`, and at most `maxBytes` of body (but always one, however large).
   */
  pendingAfter(after: number, limit: number, maxBytes?: number): JournalRecord[];
  /**
   * Lines the journal up with the hub's acked position after a (re)connect.
   * Behind or level: an ack. Ahead (a restored backup, a copied state
   * directory): every unacked record is renumbered after `hubAckedSeq`, and
   * so is the counter, so the hub does not drop new records as duplicates.
   */
  rebase(hubAckedSeq: number): void;
  stats(): JournalStats;
  /**
   * Writes records held in memory if the disk now takes them, fsyncs, saves the
   * position and closes files. Later appends, acks and rebases throw MUSTER_ERR_JOURNAL_CLOSED.
   */
  close(): void;
}

/** The defaults of JournalOptions. */
export const JOURNAL_DEFAULTS = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxAgeMs: 12 * 60 * 60 * 1000,
  segmentBytes: 1024 * 1024,
  syncEveryMs: 1000,
});

/** Bytes before a record's kind. */
export const RECORD_HEADER_BYTES = 32;

/** Records kept in memory while the disk refuses writes. */
export const MAX_HELD_RECORDS = 1000;

/** The error a journal throws when used after close(). */
export class JournalClosedError extends Error {
  readonly code = 'MUSTER_ERR_JOURNAL_CLOSED';
  constructor() {
    super('the journal is closed');
  }
}

const MAGIC = Buffer.from([0xff, 0x4d, 0x4a, 0x52]);
const VERSION = 1;
const CRC_AT = 28;
const TWO_32 = 2 ** 32;
const POSITION_FILE = 'position.json';
const SEGMENT_NAME = /^(\d{8,})\.seg$/;

/** [from, to, delta]: records numbered from..to when the hub was found ahead were moved up by delta. */
type Remap = [number, number, number];

interface Segment {
  readonly lane: Lane;
  readonly file: string;
  size: number;
  /** Newest ts in the segment; the whole segment expires with it. */
  maxTs: number;
  /** Seqs as sent (after any renumbering), ascending; offsets and lengths of the whole records alongside. */
  seqs: number[];
  offs: number[];
  lens: number[];
}

interface Lane {
  readonly name: JournalLane;
  readonly dir: string;
  segments: Segment[];
  /** The segment this process appends to; only ever one it created itself, so it never appends after a torn tail. */
  active: { seg: Segment; fd: number } | null;
  dirty: boolean;
  nextId: number;
}

interface Held {
  seq: number;
  ts: number;
  lane: JournalLane;
  kind: string;
  body: string;
}

interface Parsed {
  total: number;
  rawSeq: number;
  ts: number;
  kindLen: number;
  bodyLen: number;
}

function encodeRecord(seq: number, ts: number, kind: string, body: string): Buffer {
  const kindBytes = Buffer.from(kind, 'utf8').subarray(0, 255);
  const bodyLen = Buffer.byteLength(body, 'utf8');
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + kindBytes.length + bodyLen);
  MAGIC.copy(buf, 0);
  buf[4] = VERSION;
  buf[5] = kindBytes.length;
  buf.writeUInt16LE(0, 6);
  buf.writeUInt32LE(bodyLen, 8);
  buf.writeUInt32LE(seq % TWO_32, 12);
  buf.writeUInt32LE(Math.floor(seq / TWO_32), 16);
  buf.writeDoubleLE(ts, 20);
  kindBytes.copy(buf, RECORD_HEADER_BYTES);
  buf.write(body, RECORD_HEADER_BYTES + kindBytes.length, 'utf8');
  buf.writeUInt32LE(recordCrc(buf, 0, buf.length), CRC_AT);
  return buf;
}

function recordCrc(buf: Buffer, off: number, total: number): number {
  return crc32(buf.subarray(off + RECORD_HEADER_BYTES, off + total), crc32(buf.subarray(off, off + CRC_AT)));
}

/** The record starting at `off`, if it is whole and its checksum holds. */
function parseAt(buf: Buffer, off: number): Parsed | undefined {
  if (off + RECORD_HEADER_BYTES > buf.length) return undefined;
  if (buf[off] !== MAGIC[0] || buf[off + 1] !== MAGIC[1] || buf[off + 2] !== MAGIC[2] || buf[off + 3] !== MAGIC[3]) return undefined;
  if (buf[off + 4] !== VERSION || buf.readUInt16LE(off + 6) !== 0) return undefined;
  const kindLen = buf[off + 5]!;
  const bodyLen = buf.readUInt32LE(off + 8);
  const total = RECORD_HEADER_BYTES + kindLen + bodyLen;
  if (off + total > buf.length) return undefined;
  if (recordCrc(buf, off, total) !== buf.readUInt32LE(off + CRC_AT)) return undefined;
  const rawSeq = buf.readUInt32LE(off + 12) + buf.readUInt32LE(off + 16) * TWO_32;
  const ts = buf.readDoubleLE(off + 20);
  if (!Number.isSafeInteger(rawSeq) || rawSeq < 1 || !Number.isFinite(ts)) return undefined;
  return { total, rawSeq, ts, kindLen, bodyLen };
}

/**
 * Walks a segment's bytes. A record that does not check out is counted and
 * skipped by looking for the next magic whose record does; damage that runs
 * to the end of the file is a torn tail, cut off at `end`.
 */
function scanSegment(buf: Buffer): { records: (Parsed & { off: number })[]; corrupt: number; end: number } {
  const records: (Parsed & { off: number })[] = [];
  let corrupt = 0;
  let off = 0;
  let damagedFrom = -1;
  while (off < buf.length) {
    const r = parseAt(buf, off);
    if (r) {
      records.push({ ...r, off });
      off += r.total;
      damagedFrom = -1;
      continue;
    }
    corrupt++;
    if (damagedFrom < 0) damagedFrom = off;
    const next = buf.indexOf(MAGIC, off + 1);
    if (next < 0) break;
    off = next;
  }
  return { records, corrupt, end: damagedFrom >= 0 ? damagedFrom : buf.length };
}

function segmentName(id: number): string {
  return `${String(id).padStart(8, '0')}.seg`;
}

function errorCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message ?? String(err);
}

function readAll(fd: number, buf: Buffer, position: number): boolean {
  let done = 0;
  while (done < buf.length) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) return false;
    done += n;
  }
  return true;
}


/** Index of the first element greater than `v` in an ascending array. */
function upperBound(a: number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const lastSeq = (seg: Segment): number => seg.seqs[seg.seqs.length - 1] ?? 0;
const laneLastSeq = (lane: Lane): number => {
  const seg = lane.segments[lane.segments.length - 1];
  return seg ? lastSeq(seg) : 0;
};
const countAbove = (seg: Segment, seq: number): number => seg.seqs.length - upperBound(seg.seqs, seq);

function readPosition(file: string): { acked: number; nextSeq: number; remap: Remap[] } {
  const pos = { acked: 0, nextSeq: 1, remap: [] as Remap[] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return pos; // none yet, or damaged: the segments still say where numbering stands
  }
  if (typeof parsed !== 'object' || parsed === null) return pos;
  const p = parsed as Record<string, unknown>;
  const ok = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (ok(p.acked)) pos.acked = p.acked;
  if (ok(p.nextSeq) && p.nextSeq >= 1) pos.nextSeq = p.nextSeq;
  if (Array.isArray(p.remap)) {
    for (const r of p.remap) {
      if (!Array.isArray(r) || r.length !== 3 || !r.every(ok)) continue;
      const [from, to, delta] = r as Remap;
      if (from <= to && delta > 0) pos.remap.push([from, to, delta]);
    }
  }
  return pos;
}

/**
 * Opens the journal in `opts.dir`, replaying every segment: damaged records
 * are counted and skipped, a torn tail is cut off, and numbering continues
 * after the highest seq found or saved. Never throws for I/O or corruption.
 */
export function openJournal(opts: JournalOptions): Journal {
  const base = opts.dir;
  const maxBytes = opts.maxBytes ?? JOURNAL_DEFAULTS.maxBytes;
  const maxAgeMs = opts.maxAgeMs ?? JOURNAL_DEFAULTS.maxAgeMs;
  const segmentBytes = Math.max(1, opts.segmentBytes ?? JOURNAL_DEFAULTS.segmentBytes);
  const syncEveryMs = Math.max(0, opts.syncEveryMs ?? JOURNAL_DEFAULTS.syncEveryMs);
  const now = opts.now ?? Date.now;
  const onDurable = opts.onDurable;
  const positionFile = join(base, POSITION_FILE);

  const lost: JournalLosses = { overflow: 0, expired: 0, corrupt: 0, renumbered: 0, unwritten: 0 };
  const lanes: Record<JournalLane, Lane> = {
    main: { name: 'main', dir: join(base, 'main'), segments: [], active: null, dirty: false, nextId: 1 },
    logs: { name: 'logs', dir: join(base, 'logs'), segments: [], active: null, dirty: false, nextId: 1 },
  };
  const laneList = JOURNAL_LANES.map((l) => lanes[l]);
  let held: Held[] = [];
  /** Seqs whose record could not be read back when it was to be sent; skipped from then on. */
  const unreadable = new Set<number>();
  const dirsToSync = new Set<string>();
  let bytes = 0;
  let lastError: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastSyncAt = -Infinity;
  let expiryDue = Infinity;
  let closed = false;

  const noteError = (err: unknown) => {
    lastError = errorCode(err);
  };

  try {
    mkdirSync(base, { recursive: true, mode: 0o700 });
  } catch (err) {
    noteError(err); // appends will find out again and keep records in memory
  }
  try {
    rmSync(`${positionFile}.tmp`, { force: true });
  } catch {
    // a stale temporary file is harmless
  }

  const position = readPosition(positionFile);
  let acked = position.acked;
  let remap = position.remap;
  const mapSeq = (raw: number): number => {
    let s = raw;
    for (const [from, to, delta] of remap) if (s >= from && s <= to) s += delta;
    return s;
  };

  for (const lane of laneList) replayLane(lane);
  let nextSeq = Math.max(...laneList.map(laneLastSeq), position.nextSeq - 1, acked) + 1;
  // Replay fsync'd every segment it read, so all of it may be sent.
  let durable = nextSeq - 1;
  recomputeExpiryDue();
  dropSegments(laneList.flatMap((l) => l.segments.filter((s) => lastSeq(s) <= acked)), 'acked');
  enforceBounds();

  function replayLane(lane: Lane): void {
    let names: string[] = [];
    try {
      names = readdirSync(lane.dir);
    } catch {
      return; // no lane directory yet
    }
    const found = names.flatMap((name) => {
      const m = SEGMENT_NAME.exec(name);
      return m ? [{ id: Number(m[1]), name }] : [];
    }).sort((a, b) => a.id - b.id);
    lane.nextId = (found[found.length - 1]?.id ?? 0) + 1;
    for (const f of found) replaySegment(lane, join(lane.dir, f.name));
  }

  function replaySegment(lane: Lane, file: string): void {
    let fd: number;
    try {
      fd = openSync(file, 'r+');
    } catch {
      try {
        fd = openSync(file, 'r');
      } catch {
        lost.corrupt++;
        return;
      }
    }
    try {
      const buf = Buffer.allocUnsafe(fstatSync(fd).size);
      if (!readAll(fd, buf, 0)) throw new Error('short read');
      const scan = scanSegment(buf);
      lost.corrupt += scan.corrupt;
      const seg: Segment = { lane, file, size: scan.end, maxTs: -Infinity, seqs: [], offs: [], lens: [] };
      let prev = laneLastSeq(lane);
      for (const r of scan.records) {
        const seq = mapSeq(r.rawSeq);
        // Seqs only grow within a lane; one that does not is not a record this journal wrote in order.
        if (seq <= prev) {
          lost.corrupt++;
          continue;
        }
        prev = seq;
        seg.seqs.push(seq);
        seg.offs.push(r.off);
        seg.lens.push(r.total);
        if (r.ts > seg.maxTs) seg.maxTs = r.ts;
      }
      if (seg.seqs.length === 0) {
        // Nothing readable in it: it would only be counted again at every start.
        try {
          unlinkSync(file);
        } catch (err) {
          noteError(err);
        }
        return;
      }
      if (scan.end < buf.length) ftruncateSync(fd, scan.end);
      // What a crashed process left in the page cache is made durable before any of it is sent.
      fdatasyncSync(fd);
      lane.segments.push(seg);
      bytes += seg.size;
    } catch (err) {
      // A file that cannot be read, cut or synced is left alone and counted, never fatal.
      noteError(err);
      lost.corrupt++;
    } finally {
      closeSync(fd);
    }
  }

  function persistPosition(): boolean {
    // An entry is needed while a record it renumbered, followed through the later entries, can still be unacked.
    remap = remap.filter(([, to, delta], k) => {
      let s = to + delta;
      for (const [from2, to2, delta2] of remap.slice(k + 1)) if (s >= from2 && s <= to2) s += delta2;
      return s > acked;
    });
    const text = JSON.stringify({ version: 1, acked, nextSeq, remap });
    try {
      mkdirSync(base, { recursive: true, mode: 0o700 });
      replaceFileDurably(positionFile, text);
      return true;
    } catch (err) {
      noteError(err);
      return false;
    }
  }

  function recomputeExpiryDue(): void {
    expiryDue = Infinity;
    for (const lane of laneList) for (const s of lane.segments) if (s.seqs.length > 0) expiryDue = Math.min(expiryDue, s.maxTs + maxAgeMs);
  }

  function closeActive(lane: Lane): void {
    const act = lane.active;
    if (!act) return;
    lane.active = null;
    if (lane.dirty) {
      try {
        fdatasyncSync(act.fd);
      } catch (err) {
        noteError(err);
      }
    }
    lane.dirty = false;
    try {
      closeSync(act.fd);
    } catch {
      // the fd is gone either way
    }
    if (act.seg.seqs.length === 0) removeSegment(act.seg);
  }

  function removeSegment(seg: Segment): void {
    const lane = seg.lane;
    if (lane.active?.seg === seg) {
      try {
        closeSync(lane.active.fd);
      } catch {
        // the fd is gone either way
      }
      lane.active = null;
      lane.dirty = false;
    }
    lane.segments = lane.segments.filter((s) => s !== seg);
    bytes -= seg.size;
    for (const s of unreadable) if (seg.seqs[upperBound(seg.seqs, s) - 1] === s) unreadable.delete(s);
    try {
      unlinkSync(seg.file);
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') noteError(err);
    }
  }

  /**
   * Deletes segments, counting their unacked records under `reason`. The
   * position goes to disk first, so that numbering cannot go backwards after a
   * crash; if it cannot be written, the segment with the highest seq stays.
   */
  function dropSegments(victims: Segment[], reason: 'acked' | 'overflow' | 'expired'): void {
    if (victims.length === 0) return;
    let keep: Segment | undefined;
    if (!persistPosition()) {
      for (const lane of laneList) for (const s of lane.segments) if (!keep || lastSeq(s) > lastSeq(keep)) keep = s;
    }
    for (const seg of victims) {
      if (seg === keep) continue;
      const unacked = countAbove(seg, acked);
      if (reason === 'overflow') lost.overflow += unacked;
      else if (reason === 'expired') lost.expired += unacked;
      removeSegment(seg);
    }
    recomputeExpiryDue();
  }

  function enforceBounds(): void {
    if (now() >= expiryDue) {
      const cutoff = now() - maxAgeMs;
      dropSegments(laneList.flatMap((l) => l.segments.filter((s) => s.seqs.length > 0 && s.maxTs < cutoff)), 'expired');
      recomputeExpiryDue();
    }
    if (bytes > maxBytes) {
      let excess = bytes - maxBytes;
      const victims: Segment[] = [];
      for (const s of lanes.logs.segments) {
        if (excess <= 0) break;
        victims.push(s);
        excess -= s.size;
      }
      const main = lanes.main.segments;
      for (let i = 0; i < main.length - 1 && excess > 0; i++) {
        victims.push(main[i]!);
        excess -= main[i]!.size;
      }
      dropSegments(victims, 'overflow');
    }
  }

  function openActive(lane: Lane): { seg: Segment; fd: number } | null {
    try {
      const created = mkdirSync(lane.dir, { recursive: true, mode: 0o700 });
      if (created !== undefined) dirsToSync.add(base);
    } catch (err) {
      noteError(err);
      return null;
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const file = join(lane.dir, segmentName(lane.nextId++));
      let fd: number;
      try {
        fd = openSync(file, 'wx', 0o600);
      } catch (err) {
        if (errorCode(err) === 'EEXIST') continue; // a file we skipped at replay holds that name
        noteError(err);
        return null;
      }
      const seg: Segment = { lane, file, size: 0, maxTs: -Infinity, seqs: [], offs: [], lens: [] };
      lane.segments.push(seg);
      lane.active = { seg, fd };
      dirsToSync.add(lane.dir);
      return lane.active;
    }
    return null;
  }

  /** Writes one record to the lane's open segment, rolling or opening one as needed; false if the disk refused. */
  function writeRecord(lane: Lane, seq: number, ts: number, kind: string, body: string): boolean {
    const rec = encodeRecord(seq, ts, kind, body);
    if (lane.active && lane.active.seg.size > 0 && lane.active.seg.size + rec.length > segmentBytes) closeActive(lane);
    const act = lane.active ?? openActive(lane);
    if (!act) return false;
    const seg = act.seg;
    try {
      writeAll(act.fd, rec);
    } catch (err) {
      noteError(err);
      // Cut a partial record off so the next replay need not resynchronise; the next append opens a new segment.
      try {
        ftruncateSync(act.fd, seg.size);
      } catch {
        // replay will cut it off as a torn tail
      }
      lane.dirty = true;
      closeActive(lane);
      return false;
    }
    seg.seqs.push(seq);
    seg.offs.push(seg.size);
    seg.lens.push(rec.length);
    seg.size += rec.length;
    bytes += rec.length;
    if (seg.seqs.length === 1) expiryDue = Math.min(expiryDue, ts + maxAgeMs);
    if (ts > seg.maxTs) seg.maxTs = ts;
    lane.dirty = true;
    return true;
  }

  /** Writes the lane's records held in memory, oldest first, so a lane's seqs stay in order on disk. */
  function flushHeld(lane: Lane): boolean {
    if (!held.some((h) => h.lane === lane.name)) return true;
    const rest: Held[] = [];
    let ok = true;
    for (const h of held) {
      if (ok && h.lane === lane.name && writeRecord(lane, h.seq, h.ts, h.kind, h.body)) continue;
      if (h.lane === lane.name) ok = false;
      rest.push(h);
    }
    held = rest;
    return ok;
  }

  function doSync(): void {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (durable >= nextSeq - 1) return;
    for (const lane of laneList) {
      if (!lane.active || !lane.dirty) continue;
      try {
        fdatasyncSync(lane.active.fd);
        lane.dirty = false;
      } catch (err) {
        // After a failed fsync the fd's state is unknown: stop writing to it.
        noteError(err);
        closeActive(lane);
      }
    }
    for (const dir of dirsToSync) {
      try {
        fsyncDir(dir);
      } catch (err) {
        noteError(err);
      }
    }
    dirsToSync.clear();
    // Records whose fsync failed count as durable too, like records held in memory: otherwise they could never be sent.
    durable = nextSeq - 1;
    lastSyncAt = now();
    onDurable?.(durable);
  }

  function scheduleSync(): void {
    const wait = Math.min(syncEveryMs, syncEveryMs - (now() - lastSyncAt));
    if (wait <= 0) {
      doSync();
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        if (!closed) doSync();
      }, wait);
      timer.unref();
    }
  }

  function assertOpen(): void {
    if (closed) throw new JournalClosedError();
  }

  /** Lane cursor: the first record with seq > `after`. */
  function seekAfter(lane: Lane, after: number): { si: number; ri: number } {
    const segs = lane.segments;
    let si = 0;
    while (si < segs.length && lastSeq(segs[si]!) <= after) si++;
    return { si, ri: si < segs.length ? upperBound(segs[si]!.seqs, after) : 0 };
  }

  function firstPending(): number | undefined {
    let first = held[0]?.seq;
    for (const lane of laneList) {
      const c = seekAfter(lane, acked);
      const seq = lane.segments[c.si]?.seqs[c.ri];
      if (seq !== undefined && (first === undefined || seq < first)) first = seq;
    }
    return first;
  }

  function readRecord(fds: Map<Segment, number>, seg: Segment, ri: number, seq: number): JournalRecord | undefined {
    try {
      let fd = fds.get(seg);
      if (fd === undefined) {
        fd = openSync(seg.file, 'r');
        fds.set(seg, fd);
      }
      const buf = Buffer.allocUnsafe(seg.lens[ri]!);
      if (!readAll(fd, buf, seg.offs[ri]!)) return undefined;
      const r = parseAt(buf, 0);
      if (!r || r.total !== buf.length) return undefined;
      const kindEnd = RECORD_HEADER_BYTES + r.kindLen;
      return { seq, ts: r.ts, lane: seg.lane.name, kind: buf.toString('utf8', RECORD_HEADER_BYTES, kindEnd), body: buf.toString('utf8', kindEnd) };
    } catch (err) {
      noteError(err);
      return undefined;
    }
  }

  function ack(seq: number): void {
    assertOpen();
    if (!(seq > acked)) return;
    // The hub cannot have more than was numbered; a hub that is ahead is rebase's business.
    acked = Math.min(Math.floor(seq), nextSeq - 1);
    held = held.filter((h) => h.seq > acked);
    for (const s of unreadable) if (s <= acked) unreadable.delete(s);
    const victims: Segment[] = [];
    for (const lane of laneList) {
      for (const s of lane.segments) {
        if (s === lane.active?.seg || lastSeq(s) > acked) break;
        victims.push(s);
      }
    }
    dropSegments(victims, 'acked');
  }

  return {
    append(laneName, kind, ts, body) {
      assertOpen();
      const lane = lanes[laneName];
      if (!lane) throw new TypeError(`unknown journal lane ${String(laneName)}`);
      const seq = nextSeq++;
      const t = Number.isFinite(ts) ? ts : now();
      const written = flushHeld(lane) && writeRecord(lane, seq, t, kind, body);
      if (written) {
        scheduleSync();
      } else {
        held.push({ seq, ts: t, lane: laneName, kind, body });
        if (held.length > MAX_HELD_RECORDS) {
          held.shift();
          lost.unwritten++;
        }
        // Sent from memory, so what is on disk before it must be as durable as it can be made first.
        doSync();
      }
      enforceBounds();
      return seq;
    },

    durableSeq: () => durable,

    sync() {
      assertOpen();
      doSync();
    },

    ack,

    pendingAfter(after, limit, maxBodyBytes) {
      const out: JournalRecord[] = [];
      if (!(limit > 0)) return out;
      const from = Math.max(after, acked);
      const cursors = laneList.map((lane) => ({ lane, ...seekAfter(lane, from) }));
      let hi = 0;
      while (hi < held.length && held[hi]!.seq <= from) hi++;
      const fds = new Map<Segment, number>();
      let total = 0;
      try {
        while (out.length < limit) {
          let best: (typeof cursors)[number] | undefined;
          let bestSeq = held[hi]?.seq ?? Infinity;
          for (const c of cursors) {
            const seq = c.lane.segments[c.si]?.seqs[c.ri];
            if (seq !== undefined && seq < bestSeq) {
              best = c;
              bestSeq = seq;
            }
          }
          if (bestSeq > durable) break;
          let rec: JournalRecord | undefined;
          if (best) {
            const seg = best.lane.segments[best.si]!;
            const ri = best.ri;
            if (++best.ri >= seg.seqs.length) {
              best.si++;
              best.ri = 0;
            }
            if (unreadable.has(bestSeq)) continue;
            rec = readRecord(fds, seg, ri, bestSeq);
            if (!rec) {
              unreadable.add(bestSeq);
              lost.corrupt++;
              continue;
            }
          } else {
            const h = held[hi++]!;
            rec = { seq: h.seq, ts: h.ts, lane: h.lane, kind: h.kind, body: h.body };
          }
          const size = Buffer.byteLength(rec.body, 'utf8');
          if (maxBodyBytes !== undefined && out.length > 0 && total + size > maxBodyBytes) break;
          total += size;
          out.push(rec);
        }
      } finally {
        for (const fd of fds.values()) closeSync(fd);
      }
      return out;
    },

    rebase(hubAckedSeq) {
      assertOpen();
      const h = Math.floor(hubAckedSeq);
      if (!Number.isSafeInteger(h) || h < 0) return;
      if (h < nextSeq) {
        ack(h);
        return;
      }
      const first = firstPending();
      if (first === undefined) {
        nextSeq = h + 1;
        durable = h;
      } else {
        const delta = h + 1 - first;
        let moved = 0;
        for (const lane of laneList) {
          for (const seg of lane.segments) {
            for (let i = upperBound(seg.seqs, first - 1); i < seg.seqs.length; i++) {
              if (!unreadable.has(seg.seqs[i]!)) moved++;
              seg.seqs[i]! += delta;
            }
          }
        }
        for (const hr of held) {
          if (hr.seq >= first) {
            hr.seq += delta;
            moved++;
          }
        }
        const stillUnreadable = [...unreadable].map((s) => (s >= first ? s + delta : s));
        unreadable.clear();
        for (const s of stillUnreadable) unreadable.add(s);
        lost.renumbered += moved;
        // Kept in position.json: the segments keep the old numbers, and replay applies this.
        remap.push([first, nextSeq - 1, delta]);
        durable = durable >= first ? durable + delta : h;
        nextSeq += delta;
      }
      acked = h;
      persistPosition();
    },

    stats() {
      let pending = held.length - unreadable.size;
      for (const lane of laneList) for (const s of lane.segments) pending += countAbove(s, acked);
      return { pending, bytes, nextSeq, ackedSeq: acked, durableSeq: durable, held: held.length, lastError, lost: { ...lost } };
    },

    close() {
      if (closed) return;
      // Records held in memory get a last chance at the disk; whatever is still refused is lost with the process.
      for (const lane of laneList) flushHeld(lane);
      lost.unwritten += held.length;
      held = [];
      doSync();
      persistPosition();
      for (const lane of laneList) closeActive(lane);
      closed = true;
    },
  };
}
