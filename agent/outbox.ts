/**
 * The agent's bounded outbox: every sample gets the next sequence number and
 * stays here until the hub acks it. When full, the oldest sample is dropped
 * and counted, so a long outage costs the oldest data, never the newest.
 */
import type { Sample, SampleData } from '../protocol/index.ts';

export interface OutboxOptions {
  /** Most samples kept (default 4,320: twelve hours at the default 10 s interval). */
  capacity?: number;
}

/** What survives an agent restart. */
export interface OutboxSnapshot {
  nextSeq: number;
  dropped: number;
  samples: Sample[];
}

export interface Outbox {
  /** Adds a sample, numbering it; drops the oldest when full. */
  push(ts: number, data: SampleData): Sample;
  /** Forgets every sample up to and including `seq` (a cumulative ack). */
  ack(seq: number): void;
  /**
   * Lines the outbox up with the hub's stored position after a (re)connect:
   * drops what the hub already has, or renumbers everything after it when
   * this agent lost its numbering (a new state directory).
   */
  rebase(hubAckedSeq: number): void;
  /** Unacked samples with seq greater than `after`, oldest first, at most `limit`. */
  pendingAfter(after: number, limit: number): Sample[];
  size(): number;
  dropped(): number;
  snapshot(): OutboxSnapshot;
}

/** Creates an outbox, optionally restored from a snapshot saved at the last shutdown. */
export function createOutbox(opts: OutboxOptions = {}, restored?: OutboxSnapshot): Outbox {
  const capacity = Math.max(1, opts.capacity ?? 4320);
  let items: Sample[] = restored ? restored.samples.slice(-capacity) : [];
  let nextSeq = restored?.nextSeq ?? 1;
  let dropped = (restored?.dropped ?? 0) + (restored ? restored.samples.length - items.length : 0);
  return {
    push(ts, data) {
      const sample: Sample = { seq: nextSeq++, ts, data };
      items.push(sample);
      if (items.length > capacity) {
        items.shift();
        dropped++;
      }
      return sample;
    },
    ack(seq) {
      let i = 0;
      while (i < items.length && items[i]!.seq <= seq) i++;
      if (i > 0) items = items.slice(i);
    },
    rebase(hubAckedSeq) {
      if (nextSeq - 1 < hubAckedSeq) {
        let seq = hubAckedSeq + 1;
        for (const s of items) s.seq = seq++;
        nextSeq = seq;
      } else {
        this.ack(hubAckedSeq);
      }
    },
    pendingAfter(after, limit) {
      const out: Sample[] = [];
      for (const s of items) {
        if (s.seq <= after) continue;
        out.push(s);
        if (out.length >= limit) break;
      }
      return out;
    },
    size: () => items.length,
    dropped: () => dropped,
    snapshot: () => ({ nextSeq, dropped, samples: items.slice() }),
  };
}
