/** How nodes look in the API: one shape for the list, a fuller one for a single node. */
import type { NodeRecord, Store } from './store.ts';
import { summarizeUse, type UseSummary } from './derive.ts';

export interface NodeSummaryView {
  name: string;
  online: boolean;
  lastSeen: string;
  arch: string | null;
  platform: string | null;
  os: string | null;
  kernel: string | null;
  cpuCores: number | null;
  memoryBytes: number | null;
  rebootRequired: boolean | null;
  agentVersion: string | null;
  use: UseSummary | null;
}

export interface NodeDetailView extends NodeSummaryView {
  machineId: string;
  firstSeen: string;
  facts: NodeRecord['facts'];
  /**
   * The link's sequence state: what the hub has durably stored, what the
   * agent lost (every reason summed, and by reason), and what the hub
   * refused for a timestamp outside its window.
   */
  samples: { ackedSeq: number; dropped: number; lost: NodeRecord['lost']; rejected: number };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The list view of a node, with its latest use. */
export function nodeSummary(store: Pick<Store, 'latestSample'>, n: NodeRecord): NodeSummaryView {
  const latest = store.latestSample(n.id);
  const f = n.facts;
  return {
    name: n.name,
    online: n.online,
    lastSeen: iso(n.lastSeen),
    arch: f?.arch ?? null,
    platform: f?.platform ?? null,
    os: f?.os.prettyName ?? null,
    kernel: f?.kernel ?? null,
    cpuCores: f?.cpu.cores ?? null,
    memoryBytes: f?.memoryBytes ?? null,
    rebootRequired: f?.rebootRequired ?? null,
    agentVersion: n.agentVersion,
    use: latest ? summarizeUse(latest.ts, latest.cpuUsed, latest.data) : null,
  };
}

/** The single-node view: summary plus every fact and the link's sequence state. */
export function nodeDetail(store: Pick<Store, 'latestSample'>, n: NodeRecord): NodeDetailView {
  return {
    ...nodeSummary(store, n),
    machineId: n.machineId,
    firstSeen: iso(n.firstSeen),
    facts: n.facts,
    samples: { ackedSeq: n.ackedSeq, dropped: n.dropped, lost: { ...n.lost }, rejected: n.rejected },
  };
}
