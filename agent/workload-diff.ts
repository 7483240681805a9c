/**
 * Turns successive readings of a node's workloads into `workloads` frames: a
 * full snapshot after each connect, then only what changed. An idle process,
 * a container whose state did not move, an unchanged unit: none of them is
 * sent again. Frames are cut to stay well under the hub's frame limit.
 */
import { portKey } from '../protocol/plain.ts';
import type { CollectorStates, ContainerUse, WorkloadKeys, WorkloadLists, WorkloadsMessage } from '../protocol/index.ts';

/** Everything the collectors found in one reading. */
export interface WorkloadState {
  lists: WorkloadLists;
  use: ContainerUse[];
  collectors: CollectorStates;
}

type Kind = keyof WorkloadLists;
const KINDS: readonly Kind[] = ['processes', 'containers', 'units', 'ports'];

const keyOf: { [K in Kind]: (item: WorkloadLists[K][number]) => string } = {
  processes: (p) => String(p.pid),
  containers: (c) => c.id,
  units: (u) => u.name,
  ports: (p) => portKey(p),
};

/** Upper bounds that keep every frame far below MAX_FRAME_BYTES (1 MiB) and inside the schema's list caps. */
export interface DiffOptions {
  maxFrameBytes?: number;
  maxItemsPerKind?: number;
}

/** Remembers what the hub was last told and produces the frames that bring it up to date. */
export interface WorkloadDiff {
  /** Every item, in sync frames; forgets what was sent before. */
  snapshot(state: WorkloadState, syncId: number, ts: number): WorkloadsMessage[];
  /** Only the changes since the last snapshot or delta; no frame when nothing changed and no container is running. */
  delta(state: WorkloadState, ts: number): WorkloadsMessage[];
}

const emptyLists = (): WorkloadLists => ({ processes: [], containers: [], units: [], ports: [] });
const emptyKeys = (): WorkloadKeys => ({ processes: [], containers: [], units: [], ports: [] });

/** Creates a diff with nothing sent yet. */
export function createWorkloadDiff(opts: DiffOptions = {}): WorkloadDiff {
  const maxBytes = opts.maxFrameBytes ?? 256 * 1024;
  const maxItems = opts.maxItemsPerKind ?? 1000;
  let sent: Record<Kind, Map<string, string>> = { processes: new Map(), containers: new Map(), units: new Map(), ports: new Map() };
  let sentCollectors = '';

  /** Packs upserts and removals into frames of bounded size and count. */
  function pack(
    upserts: { kind: Kind; item: unknown; bytes: number }[],
    removals: { kind: Kind; key: string }[],
    tail: Pick<WorkloadsMessage, 'use' | 'collectors'>,
    ts: number,
    sync: number | undefined,
  ): WorkloadsMessage[] {
    const frames: WorkloadsMessage[] = [];
    let upsert = emptyLists();
    let remove = emptyKeys();
    let bytes = 0;
    let items = 0;
    const flush = () => {
      frames.push({ type: 'workloads', ts, upsert, remove, use: [] });
      upsert = emptyLists();
      remove = emptyKeys();
      bytes = 0;
      items = 0;
    };
    for (const u of upserts) {
      if (items > 0 && (bytes + u.bytes > maxBytes || upsert[u.kind].length >= maxItems)) flush();
      (upsert[u.kind] as unknown[]).push(u.item);
      bytes += u.bytes;
      items++;
    }
    for (const r of removals) {
      if (items > 0 && (bytes + r.key.length + 4 > maxBytes || remove[r.kind].length >= maxItems)) flush();
      if (r.kind === 'processes') remove.processes.push(Number(r.key));
      else remove[r.kind].push(r.key);
      bytes += r.key.length + 4;
      items++;
    }
    if (items > 0 || frames.length === 0) flush();
    const last = frames[frames.length - 1]!;
    last.use = tail.use;
    if (tail.collectors) last.collectors = tail.collectors;
    if (sync !== undefined) frames.forEach((f, i) => { f.sync = { id: sync, part: i, last: i === frames.length - 1 }; });
    return frames;
  }

  return {
    snapshot(state, syncId, ts) {
      sent = { processes: new Map(), containers: new Map(), units: new Map(), ports: new Map() };
      const upserts: { kind: Kind; item: unknown; bytes: number }[] = [];
      for (const kind of KINDS) {
        for (const item of state.lists[kind]) {
          const json = JSON.stringify(item);
          sent[kind].set((keyOf[kind] as (i: unknown) => string)(item), json);
          upserts.push({ kind, item, bytes: json.length });
        }
      }
      sentCollectors = JSON.stringify(state.collectors);
      return pack(upserts, [], { use: state.use, collectors: state.collectors }, ts, syncId);
    },
    delta(state, ts) {
      const upserts: { kind: Kind; item: unknown; bytes: number }[] = [];
      const removals: { kind: Kind; key: string }[] = [];
      for (const kind of KINDS) {
        const before = sent[kind];
        const now = new Map<string, string>();
        const items = state.lists[kind] as readonly unknown[];
        // An index loop: V8's interpreter (the agent runs --lite-mode) allocates a result object per for-of step.
        for (let ix = 0; ix < items.length; ix++) {
          const item = items[ix];
          const key = (keyOf[kind] as (i: unknown) => string)(item);
          const json = JSON.stringify(item);
          now.set(key, json);
          if (before.get(key) !== json) upserts.push({ kind, item, bytes: json.length });
        }
        before.forEach((_, key) => { if (!now.has(key)) removals.push({ kind, key }); });
        sent[kind] = now;
      }
      const collectorsJson = JSON.stringify(state.collectors);
      const collectorsChanged = collectorsJson !== sentCollectors;
      sentCollectors = collectorsJson;
      if (upserts.length === 0 && removals.length === 0 && state.use.length === 0 && !collectorsChanged) return [];
      return pack(upserts, removals, { use: state.use, ...(collectorsChanged ? { collectors: state.collectors } : {}) }, ts, undefined);
    },
  };
}
