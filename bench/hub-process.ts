/**
 * A real hub for a bench, started the way a user starts it
 * (`muster hub --data DIR --listen 127.0.0.1:0`), and the few API calls the
 * benches make to it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Managed, StartOptions, Supervisor } from './supervisor.ts';
import { Agent, fetch as undiciFetch } from 'undici';
import { waitUntil } from './timing.ts';

/** The checkout's root directory. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A hub that is listening on loopback. */
export interface BenchHub {
  proc: Managed;
  /** Base URL, e.g. https://127.0.0.1:40123 */
  url: string;
  adminToken: string;
  dataDir: string;
  /** The hub's CA certificate file (its own CA, as agents pin it). */
  caFile: string;
  /** fetch verified against the hub's CA. */
  fetch: (url: string, init?: RequestInit) => Promise<Response>;
}

/**
 * Starts a hub on a fresh data directory and a free loopback port; `opts` can
 * pin it to a CPU, `nodeFlags` pass V8/Node flags to the hub's runtime
 * (e.g. --max-semi-space-size=4, to compare garbage collector settings),
 * `hubArgs` more options of `muster hub` (e.g. --loki URL).
 */
export async function startBenchHub(sup: Supervisor, opts: StartOptions & { nodeFlags?: string[]; hubArgs?: string[] } = {}): Promise<BenchHub> {
  const dataDir = sup.tempDir('hub');
  const { nodeFlags = [], hubArgs = [], ...start } = opts;
  // No bench that starts a hub here asks it DNS unless it says so; off, two benches on one machine do not fight over its port.
  const dns = hubArgs.includes('--dns-listen') ? [] : ['--dns-listen', 'off'];
  const proc = sup.start('hub', process.execPath, [...nodeFlags, join(ROOT, 'cli/muster.ts'), 'hub', '--data', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...dns, ...hubArgs], start);
  const url = await waitUntil('the hub to listen', () => {
    if (!proc.running()) throw new Error(`the hub exited before listening:\n${proc.output()}`);
    return /hub listening on (https?:\/\/127\.0\.0\.1:\d+)/.exec(proc.output())?.[1];
  }, 30_000);
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const caFile = join(dataDir, 'tls', 'ca.crt');
  const dispatcher = new Agent({ connect: { ca: readFileSync(caFile, 'utf8') } });
  const verified = (u: string, init: RequestInit = {}) => undiciFetch(u, { ...(init as object), dispatcher }) as unknown as Promise<Response>;
  return { proc, url, adminToken, dataDir, caFile, fetch: verified };
}

/** Calls the hub's API with the admin token; returns the status and the parsed body. */
export async function hubApi<T>(hub: BenchHub, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const res = await hub.fetch(hub.url + path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${hub.adminToken}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** Creates a join token of role agent (POST /api/v1/tokens). */
export async function createJoinToken(hub: BenchHub): Promise<string> {
  const r = await hubApi<{ token?: string }>(hub, '/api/v1/tokens', { method: 'POST', body: { role: 'agent', label: 'bench' } });
  if (r.status !== 201 || !r.body.token) throw new Error(`creating a join token failed (${r.status}): ${JSON.stringify(r.body)}`);
  return r.body.token;
}
