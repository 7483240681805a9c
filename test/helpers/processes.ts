/**
 * Real processes for end-to-end tests: hubs and agents started as the user
 * would start them, on loopback, each with its own data or state directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { AGENT_PATH } from '../../protocol/index.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'cli/muster.ts');
export const AGENT_BUNDLE = join(ROOT, 'dist/muster-agent.js');

/** A fresh temporary directory. */
export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `muster-${prefix}-`));

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `fn` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

function track(child: ChildProcess): Proc {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

export interface HubProc extends Proc {
  url: string;
  /** The hub's DNS port (0 when DNS is off). */
  dnsPort: number;
  adminToken: string;
  dataDir: string;
  port: number;
  /** The CA agents pin and its file (`<data>/tls/ca.crt`); undefined for a hub started with --no-tls. */
  caHash: string | undefined;
  caFile: string | undefined;
}

/**
 * The CA of every hub a test started, by origin: api(), hubFetch() and
 * startAgentProcess() verify the hub with it, as a configured client would.
 */
const hubCas = new Map<string, { ca: string; caFile: string; dispatcher: Agent }>();

/** Remembers the CA a hub at `url` is verified with (the helpers do it for hubs they start). */
export function trustHub(url: string, caFile: string): void {
  const ca = readFileSync(caFile, 'utf8');
  hubCas.set(new URL(url).origin, { ca, caFile, dispatcher: new Agent({ connect: { ca } }) });
}

/** fetch for a hub a test started: verified against its CA over https. */
export function hubFetch(url: string, init: RequestInit = {}): Promise<Response> {
  const known = hubCas.get(new URL(url).origin);
  if (!known) return fetch(url, init);
  return undiciFetch(url, { ...(init as object), dispatcher: known.dispatcher }) as unknown as Promise<Response>;
}

/** A raw WebSocket to a hub's agent endpoint (wss:// verified against its CA when the helpers know it). */
export function agentSocket(hubUrl: string): WebSocket {
  const url = hubUrl.replace(/^http/, 'ws') + AGENT_PATH;
  const known = hubCas.get(new URL(hubUrl).origin);
  return new WebSocket(url, known ? { ca: known.ca } : {});
}

/** Starts `muster hub` on host:port (default 127.0.0.1 and a free port) and waits until it listens. */
export async function startHubProcess(opts: { dataDir?: string; host?: string; port?: number; dns?: string; args?: string[] } = {}): Promise<HubProc> {
  const dataDir = opts.dataDir ?? tempDir('hub');
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const child = spawn(process.execPath, [CLI, 'hub', '--data', dataDir, '--listen', `${host}:${port}`, '--log-level', 'warn', '--dns-listen', opts.dns ?? '127.0.0.1:0', ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p = track(child);
  await waitFor('the hub to listen', () => {
    if (child.exitCode !== null) throw new Error(`hub exited: ${p.output()}`);
    const out = p.output();
    // The pin is printed on the line after "hub listening on https://": wait for it too,
    // or a loaded machine hands back a hub whose CA the helpers do not know yet.
    const tlsSaid = !/hub listening on https:/.test(out) || (opts.args ?? []).includes('--tls-cert') || /--ca-hash sha256:[0-9a-f]{64}/.test(out);
    return /hub listening on/.test(out) && tlsSaid && (opts.dns === 'off' || /dns listening on/.test(out));
  }, 20_000);
  const adminToken = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  const dnsPort = Number(/dns listening on .*:(\d+) /.exec(p.output())?.[1] ?? 0);
  const printed = /hub listening on (https?:\/\/\S+)/.exec(p.output())![1]!;
  const url = host === '0.0.0.0' ? printed : printed.replace(/\/\/127\.0\.0\.1:/, `//${host}:`);
  const caHash = /--ca-hash (sha256:[0-9a-f]{64})/.exec(p.output())?.[1];
  // With --tls-cert the hub serves a certificate of its own choosing and has no CA file.
  const caFile = caHash && existsSync(join(dataDir, 'tls', 'ca.crt')) ? join(dataDir, 'tls', 'ca.crt') : undefined;
  if (caFile) trustHub(url, caFile);
  return { ...p, url, adminToken, dataDir, port, dnsPort, caHash, caFile };
}

export interface AgentProc extends Proc {
  name: string;
  stateDir: string;
}

/**
 * Starts an agent. By default the bundled single file under this Node;
 * `node` picks another runtime (e.g. Node 18), `viaCli` runs `muster agent`.
 */
export function startAgentProcess(opts: { hub: string; join?: string; name: string; stateDir?: string; interval?: string; node?: string; viaCli?: boolean; args?: string[] }): AgentProc {
  const stateDir = opts.stateDir ?? tempDir(`agent-${opts.name}`);
  const args = ['--hub', opts.hub, '--name', opts.name, '--state', stateDir, '--interval', opts.interval ?? '1s', '--log-level', 'info'];
  if (opts.join) args.push('--join', opts.join);
  // An agent of a hub the test started trusts that hub's CA, unless the test says how itself.
  const known = hubCas.get(new URL(opts.hub).origin);
  if (known && !(opts.args ?? []).some((a) => a.startsWith('--ca-'))) args.push('--ca-file', known.caFile);
  args.push(...(opts.args ?? []));
  if (!opts.viaCli && !existsSync(AGENT_BUNDLE)) throw new Error(`no agent bundle at ${AGENT_BUNDLE}: run npm run build`);
  const argv = opts.viaCli ? [CLI, 'agent', ...args] : [AGENT_BUNDLE, ...args];
  const child = spawn(opts.node ?? process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  return { ...track(child), name: opts.name, stateDir };
}

/** Calls the hub's API with a bearer token; returns status and parsed body. */
export async function api<T = any>(hub: string, token: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const res = await hubFetch(hub + path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** The hub's /metrics as Prometheus gets it (with the admin token, which may scrape). */
export async function scrape(hub: { url: string; adminToken: string }): Promise<string> {
  const res = await hubFetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${hub.adminToken}` } });
  if (!res.ok) throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`);
  return res.text();
}

/** Creates a join token of role agent through the API. */
export async function joinToken(hub: HubProc): Promise<string> {
  const r = await api<{ token: string }>(hub.url, hub.adminToken, '/api/v1/tokens', { method: 'POST', body: { role: 'agent' } });
  if (r.status !== 201) throw new Error(`token create failed: ${JSON.stringify(r.body)}`);
  return r.body.token;
}

/**
 * Reports a test that cannot run here because a real component is missing.
 * CI fails the run when it sees this marker; on a developer machine it is a loud skip.
 */
export function missingComponent(what: string, fix: string): void {
  process.stdout.write(`\nMUSTER-SKIP: ${what} is not available (${fix}); this test did not run\n`);
}
