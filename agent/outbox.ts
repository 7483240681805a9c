/**
 * The agent's outbox: samples and workloads frames go into the on-disk
 * journal (agent/journal.ts) with the next sequence number, and come back
 * out as ready-to-send frames once they are durable. Consecutive samples
 * share one `samples` frame; each workloads record is a frame of its own.
 * Bodies are stored without their sequence number, which is spliced in when
 * a frame is built, so a renumbering never rewrites a body.
 *
 * What the journal lost (overflow, expiry, corruption) is counted since the
 * state directory began, across restarts, in `lost.json` beside it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LostCounts, SampleData, UnsequencedLogs, WorkloadsMessage } from '../protocol/index.ts';
import type { UnsequencedMetrics } from './metric-diff.ts';
import { openJournal, type Journal, type JournalOptions } from './journal.ts';

export interface OutboxOptions {
  /** The state directory; the journal lives in `<dir>/journal`. */
  dir: string;
  /** Bound on the journal's size (default 64 MiB). */
  maxBytes?: number;
  /** Records older than this are dropped (default 12 h). */
  maxAgeMs?: number;
  /** fsync at most this often (default 1 s). */
  syncEveryMs?: number;
  now?: () => number;
  /** Called when more records became durable, i.e. sendable. */
  onDurable?: () => void;
}

/** Frames ready to go, and the highest sequence number they carry. */
export interface OutboxFrames {
  frames: string[];
  lastSeq: number;
  records: number;
}

/** A workloads frame before it has a sequence number. */
export type UnsequencedWorkloads = Omit<WorkloadsMessage, 'seq'>;

export interface Outbox {
  /** Journals a sample; returns its sequence number. */
  pushSample(ts: number, data: SampleData): number;
  /** Journals a workloads frame (a delta or a snapshot part); returns its sequence number. */
  pushWorkloads(frame: UnsequencedWorkloads): number;
  /** Journals a metrics record (a delta or a snapshot part); returns its sequence number. */
  pushMetrics(record: UnsequencedMetrics): number;
  /** Journals a batch of log lines in the `logs` lane (dropped before samples when the journal is full); returns its sequence number. */
  pushLogs(record: UnsequencedLogs): number;
  /** Frames for the durable records after `after`: at most `maxRecords` records and about `maxBytes`. */
  framesAfter(after: number, maxRecords: number, maxBytes: number): OutboxFrames;
  /** Forgets every record up to and including `seq` (a cumulative ack). */
  ack(seq: number): void;
  /** Lines up with the hub's position after a (re)connect (see Journal.rebase). */
  rebase(hubAckedSeq: number): void;
  /** Unacked records. */
  size(): number;
  /** Highest sequence number handed out so far (0 for none). */
  lastSeq(): number;
  /** Highest sequence number such that every record up to it is fsync'd (log positions may be saved up to it). */
  durableSeq(): number;
  /** fsyncs what is journaled now rather than at the next periodic fsync (then onDurable runs). */
  sync(): void;
  /** What was lost since the state directory began, by reason. */
  lost(): LostCounts;
  /** All of `lost()` summed. */
  dropped(): number;
  /** The last disk error of the journal, if any. */
  lastError(): string | undefined;
  close(): void;
}

const SAMPLES_PER_FRAME = 100;
const ZERO: LostCounts = { overflow: 0, expired: 0, corrupt: 0, renumbered: 0, unwritten: 0 };
const sum = (l: LostCounts) => l.overflow + l.expired + l.corrupt + l.renumbered + l.unwritten;

/** Puts `"seq":N` first in a JSON object text (the body of a record). */
const withSeq = (seq: number, body: string) => `{"seq":${seq},${body.slice(1)}`;

function readLost(file: string): LostCounts {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<LostCounts>;
    const out = { ...ZERO };
    for (const k of Object.keys(ZERO) as (keyof LostCounts)[]) if (Number.isSafeInteger(v[k]) && v[k]! >= 0) out[k] = v[k]!;
    return out;
  } catch {
    return { ...ZERO };
  }
}

/** Opens (or creates) the journal in the state directory. */
export function openOutbox(opts: OutboxOptions): Outbox {
  const lostFile = join(opts.dir, 'lost.json');
  const base = readLost(lostFile);
  let saved = JSON.stringify(base);
  const journalOpts: JournalOptions = {
    dir: join(opts.dir, 'journal'),
    ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
    ...(opts.maxAgeMs !== undefined ? { maxAgeMs: opts.maxAgeMs } : {}),
    ...(opts.syncEveryMs !== undefined ? { syncEveryMs: opts.syncEveryMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    onDurable: () => opts.onDurable?.(),
  };
  const journal: Journal = openJournal(journalOpts);
  const now = opts.now ?? Date.now;

  const lost = (): LostCounts => {
    const j = journal.stats().lost;
    return {
      overflow: base.overflow + j.overflow, expired: base.expired + j.expired, corrupt: base.corrupt + j.corrupt,
      renumbered: base.renumbered + j.renumbered, unwritten: base.unwritten + j.unwritten,
    };
  };
  /** Keeps lost.json current; written only when a count moved (rarely). */
  const saveLost = () => {
    const text = JSON.stringify(lost());
    if (text === saved) return;
    try {
      writeFileSync(`${lostFile}.tmp`, text, { mode: 0o600 });
      renameSync(`${lostFile}.tmp`, lostFile);
      saved = text;
    } catch {
      // A full disk: the counts still go to the hub with every frame.
    }
  };
  saveLost();

  return {
    pushSample(ts, data) {
      const seq = journal.append('main', 'sample', ts, JSON.stringify({ ts, data }));
      saveLost();
      return seq;
    },
    pushWorkloads(frame) {
      const seq = journal.append('main', 'workloads', frame.ts ?? now(), JSON.stringify(frame));
      saveLost();
      return seq;
    },
    pushMetrics(record) {
      const seq = journal.append('main', 'metrics', record.ts, JSON.stringify(record));
      saveLost();
      return seq;
    },
    pushLogs(record) {
      const seq = journal.append('logs', 'logs', record.ts, JSON.stringify(record));
      saveLost();
      return seq;
    },
    framesAfter(after, maxRecords, maxBytes) {
      const records = journal.pendingAfter(after, maxRecords, maxBytes);
      const frames: string[] = [];
      const l = lost();
      const tail = `],"dropped":${sum(l)},"lost":${JSON.stringify(l)}}`;
      let samples: string[] = [];
      const endSamples = () => {
        if (samples.length) frames.push(`{"type":"samples","samples":[${samples.join(',')}${tail}`);
        samples = [];
      };
      for (const r of records) {
        if (r.kind === 'sample') {
          samples.push(withSeq(r.seq, r.body));
          if (samples.length >= SAMPLES_PER_FRAME) endSamples();
        } else {
          endSamples();
          frames.push(withSeq(r.seq, r.body));
        }
      }
      endSamples();
      return { frames, lastSeq: records.length ? records[records.length - 1]!.seq : after, records: records.length };
    },
    ack(seq) {
      journal.ack(seq);
    },
    rebase(hubAckedSeq) {
      journal.rebase(hubAckedSeq);
      saveLost();
    },
    size: () => journal.stats().pending,
    lastSeq: () => journal.stats().nextSeq - 1,
    durableSeq: () => journal.durableSeq(),
    sync: () => journal.sync(),
    lost,
    dropped: () => sum(lost()),
    lastError: () => journal.stats().lastError,
    close() {
      saveLost();
      journal.close();
    },
  };
}
