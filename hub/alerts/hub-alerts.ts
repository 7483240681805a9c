/**
 * Assembles alerting for a hub: the engine over the hub's store and
 * inventory, the silences, the mailer and Alertmanager forwarder when the
 * configuration asks for them, and the alert series on the hub's Registry.
 */
import type Database from 'better-sqlite3';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Store } from '../store.ts';
import type { Inventory } from '../inventory.ts';
import type { Logger } from '../agent-gateway.ts';
import type { NodeServices } from '../node-services.ts';
import type { AlertsConfig } from './config.ts';
import type { ServiceHealth } from './rules.ts';
import { createAlertEngine, type AlertEngine, type AlertEngineOptions } from './engine.ts';
import { createSmtpMailer } from './mailer.ts';
import { createAlertmanagerForwarder } from './alertmanager.ts';
import { createSilenceStore, type SilenceStore } from './silences.ts';
import type { StorageHealth } from '../group-commit.ts';

export interface HubAlertsDeps {
  db: Database.Database;
  store: Pick<Store, 'listNodes' | 'latestSample'>;
  inventory: Pick<Inventory, 'get'>;
  registry: Registry;
  config: AlertsConfig;
  /** Each node's services, shared with /metrics. */
  nodeServices: NodeServices;
  /** The storage's health, for the hub_storage rule; absent, never fires. */
  storage?: { health(): StorageHealth };
  now: () => number;
  log: Logger;
}

/** The engine (not started) and the silences, wired to the hub. */
export function createHubAlerts(deps: HubAlertsDeps, opts?: AlertEngineOptions): { engine: AlertEngine; silences: SilenceStore } {
  const { config, store, inventory, now } = deps;
  const silences = createSilenceStore(deps.db);
  /**
   * Services across the fleet for service_down, summed from the per-node
   * cache. The engine hands the nodes over in slices (prepareServices), so
   * the sum is built a slice at a time too: at 2,000 nodes, summing in one
   * go held the event loop for ~80 ms every evaluation.
   */
  const serviceSums = () => {
    const all = new Map<string, ServiceHealth>();
    const added = new Set<number>();
    const add = (n: { id: number; name: string; online: boolean }) => {
      if (added.has(n.id)) return;
      added.add(n.id);
      for (const s of deps.nodeServices.of(n) ?? []) {
        const k = s.name.toLowerCase();
        let sum = all.get(k);
        if (!sum) all.set(k, (sum = { name: s.name, healthy: 0, total: 0, down: [] }));
        for (const i of s.instances) {
          sum.total++;
          if (i.healthy) sum.healthy++;
          else if (sum.down.length < 3) sum.down.push({ node: i.node, name: i.name, state: i.state });
        }
      }
    };
    return { add, all: (nodes: { id: number; name: string; online: boolean }[]) => { for (const n of nodes) add(n); return [...all.values()]; } };
  };
  const engine = createAlertEngine({
    db: deps.db, config, now, log: deps.log, silences,
    ...(config.smtp ? { mailer: createSmtpMailer(config.smtp) } : {}),
    ...(config.alertmanagerUrl ? {
      forwarder: createAlertmanagerForwarder({ url: config.alertmanagerUrl, evaluationIntervalMs: config.evaluationIntervalMs, now, ...(config.hubUrl ? { hubUrl: config.hubUrl } : {}) }),
    } : {}),
    fleet: () => {
      const nodes = store.listNodes();
      const sums = serviceSums();
      return {
        nodes,
        latest: (id) => store.latestSample(id),
        workloads: (id) => inventory.get(id),
        services: () => sums.all(nodes),
        prepareServices: (chunk) => { for (const n of chunk) sums.add(n); },
        ...(deps.storage ? { hub: { storage: deps.storage.health() } } : {}),
      };
    },
  }, opts);
  new Gauge({
    name: 'muster_alerts_firing', help: 'Alerts firing now, by rule.', labelNames: ['rule'], registers: [deps.registry],
    collect() {
      this.reset();
      for (const [rule, n] of engine.firingByRule()) this.set({ rule }, n);
    },
  });
  const counter = (name: string, help: string, read: () => number) => new Counter({
    name, help, registers: [deps.registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
  counter('muster_alert_emails_failed_total', 'Alert emails the mail server did not accept (each is retried).', () => engine.sendFailures());
  counter('muster_alertmanager_posts_failed_total', 'Posts of alerts to Alertmanager that failed (the next evaluation posts again).', () => engine.forwardFailures());
  return { engine, silences };
}
