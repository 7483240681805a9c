/**
 * The live inventory of what runs on every node, kept in memory for fast
 * reads (services, DNS, metrics) and written through to SQLite so a hub
 * restart loses nothing. Applies the agents' snapshots and deltas, turns each
 * change into events, and tells subscribers that something changed.
 */
import {
  portKey, redactCommandLine, redactLabels,
  type CollectorStates, type ContainerInfo, type ContainerUse, type ListenPort, type ProcessInfo, type UnitInfo, type WorkloadsMessage,
} from '../protocol/index.ts';
import type { Logger } from './agent-gateway.ts';
import type { NewEvent, WorkloadKind, WorkloadRow, WorkloadStore } from './workload-store.ts';
import { containerEvents, portEvents, unitEvents, type DerivedEvent } from './workload-events.ts';
import { containerServiceName, processServiceName, unitServiceName, type NodeWorkloadView } from './services.ts';

/** One node's workloads in memory. */
export interface NodeWorkloads {
  processes: Map<string, ProcessInfo>;
  containers: Map<string, ContainerInfo>;
  units: Map<string, UnitInfo>;
  ports: Map<string, ListenPort>;
  /** Latest use of each running container; not persisted (the next sample brings it back). */
  use: Map<string, ContainerUse>;
  collectors: CollectorStates;
  /** When the last frame was applied (ms). */
  updatedAt: number;
  /** Bumped whenever items of a kind change, so readers (/metrics) can cache what they derive from them. */
  versions: Record<WorkloadKind, number>;
  /** Bumped whenever container use changes, likewise. */
  useVersion: number;
  /** Bumped whenever what runs changed (not just how much CPU or memory it uses): services, DNS and alerts follow this. */
  identityVersion: number;
}

/**
 * The most items of each kind the hub keeps per node. Far above any real
 * host, low enough that an agent gone wrong cannot grow the hub's memory
 * without bound; beyond it new items are dropped and the drop logged.
 */
export const MAX_PER_NODE: Readonly<Record<WorkloadKind, number>> = { processes: 65_536, containers: 4_096, units: 16_384, ports: 16_384 };

type Items = { processes: ProcessInfo; containers: ContainerInfo; units: UnitInfo; ports: ListenPort };
const KINDS: readonly WorkloadKind[] = ['processes', 'containers', 'units', 'ports'];

interface Sync {
  id: number;
  next: number;
  seen: Record<WorkloadKind, Set<string>>;
}

interface Entry {
  w: NodeWorkloads;
  /** True once a full snapshot (or stored state) exists: the first snapshot of a new node is not news. */
  known: boolean;
  sync?: Sync;
  /** Memory may hold what the disk does not (a commit failed): the next snapshot rewrites the node's rows. */
  unsynced?: boolean;
  /** True while the parts of such a rewriting snapshot arrive. */
  rewriting?: boolean;
}

export interface InventoryDeps {
  store: WorkloadStore;
  now: () => number;
  log: Logger;
}

/** What a node is called and whether it is online, for views. */
export interface NodeRef {
  id: number;
  name: string;
  online: boolean;
}

export interface Inventory {
  /**
   * Applies one `workloads` frame from a node; returns the events it caused.
   * `at` is when it happened (a delta replayed from the agent's journal), default now.
   */
  apply(node: { id: number; name: string }, msg: WorkloadsMessage, at?: number): NewEvent[];
  /** After a failed commit: memory may be ahead of the disk, so each node's next snapshot rewrites all its rows. */
  markUnsynced(): void;
  /** One node's workloads, or undefined when it never reported any. */
  get(nodeId: number): NodeWorkloads | undefined;
  /** Views of the given nodes, for buildServices. */
  views(nodes: NodeRef[]): NodeWorkloadView[];
  /** Records an event that did not come from a workloads frame (node online/offline). */
  record(event: NewEvent): void;
  /** Calls `fn` after every change; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void;
  /** Drops a removed node's workloads from memory (its rows went with the node); DNS and services follow. */
  forget(nodeId: number): void;
}

const emptyNode = (): NodeWorkloads => ({
  processes: new Map(), containers: new Map(), units: new Map(), ports: new Map(), use: new Map(), collectors: {}, updatedAt: 0,
  versions: { processes: 0, containers: 0, units: 0, ports: 0 }, useVersion: 0, identityVersion: 0,
});

function keyOf(kind: WorkloadKind, item: Items[WorkloadKind]): string {
  switch (kind) {
    case 'processes': return String((item as ProcessInfo).pid);
    case 'containers': return (item as ContainerInfo).id;
    case 'units': return (item as UnitInfo).name;
    case 'ports': return portKey(item as ListenPort);
  }
}

/**
 * Whether `after` differs from `before` only in what a process or unit uses
 * (CPU seconds, memory): the figures metrics need, not what DNS, services or
 * the stored inventory care about.
 */
export function onlyUsageMoved(kind: WorkloadKind, before: Items[WorkloadKind], after: Items[WorkloadKind]): boolean {
  if (kind === 'processes') {
    const a = before as ProcessInfo, b = after as ProcessInfo;
    return a.pid === b.pid && a.startTime === b.startTime && a.ppid === b.ppid && a.name === b.name && a.cmdline === b.cmdline
      && a.uid === b.uid && a.user === b.user && a.owner.containerId === b.owner.containerId && a.owner.unit === b.owner.unit;
  }
  if (kind === 'units') {
    const a = before as UnitInfo, b = after as UnitInfo;
    return a.name === b.name && a.description === b.description && a.loadState === b.loadState && a.activeState === b.activeState
      && a.subState === b.subState && a.mainPid === b.mainPid && a.restarts === b.restarts && a.since === b.since;
  }
  return false;
}

/** Copies what `onlyUsageMoved` allows to differ from `after` into `before`. */
function moveUsage(kind: WorkloadKind, before: Items[WorkloadKind], after: Items[WorkloadKind]): void {
  if (kind === 'processes') {
    const a = before as ProcessInfo, b = after as ProcessInfo;
    a.cpuSeconds = b.cpuSeconds;
    a.rssBytes = b.rssBytes;
  } else if (kind === 'units') {
    const a = before as UnitInfo, b = after as UnitInfo;
    if (b.memoryBytes === undefined) delete a.memoryBytes;
    else a.memoryBytes = b.memoryBytes;
  }
}

/**
 * Redacts the secrets an item may carry (a process's command line, a
 * container's command and labels), in place; true when something changed.
 * Agents redact before they send; this catches 0.1.0 agents that did not, and
 * what an older hub stored. `before` is the stored item: text equal to its
 * (already redacted) text needs no second look, which keeps the ingest path cheap.
 */
export function redactItem(kind: WorkloadKind, item: unknown, before?: unknown): boolean {
  if (kind === 'processes') {
    const p = item as ProcessInfo;
    if (before !== undefined && (before as ProcessInfo).cmdline === p.cmdline) return false;
    const cmdline = redactCommandLine(p.cmdline);
    if (cmdline === p.cmdline) return false;
    p.cmdline = cmdline;
    return true;
  }
  if (kind === 'containers') {
    const c = item as ContainerInfo;
    const b = before as ContainerInfo | undefined;
    const command = b?.command === c.command ? c.command : redactCommandLine(c.command);
    const labels = redactLabels(c.labels);
    if (command === c.command && labels === c.labels) return false;
    c.command = command;
    c.labels = labels;
    return true;
  }
  return false;
}

/** Loads the stored inventory and returns it ready for frames. */
export function createInventory(deps: InventoryDeps): Inventory {
  const { store, now, log } = deps;
  const nodes = new Map<number, Entry>();
  const listeners = new Set<() => void>();

  const scrubbed: WorkloadRow[] = [];
  for (const row of store.loadAll()) {
    let e = nodes.get(row.nodeId);
    if (!e) nodes.set(row.nodeId, (e = { w: emptyNode(), known: true }));
    if (redactItem(row.kind, row.data)) scrubbed.push(row);
    (e.w[row.kind] as Map<string, unknown>).set(row.key, row.data);
  }
  if (scrubbed.length) {
    // An older hub stored command lines in clear (twelve rows once held a join token): rewrite them now.
    try {
      store.rewrite(scrubbed);
      log.warn({ rows: scrubbed.length }, 'removed secrets an older version stored with workloads; rows deleted before the upgrade may keep copies in free pages until reused (VACUUM with the hub stopped clears them)');
    } catch (err) {
      // Storage faults never stop the hub: memory is clean, and each node's next snapshot rewrites its rows.
      log.error({ err: (err as Error).message, rows: scrubbed.length }, 'could not remove secrets an older version stored; the next snapshots rewrite those rows');
      for (const id of new Set(scrubbed.map((r) => r.nodeId))) nodes.get(id)!.unsynced = true;
    }
  }
  for (const [nodeId, collectors] of store.loadCollectors()) {
    let e = nodes.get(nodeId);
    if (!e) nodes.set(nodeId, (e = { w: emptyNode(), known: true }));
    e.w.collectors = collectors;
  }

  const notify = () => {
    for (const fn of listeners) {
      try { fn(); } catch (err) { log.error({ err }, 'inventory subscriber failed'); }
    }
  };

  /** The service name a socket's holder is known by, for port events. */
  function portService(w: NodeWorkloads, p: ListenPort): string | null {
    if (p.owner.containerId) {
      const c = w.containers.get(p.owner.containerId);
      return c ? containerServiceName(c) : null;
    }
    if (p.owner.unit?.endsWith('.service')) return unitServiceName(p.owner.unit);
    const proc = p.pid !== undefined ? w.processes.get(String(p.pid)) : undefined;
    return proc ? processServiceName(proc) : p.process ?? null;
  }

  function derive(w: NodeWorkloads, kind: WorkloadKind, before: unknown, after: unknown): DerivedEvent[] {
    switch (kind) {
      case 'containers': return containerEvents(before as ContainerInfo | undefined, after as ContainerInfo | undefined);
      case 'units': return unitEvents(before as UnitInfo | undefined, after as UnitInfo | undefined);
      case 'ports': {
        const p = (after ?? before) as ListenPort;
        return portEvents(before as ListenPort | undefined, after as ListenPort | undefined, portService(w, p));
      }
      case 'processes': return [];
    }
  }

  return {
    apply(node, msg, at) {
      let entry = nodes.get(node.id);
      if (!entry) nodes.set(node.id, (entry = { w: emptyNode(), known: false }));
      const { w } = entry;
      const ts = at ?? now();
      let clear = false;
      if (msg.sync?.part === 0 && entry.unsynced) {
        entry.unsynced = false;
        entry.rewriting = true;
        clear = true;
      }
      const quiet = !entry.known; // the first inventory of a node: everything is "new", nothing is news
      const derived: DerivedEvent[] = [];
      const upserts: { kind: WorkloadKind; key: string; data: unknown }[] = [];
      const removes: { kind: WorkloadKind; key: string }[] = [];
      const changed: Record<WorkloadKind, number> = { processes: 0, containers: 0, units: 0, ports: 0 };

      if (msg.sync) {
        if (msg.sync.part === 0) entry.sync = { id: msg.sync.id, next: 0, seen: { processes: new Set(), containers: new Set(), units: new Set(), ports: new Set() } };
        if (!entry.sync || entry.sync.id !== msg.sync.id || entry.sync.next !== msg.sync.part) {
          // A part of a snapshot whose beginning we missed: apply it, but do not trust it to say what is gone.
          log.warn({ node: node.name, sync: msg.sync }, 'workload snapshot part out of order; waiting for the next snapshot');
          entry.sync = undefined;
          if (entry.rewriting) { entry.rewriting = false; entry.unsynced = true; }
        } else {
          entry.sync.next++;
        }
      }
      // Containers first: port events name the container that holds the port.
      const order: WorkloadKind[] = ['containers', 'units', 'processes', 'ports'];
      for (const kind of order) {
        const map = w[kind] as Map<string, unknown>;
        let refused = 0;
        for (const item of msg.upsert[kind] as Items[WorkloadKind][]) {
          const key = keyOf(kind, item);
          entry.sync?.seen[kind].add(key);
          const before = map.get(key);
          redactItem(kind, item, before);
          if (before === undefined && map.size >= MAX_PER_NODE[kind]) {
            refused++;
            continue;
          }
          const usageOnly = before !== undefined && onlyUsageMoved(kind, before as Items[WorkloadKind], item);
          if (!quiet) derived.push(...derive(w, kind, before, item));
          if (usageOnly) {
            // Keep the stored object and move its figures. Replacing it every interval left the old one
            // as garbage in V8's old space and made the new one survive scavenges: most of the hub's GC.
            moveUsage(kind, before as Items[WorkloadKind], item);
          } else {
            map.set(key, item);
          }
          changed[kind]++;
          // A process's CPU and memory move every interval; writing them to disk each time costs
          // more than they are worth after a restart (the agent's snapshot on reconnect refreshes them).
          if (!usageOnly || entry.rewriting) upserts.push({ kind, key, data: usageOnly ? before : item });
          if (kind === 'containers' && (item as ContainerInfo).state !== 'running') w.use.delete(key);
        }
        if (refused > 0) log.warn({ node: node.name, kind, refused, max: MAX_PER_NODE[kind] }, 'node reports more workload items than the hub keeps; extra items dropped');
        for (const raw of msg.remove[kind]) {
          const key = String(raw);
          const before = map.get(key);
          if (before === undefined) continue;
          map.delete(key);
          removes.push({ kind, key });
          if (!quiet) derived.push(...derive(w, kind, before, undefined));
          if (kind === 'containers') w.use.delete(key);
        }
      }
      if (msg.sync?.last && entry.sync) {
        for (const kind of KINDS) {
          const map = w[kind] as Map<string, unknown>;
          for (const [key, before] of map) {
            if (entry.sync.seen[kind].has(key)) continue;
            map.delete(key);
            removes.push({ kind, key });
            if (!quiet) derived.push(...derive(w, kind, before, undefined));
          }
        }
        entry.sync = undefined;
        entry.known = true;
        entry.rewriting = false;
      }
      for (const r of removes) changed[r.kind]++;
      for (const kind of KINDS) w.versions[kind] += changed[kind];
      if (msg.sync) w.use.clear();
      for (const u of msg.use) {
        const had = w.use.get(u.id);
        if (!had) { w.use.set(u.id, u); continue; }
        // As for processes: the stored reading takes the new figures; the frame's object dies young.
        had.cpuSeconds = u.cpuSeconds; had.memoryBytes = u.memoryBytes; had.workingSetBytes = u.workingSetBytes;
        had.rxBytes = u.rxBytes; had.txBytes = u.txBytes;
        if (u.memoryLimitBytes === undefined) delete had.memoryLimitBytes; else had.memoryLimitBytes = u.memoryLimitBytes;
      }
      if (msg.sync || msg.use.length > 0 || changed.containers > 0) w.useVersion++;
      if (msg.collectors) w.collectors = msg.collectors;
      w.updatedAt = ts;

      const events: NewEvent[] = derived.map((d) => ({ ts, nodeId: node.id, ...d }));
      if (upserts.length || removes.length) w.identityVersion++;
      if (upserts.length || removes.length || msg.collectors || events.length || clear) {
        store.apply(node.id, { upserts, removes, ...(msg.collectors ? { collectors: msg.collectors } : {}), events, ...(clear ? { clear } : {}) }, ts);
        notify();
      }
      return events;
    },
    markUnsynced() {
      for (const e of nodes.values()) e.unsynced = true;
    },
    get: (nodeId) => nodes.get(nodeId)?.w,
    views(refs) {
      const out: NodeWorkloadView[] = [];
      for (const ref of refs) {
        const w = nodes.get(ref.id)?.w;
        if (!w) continue;
        out.push({ node: ref.name, online: ref.online, ...w });
      }
      return out;
    },
    record(event) {
      store.appendEvents([event]);
      notify();
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    forget(nodeId) {
      nodes.delete(nodeId);
      notify(); // also without workloads: subscribers (the DNS zone) drop the node's own name
    },
  };
}
