/**
 * The hub's composition root: opens the store, wires the subsystems together,
 * makes sure an admin token exists, and listens. Nothing else in hub/ listens.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStore, openDatabase } from './store.ts';
import { createWorkloadStore } from './workload-store.ts';
import { createInventory } from './inventory.ts';
import { createTokenService, type TokenService } from './tokens.ts';
import { createAgentGateway, type AgentGatewayOptions } from './agent-gateway.ts';
import { createMaintenance } from './maintenance.ts';
import { buildServer } from './server.ts';
import { pino } from 'pino';
import { MUSTER_VERSION } from '../protocol/index.ts';

export interface HubOptions {
  /** Directory for the database and admin token. */
  dataDir: string;
  host: string;
  port: number;
  /** pino logger options, or false for silence. */
  logger?: boolean | object;
  gateway?: AgentGatewayOptions;
  now?: () => number;
  /** Bundled agent to serve at /dl/muster-agent.js (default: dist/muster-agent.js of this checkout). */
  agentBundle?: string;
}

/** A hub that is listening. */
export interface RunningHub {
  /** Base HTTP URL, e.g. http://127.0.0.1:7070 */
  url: string;
  port: number;
  adminToken: string;
  /** True when this start created the admin token. */
  adminTokenCreated: boolean;
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
  const db = openDatabase(join(opts.dataDir, 'muster.db'));
  const store = createStore({ db });
  const workloadStore = createWorkloadStore(db);
  const tokens = createTokenService({ store, now });
  const admin = ensureAdminToken(tokens, opts.dataDir);
  const log = pino(opts.logger === false ? { enabled: false } : opts.logger === true || opts.logger === undefined ? {} : opts.logger);
  const inventory = createInventory({ store: workloadStore, now, log });
  const gateway = createAgentGateway({ store, tokens, inventory, now, log }, opts.gateway);
  const maintenance = createMaintenance({ store, events: workloadStore, now, log });
  const app = await buildServer({ store, tokens, gateway, inventory, events: workloadStore, now, log, version: MUSTER_VERSION,
    agentBundle: opts.agentBundle ?? fileURLToPath(new URL('../dist/muster-agent.js', import.meta.url)) });
  gateway.start();
  maintenance.start();
  maintenance.runOnce();
  try {
    await app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    gateway.close();
    maintenance.close();
    db.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`,
    port,
    adminToken: admin.token,
    adminTokenCreated: admin.created,
    tokens,
    async close() {
      gateway.close();
      maintenance.close();
      await app.close();
      db.close();
    },
  };
}
