/**
 * The hub's /metrics: its own health (muster_*, on an injected prom-client
 * Registry, plus the process metrics prom-client collects) followed by every
 * node's series. A node that has been offline longer than the staleness stops
 * being exported, so its series go stale in Prometheus instead of freezing at
 * their last value.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Store } from '../store.ts';
import type { Inventory } from '../inventory.ts';
import { buildServices } from '../services.ts';
import { createExpositionWriter } from './exposition.ts';
import { createNodeSeriesCache, writeNodeSeries } from './node-series.ts';

export interface MetricsDeps {
  registry: Registry;
  store: Pick<Store, 'listNodes' | 'latestSample'>;
  inventory: Pick<Inventory, 'get' | 'views'>;
  now: () => number;
}

export interface MetricsOptions {
  /** How long an offline node's series are still exported (default 5 min). */
  stalenessMs?: number;
}

/** Counts what the hub sees and renders /metrics. */
export interface HubMetrics {
  /** A frame from an agent, by message type and size. */
  onFrame(type: string, bytes: number): void;
  /** A DNS query, by how it ended. */
  onDnsQuery(result: string): void;
  /** The exposition text (UTF-8) and its content type. */
  render(): Promise<{ contentType: string; body: Buffer }>;
}

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
  const frames = new Counter({ name: 'muster_agent_messages_received_total', help: 'Frames received from agents, by message type.', labelNames: ['type'], registers: [registry] });
  const bytes = new Counter({ name: 'muster_agent_bytes_received_total', help: 'Bytes of frames received from agents (after decompression).', registers: [registry] });
  const cache = createNodeSeriesCache();
  const dns = new Counter({ name: 'muster_dns_queries_total', help: 'DNS queries answered by the hub, by result.', labelNames: ['result'], registers: [registry] });

  return {
    onFrame(type, size) {
      frames.inc({ type });
      bytes.inc(size);
    },
    onDnsQuery(result) {
      dns.inc({ result });
    },
    async render() {
      const t = now();
      const w = createExpositionWriter();
      const nodes = store.listNodes();
      let online = 0;
      const exported = nodes.filter((n) => n.online || t - n.lastSeen < stalenessMs);
      for (const n of nodes) {
        if (n.online) online++;
      }
      w.add('muster_nodes', 'gauge', 'Nodes the hub knows, by state.', { state: 'online' }, online);
      w.add('muster_nodes', 'gauge', 'Nodes the hub knows, by state.', { state: 'offline' }, nodes.length - online);
      for (const n of exported) {
        const instance = n.name;
        w.add('muster_node_up', 'gauge', 'Whether the node\'s agent is connected (1) or not (0).', { instance }, n.online ? 1 : 0);
        w.add('muster_node_last_seen_timestamp_seconds', 'gauge', 'When the hub last heard from the node.', { instance }, Math.floor(n.lastSeen / 1000));
        w.add('muster_agent_info', 'gauge', 'The agent on each node; value 1.', { instance, version: n.agentVersion ?? '', runtime: n.facts?.runtime ?? '' }, 1);
        w.add('muster_agent_outbox_dropped_samples_total', 'counter', 'Samples the agent dropped from a full outbox since it started.', { instance }, n.dropped);
        writeNodeSeries(w, cache, { name: n.name, facts: n.facts, sample: store.latestSample(n.id)?.data, workloads: inventory.get(n.id) });
      }
      cache.retain(new Set(exported.map((n) => n.name)));
      const services = buildServices(inventory.views(exported.map((n) => ({ id: n.id, name: n.name, online: n.online }))));
      for (const s of services) {
        const healthy = s.instances.filter((i) => i.healthy).length;
        w.add('muster_service_instances', 'gauge', 'Instances of each service, healthy or not.', { service: s.name, state: 'healthy' }, healthy);
        w.add('muster_service_instances', 'gauge', 'Instances of each service, healthy or not.', { service: s.name, state: 'unhealthy' }, s.instances.length - healthy);
        // Two processes of one program on one node are one series: count the healthy ones.
        const rows = new Map<string, { labels: Record<string, string>; healthy: number }>();
        for (const i of s.instances) {
          const labels = { service: s.name, instance: i.node, kind: i.kind, name: i.name, state: i.state };
          const key = JSON.stringify(labels);
          const row = rows.get(key) ?? { labels, healthy: 0 };
          row.healthy += i.healthy ? 1 : 0;
          rows.set(key, row);
        }
        for (const r of rows.values()) {
          w.add('muster_service_instance_info', 'gauge', 'Instances of each service per node, kind, name and state; the value counts the healthy ones.', r.labels, r.healthy);
        }
      }
      const own = await registry.metrics();
      return { contentType: registry.contentType, body: Buffer.concat([Buffer.from(own), w.buffer()]) };
    },
  };
}
