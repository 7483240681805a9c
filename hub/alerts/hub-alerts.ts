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
import { buildServices } from '../services.ts';
import type { AlertsConfig } from './config.ts';
import type { ServiceHealth } from './rules.ts';
import { createAlertEngine, type AlertEngine, type AlertEngineOptions } from './engine.ts';
import { createSmtpMailer } from './mailer.ts';
import { createAlertmanagerForwarder } from './alertmanager.ts';
import { createSilenceStore, type SilenceStore } from './silences.ts';

export interface HubAlertsDeps {
  db: Database.Database;
  store: Pick<Store, 'listNodes' | 'latestSample'>;
  inventory: Pick<Inventory, 'get' | 'views'>;
  registry: Registry;
  config: AlertsConfig;
  now: () => number;
  log: Logger;
}

/** Each node's services, kept until what runs on it changes or it comes or goes: an evaluation then only sums. */
type NodeServices = { key: string; services: Map<string, ServiceHealth> };

/** The engine (not started) and the silences, wired to the hub. */
export function createHubAlerts(deps: HubAlertsDeps, opts?: AlertEngineOptions): { engine: AlertEngine; silences: SilenceStore } {
  const { config, store, inventory, now } = deps;
  const silences = createSilenceStore(deps.db);
  const perNode = new Map<number, NodeServices>();
  /** Services across the fleet for service_down, from per-node summaries rebuilt only when a node changed. */
  /** The node's services, from the cache unless what runs on it changed. */
  const servicesOf = (n: { id: number; name: string; online: boolean }): NodeServices | undefined => {
    const w = inventory.get(n.id);
    if (!w) return undefined;
    const key = `${w.identityVersion}|${n.online ? 1 : 0}`;
    let mine = perNode.get(n.id);
    if (mine?.key !== key) {
      const services = new Map<string, ServiceHealth>();
      for (const s of buildServices(inventory.views([{ id: n.id, name: n.name, online: n.online }]))) {
        const down = s.instances.filter((i) => !i.healthy);
        services.set(s.name.toLowerCase(), { name: s.name, healthy: s.instances.length - down.length, total: s.instances.length, down: down.slice(0, 3).map((i) => ({ node: i.node, name: i.name, state: i.state })) });
      }
      perNode.set(n.id, (mine = { key, services }));
    }
    return mine;
  };
  const serviceHealth = (nodes: { id: number; name: string; online: boolean }[]): ServiceHealth[] => {
    const all = new Map<string, ServiceHealth>();
    const seen = new Set<number>();
    for (const n of nodes) {
      seen.add(n.id);
      const mine = servicesOf(n);
      if (!mine) continue;
      for (const [k, s] of mine.services) {
        const sum = all.get(k);
        if (!sum) all.set(k, { ...s, down: [...s.down] });
        else {
          sum.healthy += s.healthy;
          sum.total += s.total;
          if (sum.down.length < 3) sum.down.push(...s.down.slice(0, 3 - sum.down.length));
        }
      }
    }
    for (const id of perNode.keys()) if (!seen.has(id)) perNode.delete(id);
    return [...all.values()];
  };
  const engine = createAlertEngine({
    db: deps.db, config, now, log: deps.log, silences,
    ...(config.smtp ? { mailer: createSmtpMailer(config.smtp) } : {}),
    ...(config.alertmanagerUrl ? {
      forwarder: createAlertmanagerForwarder({ url: config.alertmanagerUrl, evaluationIntervalMs: config.evaluationIntervalMs, now, ...(config.hubUrl ? { hubUrl: config.hubUrl } : {}) }),
    } : {}),
    fleet: () => {
      const nodes = store.listNodes();
      return {
        nodes,
        latest: (id) => store.latestSample(id),
        workloads: (id) => inventory.get(id),
        services: () => serviceHealth(nodes),
        prepareServices: (chunk) => { for (const n of chunk) servicesOf(n); },
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
