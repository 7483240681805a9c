/**
 * The hub's composition root: opens the store, wires the subsystems together,
 * makes sure an admin token exists, and listens. Nothing else in hub/ listens.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStore, openHubDatabase } from './store.ts';
import { createWorkloadStore } from './workload-store.ts';
import { createInventory } from './inventory.ts';
import { createTokenService, type TokenService } from './tokens.ts';
import { createMembership } from './membership.ts';
import { createAgentGateway, type AgentGatewayOptions } from './agent-gateway.ts';
import { createMaintenance } from './maintenance.ts';
import { buildServer } from './server.ts';
import { pino } from 'pino';
import { networkInterfaces } from 'node:os';
import { createZoneSource } from './dns-zone.ts';
import { Registry } from 'prom-client';
import { createHubMetrics } from './metrics/metrics.ts';
import { createAgentFamilies } from './metrics/agent-families.ts';
import { createResolver } from '../dns/resolver.ts';
import { createForwarder, parseResolvConf, type Upstream } from '../dns/forwarder.ts';
import { startDnsServer, type DnsServer, type RateLimitConfig } from '../dns/server.ts';
import { createClientAcl } from '../dns/client-acl.ts';
import { MUSTER_VERSION, describeAction, type DeployRequest } from '../protocol/index.ts';
import { randomBytes } from 'node:crypto';
import { createJobStore } from './job-store.ts';
import { createDeployService, type DeployServiceOptions } from './deploys.ts';
import { defaultAlertsConfig, type AlertsConfig } from './alerts/config.ts';
import type { AlertEngineOptions } from './alerts/engine.ts';
import { createHubAlerts } from './alerts/hub-alerts.ts';
import { createNodeServices } from './node-services.ts';
import { createGroupCommit, type GroupCommitOptions } from './group-commit.ts';
import { createWriteBudget, type WriteBudgetOptions } from './write-budget.ts';
import { createStorageProbe } from './storage-probe.ts';
import { startCheckpointer } from './checkpointer.ts';
import { ensureHubTls, type TlsConfig } from './tls.ts';
import { createAgentBundle } from './agent-bundle.ts';
import { createAgentUpgrades } from './agent-upgrades.ts';
import { createSampleHistory } from './sample-history.ts';
import { createHubLogs, type HubLogsOptions } from './logs/hub-logs.ts';
import { createAuditLog, deployAuditAction } from './audit.ts';

export interface HubOptions {
  /** Directory for the database and admin token. */
  dataDir: string;
  host: string;
  port: number;
  /** pino logger options, or false for silence. */
  logger?: boolean | object;
  gateway?: AgentGatewayOptions;
  /** Deploy queue and run timeouts. */
  deploys?: DeployServiceOptions;
  now?: () => number;
  /** Bundled agent to serve at /dl/muster-agent.js (default: dist/muster-agent.js of this checkout). */
  agentBundle?: string;
  /** The agent installer to serve at /install.sh (default: install/agent-install.sh beside dist/). */
  installScript?: string;
  /** The DNS server; false for none. */
  dns?: DnsOptions | false;
  /** How long an offline node's series stay on /metrics (default 5 min). */
  metricsStalenessMs?: number;
  /** Alert rules and email (`--alerts FILE`); the built-in rules without email when absent. */
  alerts?: AlertsConfig;
  /** Overrides the alert engine's retry timing (tests). */
  alertOptions?: AlertEngineOptions;
  /** Group commit timing (default: every 20 ms). */
  commits?: GroupCommitOptions;
  /** Per-node write budgets (`--node-bytes-per-minute`, `--node-rows-per-minute`). */
  writeBudget?: WriteBudgetOptions;
  /** TLS: on by default with the hub's own CA; `{ disabled: true }` for plain HTTP. */
  tls?: TlsConfig;
  /** /metrics and service discovery without a token (`--metrics-public`). */
  metricsPublic?: boolean;
  /** How long the audit log keeps its entries (`--audit-retention`, default 90 days). */
  auditRetentionMs?: number;
  /** Recent logs for `muster logs` and pushes to Loki (`--loki`, `--logs-max-age`, `--logs-max-size`). */
  logs?: HubLogsOptions;
}

/** Where and how the hub serves DNS. */
export interface DnsOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Default `internal`. */
  domain?: string;
  /** Default: the nameservers of /etc/resolv.conf. */
  upstreams?: Upstream[];
  /** Answer TTL in seconds (default 30). */
  ttl?: number;
  /** Negative-answer TTL in seconds (default 10). */
  negativeTtl?: number;
  /** CIDRs that may have names outside the domain resolved (`--dns-allow`); default loopback and the subnets of this machine's interfaces. */
  allow?: string[];
  /** UDP response rate limiting (`--dns-rate-limit`); default 20/s per prefix for clients outside `allow`, false for none. */
  rateLimit?: RateLimitConfig | false;
}

/** A hub that is listening. */
export interface RunningHub {
  /** Base HTTP URL, e.g. http://127.0.0.1:7070 */
  url: string;
  port: number;
  /** The DNS port (UDP and TCP), when DNS is on. */
  dnsPort?: number;
  adminToken: string;
  /** True when this start created the admin token. */
  adminTokenCreated: boolean;
  /** `sha256:<hex>` of the CA agents pin (`--ca-hash`); undefined without TLS. */
  caHash?: string;
  /** The CA's certificate file, for the CLI and Prometheus; undefined without TLS or with your own certificate. */
  caFile?: string;
  tokens: TokenService;
  close(): Promise<void>;
}

/**
 * Reuses the admin token kept in `<data>/admin.token` while it is valid;
 * otherwise issues one and writes it there with mode 0600.
 */
export function ensureAdminToken(tokens: TokenService, dataDir: string): { token: string; created: boolean } {
  const file = join(dataDir, 'admin.token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    const record = tokens.verify(token);
    if (record?.role === 'admin') return { token, created: false };
  }
  const { token } = tokens.create('admin', { label: 'first admin token' });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return { token, created: true };
}

/** Starts a hub on the given data directory and address. */
export async function startHub(opts: HubOptions): Promise<RunningHub> {
  const now = opts.now ?? Date.now;
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const log = pino(opts.logger === false ? { enabled: false } : opts.logger === true || opts.logger === undefined ? {} : opts.logger);
  const tls = ensureHubTls(opts.dataDir, opts.tls ?? {});
  if (!tls) log.warn('TLS is off (--no-tls): admin tokens, node credentials and deploy secrets cross the network in clear, and agents cannot tell this hub from an impostor');
  const dbPath = join(opts.dataDir, 'muster.db');
  const { db, exclusive } = openHubDatabase(dbPath, log);
  // A database this process opened alone (full disk) cannot be shared with the worker: it checkpoints itself.
  const checkpointer = exclusive ? undefined : startCheckpointer({ db, path: dbPath, log });
  const commits = createGroupCommit({ db, now, log }, opts.commits);
  const store = createStore({ db, commits });
  const workloadStore = createWorkloadStore(db);
  const tokens = createTokenService({ store, now });
  const membership = createMembership({ store, tokens, now });
  const admin = ensureAdminToken(tokens, opts.dataDir);
  // Workload changes and events ride the group commit too: one fsync covers a whole batch of frames.
  const queuedWorkloads = {
    ...workloadStore,
    apply: (nodeId: number, changes: Parameters<typeof workloadStore.apply>[1], ts: number) => commits.enqueue(() => workloadStore.apply(nodeId, changes, ts)),
    appendEvents: (events: Parameters<typeof workloadStore.appendEvents>[0]) => commits.enqueue(() => workloadStore.appendEvents(events)),
  };
  const inventory = createInventory({ store: queuedWorkloads, now, log });
  const registry = new Registry();
  const nodeServices = createNodeServices({ inventory });
  const families = createAgentFamilies();
  const metrics = createHubMetrics({ registry, store, inventory, nodeServices, now, storage: commits, families }, { stalenessMs: opts.metricsStalenessMs });
  const alertsConfig = opts.alerts ?? defaultAlertsConfig();
  const { engine: alerts, silences } = createHubAlerts({ db, store, inventory, nodeServices, registry, config: alertsConfig, now, log, storage: commits }, opts.alertOptions);
  const jobs = createJobStore(db);
  const audit = createAuditLog({ db, log });
  const link = { send: (nodeId: number, msg: DeployRequest) => gateway.sendTo(nodeId, msg) };
  const deploys = createDeployService({
    jobs, link, now, log, newId: () => randomBytes(6).toString('hex'),
    // How a deploy ended goes in the audit log under who asked for it, beside the request itself.
    onEnd: (job) => audit.record({
      ts: now(), who: job.requestedBy, action: deployAuditAction(job.action), target: `${describeAction(job.action)} on ${job.node}`,
      outcome: job.state === 'succeeded' ? 'succeeded' : job.state === 'timed out' ? 'timed out' : 'failed', detail: { job: job.id, message: job.message },
    }),
  }, opts.deploys);
  const probe = createStorageProbe(db);
  const budget = createWriteBudget(now, opts.writeBudget);
  const agentBundle = opts.agentBundle ?? fileURLToPath(new URL('../dist/muster-agent.js', import.meta.url));
  const bundle = createAgentBundle(agentBundle);
  const upgrades = createAgentUpgrades({ nodes: () => store.listNodes(), send: (nodeId, msg) => gateway.sendTo(nodeId, msg), bundle, now, log });
  // Log lines ride the group commit with the acks that cover them; the store is also the Loki spool.
  const logs = createHubLogs({ db, commits, registry, now, log }, opts.logs);
  const gateway = createAgentGateway({
    store, tokens, membership, inventory, now, log, onFrame: metrics.onFrame, onNodeData: metrics.nodeChanged, deploys,
    storage: commits, probeStorage: () => commits.enqueue(probe), budget, upgrades, families,
    logs: logs.store, logMetrics: logs.metrics, logBudget: logs.budget,
  }, opts.gateway);
  const history = createSampleHistory(db);
  const capacity = { store, history, inventory, recentJobs: () => jobs.list(200), now };
  const maintenance = createMaintenance({ store, events: workloadStore, audit, now, log }, opts.auditRetentionMs !== undefined ? { auditRetentionMs: opts.auditRetentionMs } : {});
  // Events reach the disk with the next group commit; a read commits what waits first, so the API shows every event already applied.
  const events = { listEvents: (q: Parameters<typeof workloadStore.listEvents>[0]) => { commits.flush(); return workloadStore.listEvents(q); } };
  // What memory holds of a removed node goes with it: SQLite may give its id to the next node that joins.
  membership.onRemove((n) => { inventory.forget(n.id); nodeServices.forget(n.id); metrics.forget(n.id); budget.forget(n.id); });
  const app = await buildServer({ metricsPublic: opts.metricsPublic ?? false, store, history, tokens, audit, membership, gateway, storage: commits, ...(tls ? { tls: { key: tls.key, cert: tls.cert, caHash: tls.caHash, ...(tls.caPem ? { caPem: tls.caPem } : {}) } } : {}), inventory, events, metrics, now, log, version: MUSTER_VERSION, deploys, capacity, alerts, silences,
    agentBundle, bundle, upgrades, logs: logs.store,
    installScript: opts.installScript ?? fileURLToPath(new URL('../install/agent-install.sh', import.meta.url)) });
  gateway.start();
  deploys.start();
  alerts.start();
  maintenance.start();
  maintenance.runOnce();
  logs.start();
  const zones = createZoneSource({ store, inventory, now });
  let dns: DnsServer | undefined;
  let forwarder: ReturnType<typeof createForwarder> | undefined;
  try {
    await app.listen({ host: opts.host, port: opts.port });
    if (opts.dns) {
      const d = opts.dns;
      const upstreams = (d.upstreams ?? systemUpstreams()).filter((u) => !(u.port === d.port && (u.host === d.host || isLoopback(u.host) && isLoopback(d.host))));
      forwarder = createForwarder({ upstreams, now, onEvent: metrics.onDnsEvent });
      const acl = createClientAcl({ interfaces: networkInterfaces, now }, d.allow ? { allow: d.allow } : {});
      const resolver = createResolver({ domain: d.domain ?? 'internal', ttl: d.ttl ?? 30, negativeTtl: d.negativeTtl ?? 10, nsAddresses: advertisedAddresses(d.host) });
      dns = await startDnsServer({ resolver, zone: () => zones.current(), forwarder, acl, log, count: metrics.onDnsQuery, onEvent: metrics.onDnsEvent, now }, { host: d.host, port: d.port, ...(d.rateLimit !== undefined ? { rateLimit: d.rateLimit } : {}) }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') err.message = `DNS port ${d.host}:${d.port} is already in use; pick another with --dns-listen, or --dns-listen off`;
        throw err;
      });
      log.info({ host: d.host, port: dns.port, domain: d.domain ?? 'internal', upstreams, recursionFor: acl.networks(), rateLimit: d.rateLimit ?? 'outside the allowed networks' }, 'DNS listening');
    }
  } catch (err) {
    forwarder?.close();
    zones.close();
    gateway.close();
    deploys.close();
    metrics.close();
    await alerts.close();
    maintenance.close();
    await logs.close();
    await app.close();
    commits.close();
    await checkpointer?.close();
    db.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  // A certificate of your own is loaded again when its files change (a renewal); the running server takes it for new connections.
  const unwatch = tls?.watch((m) => {
    (app.server as unknown as { setSecureContext(o: { key: Buffer; cert: Buffer }): void }).setSecureContext(m);
    log.info('TLS certificate changed on disk; loaded it');
  }, (err) => log.error({ err: err.message }, 'TLS certificate changed on disk but cannot be loaded; keeping the one in use'));
  return {
    url: `${tls ? 'https' : 'http'}://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`,
    port,
    ...(dns ? { dnsPort: dns.port } : {}),
    adminToken: admin.token,
    adminTokenCreated: admin.created,
    ...(tls ? { caHash: tls.caHash } : {}),
    ...(tls?.caFile ? { caFile: tls.caFile } : {}),
    tokens,
    async close() {
      unwatch?.();
      await dns?.close();
      forwarder?.close();
      zones.close();
      gateway.close();
      deploys.close();
      metrics.close();
      await alerts.close();
      maintenance.close();
      await logs.close();
      await app.close();
      commits.close();
      await checkpointer?.close();
      db.close();
    },
  };
}

/** The nameservers this machine uses, from /etc/resolv.conf (none when it is unreadable). */
function systemUpstreams(): Upstream[] {
  try {
    return parseResolvConf(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {
    return [];
  }
}

const isLoopback = (host: string) => host === '::1' || host.startsWith('127.');

/** What `ns.<domain>` resolves to: the listen address, or this machine's reachable addresses for a wildcard. */
function advertisedAddresses(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [host];
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && !a.address.startsWith('fe80:')) out.push(a.address);
  }
  return out.length ? out : ['127.0.0.1'];
}
