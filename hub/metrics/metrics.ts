/**
 * The hub's /metrics: its own health (muster_*, on an injected prom-client
 * Registry, plus the process metrics prom-client collects) followed by every
 * node's series. A node that has been offline longer than the staleness stops
 * being exported, so its series go stale in Prometheus instead of freezing at
 * their last value.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Store } from '../store.ts';
import type { Inventory } from '../inventory.ts';
import type { NodeServices } from '../node-services.ts';
import type { HostFacts } from '../../protocol/index.ts';
import type { NodeRecord } from '../store.ts';
import { createExpositionWriter, createFamilyCollector, createSequentialWriter, labelText, type FamilyText, type FamilyType, type FamilyWriter, type Labels } from './exposition.ts';
import { createNodeSeriesCache, writeNodeSeries } from './node-series.ts';
import type { AgentFamilies } from './agent-families.ts';
import { createRuntimeMetrics } from './runtime-metrics.ts';
import type { CommitStats, StorageHealth } from '../group-commit.ts';
import type { DnsEvent } from '../../dns/events.ts';

export interface MetricsDeps {
  registry: Registry;
  store: Pick<Store, 'listNodes' | 'latestSample' | 'getNodeById' | 'getNodeByName'>;
  inventory: Pick<Inventory, 'get'>;
  /** Each node's services, shared with alerting. */
  nodeServices: NodeServices;
  now: () => number;
  /** The group commit, for the storage series; absent, none. */
  storage?: { health(): StorageHealth; stats(): CommitStats; onCommit(fn: (seconds: number) => void): () => void };
  /** The metric families agents ship themselves (protocol 3); absent, nodes' series are derived from samples and workloads only. */
  families?: Pick<AgentFamilies, 'has' | 'version' | 'names' | 'write' | 'rejected' | 'forget'>;
}

export interface MetricsOptions {
  /** How long an offline node's series are still exported (default 5 min). */
  stalenessMs?: number;
  /** How long after a node's data changed its series are rendered ahead of the next scrape (default 1 s: its sample and workloads both in). */
  prerenderDelayMs?: number;
}

/** Counts what the hub sees and renders /metrics. */
export interface HubMetrics {
  /** A frame from an agent, by message type and size. */
  onFrame(type: string, bytes: number): void;
  /** A DNS query, by how it ended. */
  onDnsQuery(result: string): void;
  /** Something the DNS server's defences did: a refusal, a rate-limited or truncated answer, a spoofed upstream answer dropped, a TCP connection closed. */
  onDnsEvent(event: DnsEvent): void;
  /**
   * A node sent data: its series will be rendered soon, in small slices off
   * the scrape path, so that a scrape mostly joins text rendered already.
   * Does nothing while nobody scrapes.
   */
  nodeChanged(nodeId: number): void;
  /** Renders every node whose data changed now, instead of after the delay (tests and benches). */
  prerenderNow(): void;
  /**
   * The exposition as UTF-8 chunks, in order, and its content type. Chunks,
   * not one buffer: for a large fleet, joining 50 MB costs more than
   * everything else a scrape does; the route streams them as they are.
   */
  render(): Promise<{ contentType: string; chunks: Buffer[]; bytes: number }>;
  /**
   * One node's series alone, for Prometheus scraping each node as its own
   * target (GET /metrics/nodes/NAME): exactly the lines the fleet's render
   * has for that node, from the same cached text. `unknown` for a name the
   * hub does not know; `offline` while its agent is not connected, so that
   * the target's `up` is 0 and its series end at once.
   */
  renderNode(name: string): Promise<NodeRender>;
  /**
   * /metrics without any node's series: the hub's own and the fleet's totals
   * (muster_nodes, muster_service_instances), for Prometheus scraping the
   * nodes one by one. A node's series are in exactly one of the two.
   */
  renderFleet(): Promise<{ contentType: string; chunks: Buffer[]; bytes: number }>;
  /** Only the hub's own series (muster_hub_*, muster_alerts_*...), without a node's: cheap, and starts no prerendering. */
  renderHub(): Promise<{ contentType: string; text: string }>;
  /** Drops a removed node's rendered series: SQLite may give its id to the next node, whose text must not match the old key. */
  forget(nodeId: number): void;
  /** Stops the prerender timer. */
  close(): void;
}

/** What a per-node scrape gets: the exposition, or why there is none. */
export type NodeRender =
  | { kind: 'ok'; contentType: string; chunks: Buffer[]; bytes: number }
  | { kind: 'unknown' }
  | { kind: 'offline'; lastSeen: number };

/** Where a node's series are written: the fleet's writer, or a node's own. */
interface NodeSink {
  family(name: string, type: FamilyType, help: string): FamilyWriter;
  add(name: string, type: FamilyType, help: string, labels: Labels, value: number): void;
}

/** Work between two turns of the event loop while a scrape is assembled. */
const SCRAPE_SLICE_MS = 5;

/** A node's rendered series and what they were rendered from. */
interface NodeText {
  key: string;
  families: FamilyText[];
  /** The node's instances per service (by lower-case name), summed across nodes at the scrape. */
  services: Map<string, { name: string; healthy: number; total: number }>;
}

/** A scrape within this long keeps prerendering on; without scrapes the hub renders nothing. */
const SCRAPED_RECENTLY_MS = 10 * 60_000;
/** Nodes rendered per slice: ~1 ms each, so a slice never holds the event loop long. */
const SLICE = 10;

/** What the facts contribute to a node's series; a change re-renders it. */
const factsKey = (f: HostFacts | null) => (f ? `${f.bootTime}|${f.kernel}|${f.platform}|${f.hostname}|${f.os.prettyName}|${f.rebootRequired}` : '-');

/** Registers the hub's metrics on the registry it is given. */
export function createHubMetrics(deps: MetricsDeps, opts: MetricsOptions = {}): HubMetrics {
  const { registry, store, inventory, now } = deps;
  const stalenessMs = opts.stalenessMs ?? 5 * 60_000;
  // prom-client's default metrics include gauges named *_total, which promtool rejects; the hub's own two suffice.
  new Gauge({
    name: 'muster_hub_resident_memory_bytes', help: 'Resident memory of the hub process.', registers: [registry],
    collect() { this.set(process.memoryUsage.rss()); },
  });
  new Counter({
    name: 'muster_hub_cpu_seconds_total', help: 'CPU time of the hub process (user + system).', registers: [registry],
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc((u.user + u.system) / 1e6);
    },
  });
  const runtime = createRuntimeMetrics(registry);
  const storage = deps.storage;
  if (storage) {
    new Gauge({ name: 'muster_hub_storage_ok', help: '1 while the hub\'s storage takes writes, 0 while it fails (then nothing is acked and agents hold their data).', registers: [registry], collect() { this.set(storage.health().ok ? 1 : 0); } });
    const counterOf = (name: string, help: string, read: (s: CommitStats) => number) => new Counter({
      name, help, registers: [registry], collect() { this.reset(); this.inc(read(storage.stats())); },
    });
    counterOf('muster_hub_commits_total', 'Group commits of agents\' data (each fsync\'d before its acks).', (s) => s.commits);
    counterOf('muster_hub_commit_failures_total', 'Group commits that failed (disk full, I/O error); their writes were not acked.', (s) => s.failures);
    counterOf('muster_hub_commit_seconds_total', 'Time spent committing agents\' data, fsync included.', (s) => s.seconds);
    const took = new Histogram({
      name: 'muster_hub_commit_duration_seconds', help: 'How long each group commit took, fsync included: acks wait for it.',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1], registers: [registry],
    });
    storage.onCommit((s) => took.observe(s));
  }
  const frames = new Counter({ name: 'muster_agent_messages_received_total', help: 'Frames received from agents, by message type.', labelNames: ['type'], registers: [registry] });
  const bytes = new Counter({ name: 'muster_agent_bytes_received_total', help: 'Bytes of frames received from agents (after decompression).', registers: [registry] });
  const frameChildren = new Map<string, ReturnType<typeof frames.labels>>();
  const cache = createNodeSeriesCache();
  const dns = new Counter({ name: 'muster_dns_queries_total', help: 'DNS queries answered by the hub, by result.', labelNames: ['result'], registers: [registry] });
  const dnsChildren = new Map<string, ReturnType<typeof dns.labels>>();
  const dnsEvents = dnsEventCounters(registry);
  const texts = new Map<number, NodeText>();
  const dirty = new Set<number>();
  let lastScrape = -Infinity;
  let timer: NodeJS.Timeout | undefined;

  /** The node's series, rendered again only when its sample, workloads or facts changed. */
  function textOf(n: NodeRecord): NodeText {
    const latest = store.latestSample(n.id);
    const wl = inventory.get(n.id);
    const v = wl?.versions;
    const fams = deps.families?.has(n.id) ? deps.families : undefined;
    const key = `${latest?.seq ?? 0}|${v ? `${v.processes},${v.containers},${v.units},${v.ports},${wl.useVersion}` : '-'}|${n.online ? 1 : 0}|${factsKey(n.facts)}|${fams ? fams.version(n.id) : '-'}`;
    const have = texts.get(n.id);
    if (have?.key === key) return have;
    const c = createFamilyCollector();
    writeNodeSeries(c, cache, {
      name: n.name, facts: n.facts, sample: latest?.data, workloads: wl,
      ...(fams ? { families: { names: fams.names(n.id), write: (inst, out) => fams.write(n.id, inst, out) } } : {}),
    });
    if (fams) {
      c.family('muster_agent_metrics_rejected_total', 'counter', 'Parts of the node\'s metrics records the hub skipped (bad labels, unknown ids, negative counters) since it started.')
        .line(labelText({ instance: n.name }), fams.rejected(n.id));
    }
    const services = new Map<string, { name: string; healthy: number; total: number }>();
    if (wl) {
      // This node's instances, as the service series name them: rendered with the node, summed at the scrape.
      const info = c.family('muster_service_instance_info', 'gauge', 'Instances of each service per node, kind, name and state; the value counts the healthy ones.');
      for (const s of deps.nodeServices.of(n) ?? []) {
        let healthy = 0;
        // Two processes of one program on one node are one series: count the healthy ones.
        const rows = new Map<string, number>();
        for (const i of s.instances) {
          if (i.healthy) healthy++;
          const labels = labelText({ service: s.name, instance: i.node, kind: i.kind, name: i.name, state: i.state });
          rows.set(labels, (rows.get(labels) ?? 0) + (i.healthy ? 1 : 0));
        }
        for (const [labels, count] of rows) info.line(labels, count);
        services.set(s.name.toLowerCase(), { name: s.name, healthy, total: s.instances.length });
      }
    }
    const text = { key, families: c.entries(), services };
    texts.set(n.id, text);
    return text;
  }

  /** Every series of one node, in the fleet's render and in its own alike: one code path, so the two cannot differ. */
  const writeNode = (w: NodeSink, n: NodeRecord) => {
    const instance = n.name;
    w.add('muster_node_up', 'gauge', 'Whether the node\'s agent is connected (1) or not (0).', { instance }, n.online ? 1 : 0);
    w.add('muster_node_last_seen_timestamp_seconds', 'gauge', 'When the hub last heard from the node.', { instance }, Math.floor(n.lastSeen / 1000));
    w.add('muster_agent_info', 'gauge', 'The agent on each node; value 1.', { instance, version: n.agentVersion ?? '', runtime: n.facts?.runtime ?? '' }, 1);
    w.add('muster_agent_outbox_dropped_samples_total', 'counter', 'Samples the agent dropped from a full outbox since it started.', { instance }, n.dropped);
    for (const f of textOf(n).families) w.family(f.name, f.type, f.help).raw(f.bytes);
  };

  /** Renders up to `max` of the nodes whose data changed. */
  const renderDirty = (max: number) => {
    let done = 0;
    for (const id of dirty) {
      if (done++ >= max) break;
      dirty.delete(id);
      const n = store.getNodeById(id);
      if (n) textOf(n);
    }
  };
  const prerenderSlice = () => {
    timer = undefined;
    renderDirty(SLICE);
    if (dirty.size > 0) timer = setTimeout(prerenderSlice, 0);
  };

  return {
    onFrame(type, size) {
      // A child per type, made once: inc({ type }) hashes the labels on every frame.
      let child = frameChildren.get(type);
      if (!child) frameChildren.set(type, (child = frames.labels({ type })));
      child.inc();
      bytes.inc(size);
    },
    onDnsQuery(result) {
      // A child per result, made once: a query flood should not hash labels per packet.
      let child = dnsChildren.get(result);
      if (!child) dnsChildren.set(result, (child = dns.labels({ result })));
      child.inc();
    },
    onDnsEvent(event) {
      dnsEvents[event].inc();
    },
    nodeChanged(nodeId) {
      if (now() - lastScrape > SCRAPED_RECENTLY_MS) return;
      dirty.add(nodeId);
      if (!timer) {
        timer = setTimeout(prerenderSlice, opts.prerenderDelayMs ?? 1000);
        timer.unref();
      }
    },
    prerenderNow() {
      clearTimeout(timer);
      timer = undefined;
      renderDirty(Infinity);
    },
    forget(nodeId) {
      deps.families?.forget(nodeId);
      texts.delete(nodeId);
      dirty.delete(nodeId);
    },
    close() {
      clearTimeout(timer);
      timer = undefined;
      runtime.close();
    },
    async renderNode(name) {
      lastScrape = now();
      const n = store.getNodeByName(name);
      if (!n) return { kind: 'unknown' };
      if (!n.online) {
        // Its text would be served again only once it is back, with new data: keep no copy meanwhile.
        texts.delete(n.id);
        return { kind: 'offline', lastSeen: n.lastSeen };
      }
      // One node's families come whole, one after another: each header goes right before its cached bytes.
      const w = createSequentialWriter();
      writeNode(w, n);
      const chunks = w.buffers();
      return { kind: 'ok', contentType: registry.contentType, chunks, bytes: chunks.reduce((sum, c) => sum + c.length, 0) };
    },
    async renderHub() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
    render: () => renderAll(true),
    renderFleet: () => renderAll(false),
  };

  /** The fleet's exposition: the hub's own series, the fleet's totals and, `withNodes`, every node's series. */
  async function renderAll(withNodes: boolean): Promise<{ contentType: string; chunks: Buffer[]; bytes: number }> {
    const t = now();
    lastScrape = t;
    const w = createExpositionWriter();
    const nodes = store.listNodes();
    let online = 0;
    const exported = nodes.filter((n) => n.online || t - n.lastSeen < stalenessMs);
    for (const n of nodes) {
      if (n.online) online++;
    }
    w.add('muster_nodes', 'gauge', 'Nodes the hub knows, by state.', { state: 'online' }, online);
    w.add('muster_nodes', 'gauge', 'Nodes the hub knows, by state.', { state: 'offline' }, nodes.length - online);
    // A scrape of a large fleet must not hold the event loop for long: agents' acks wait behind it.
    let sliceStart = performance.now();
    for (const n of exported) {
      if (performance.now() - sliceStart > SCRAPE_SLICE_MS) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
      }
      // Without the nodes' series (they are scraped one by one), their text is still what the services are summed from.
      if (withNodes) writeNode(w, n);
      else textOf(n);
    }
    cache.retain(new Set(exported.map((n) => n.name)));
    const kept = new Set(exported.map((n) => n.id));
    for (const id of texts.keys()) if (!kept.has(id)) texts.delete(id);
    const services = new Map<string, { name: string; healthy: number; total: number }>();
    for (const n of exported) {
      for (const [k, c] of texts.get(n.id)?.services ?? []) {
        const sum = services.get(k);
        if (sum) { sum.healthy += c.healthy; sum.total += c.total; } else services.set(k, { ...c });
      }
    }
    const instances = w.family('muster_service_instances', 'gauge', 'Instances of each service, healthy or not.');
    for (const s of [...services.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      instances.line(labelText({ service: s.name, state: 'healthy' }), s.healthy);
      instances.line(labelText({ service: s.name, state: 'unhealthy' }), s.total - s.healthy);
    }
    const own = await registry.metrics();
    const chunks = [Buffer.from(own), ...w.buffers()];
    return { contentType: registry.contentType, chunks, bytes: chunks.reduce((sum, c) => sum + c.length, 0) };
  }
}

/**
 * The DNS defences' counters, every series made at start (at 0) so that
 * alerting on `increase()` works from the first scrape; one entry per event,
 * so the compiler catches an event without a series.
 */
function dnsEventCounters(registry: Registry): Record<DnsEvent, { inc(value?: number): void }> {
  const c = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers: [registry] });
  const refused = c('muster_dns_refused_total', 'DNS queries refused: recursion asked by a client outside --dns-allow, or a zone transfer.', ['reason']);
  const limited = c('muster_dns_rate_limited_total', 'UDP answers held back by response rate limiting: dropped, or slipped (sent truncated so a real client retries over TCP).', ['action']);
  const truncated = c('muster_dns_truncated_total', 'UDP answers that did not fit the client\'s size limit and went out truncated (TC).');
  const upstream = c('muster_dns_upstream_answers_dropped_total', 'Messages from upstream resolvers thrown away as spoofed or malformed: wrong source, id or question.', ['reason']);
  const tcp = c('muster_dns_tcp_connections_closed_total', 'DNS TCP connections the hub closed: idle, over the per-client or total cap, or evicted to make room.', ['reason']);
  const series: Record<DnsEvent, { inc(value?: number): void }> = {
    refused_recursion: refused.labels({ reason: 'recursion' }),
    refused_zone_transfer: refused.labels({ reason: 'zone_transfer' }),
    rate_limited_dropped: limited.labels({ action: 'dropped' }),
    rate_limited_slipped: limited.labels({ action: 'slipped' }),
    truncated,
    upstream_wrong_source: upstream.labels({ reason: 'wrong_source' }),
    upstream_wrong_id: upstream.labels({ reason: 'wrong_id' }),
    upstream_wrong_question: upstream.labels({ reason: 'wrong_question' }),
    upstream_malformed: upstream.labels({ reason: 'malformed' }),
    tcp_idle: tcp.labels({ reason: 'idle' }),
    tcp_client_limit: tcp.labels({ reason: 'client_limit' }),
    tcp_evicted: tcp.labels({ reason: 'evicted' }),
    tcp_total_limit: tcp.labels({ reason: 'total_limit' }),
  };
  // labels() alone exports nothing: inc(0) puts every series on /metrics at 0.
  for (const s of Object.values(series)) s.inc(0);
  return series;
}
