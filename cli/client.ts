/**
 * A small HTTP client for the hub's API that turns every failure into a
 * clear CliError. A https:// hub is verified against the CA the config
 * names (`--ca-file`, MUSTER_CA_FILE, or the client config `muster up`
 * writes), else against the system's CAs.
 */
import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import { CliError, type ClientConfig } from './config.ts';

/** TLS errors that mean "not the hub you think", with what to do about them. */
const TLS_HINTS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate is not signed by a CA you trust: pass --ca-file DATA/tls/ca.crt (or set MUSTER_CA_FILE)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate is not signed by the CA given: pass the hub\'s own --ca-file DATA/tls/ca.crt',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed: pass --ca-file',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate does not name the address you used: use another, or start the hub with --tls-san',
  CERT_HAS_EXPIRED: 'its certificate has expired',
};

/** fetch with the hub's CA, when one is configured. */
function fetchFor(cfg: ClientConfig): typeof fetch {
  if (!cfg.caFile) return fetch;
  let ca: string;
  try {
    ca = readFileSync(cfg.caFile, 'utf8');
  } catch (err) {
    throw new CliError('MUSTER_ERR_CA_FILE', `cannot read the hub's CA certificate ${cfg.caFile}: ${(err as Error).message}`);
  }
  const dispatcher = new Agent({ connect: { ca } });
  return ((input: string, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
}

export interface ApiClient {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  del<T>(path: string): Promise<T>;
}

/**
 * Reads a streaming answer (NDJSON) line by line until it ends or `signal`
 * aborts: `muster logs --follow`. Failures become CliErrors as in
 * createApiClient; there is no overall timeout, a follow runs until stopped.
 */
export async function streamLines(cfg: ClientConfig, path: string, onLine: (line: string) => void, signal?: AbortSignal, fetchImpl: typeof fetch = fetchFor(cfg)): Promise<void> {
  let res: Response;
  try {
    res = await fetchImpl(cfg.hub + path, { headers: { authorization: `Bearer ${cfg.token}` }, ...(signal ? { signal } : {}) });
  } catch (err) {
    if (signal?.aborted) return;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const hint = cause?.code ? TLS_HINTS[cause.code] : undefined;
    if (hint) throw new CliError('MUSTER_ERR_TLS', `refusing the hub at ${cfg.hub}: ${hint} (${cause!.code})`);
    throw new CliError('MUSTER_ERR_HUB_UNREACHABLE', `cannot reach the hub at ${cfg.hub} (${cause?.code ?? cause?.message ?? (err as Error).message}); is it running? Set --hub or MUSTER_HUB.`);
  }
  if (!res.ok || !res.body) {
    const text = await res.text();
    let e: { code?: string; message?: string } | undefined;
    try { e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error; } catch { /* not JSON */ }
    throw new CliError(e?.code ?? `HTTP_${res.status}`, `${e?.message ?? res.statusText} (${e?.code ?? res.status})`);
  }
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line) onLine(line);
      }
    }
  } catch (err) {
    if (signal?.aborted) return;
    throw new CliError('MUSTER_ERR_HUB_UNREACHABLE', `the hub at ${cfg.hub} ended the stream: ${(err as Error).message}`);
  }
}

/** Creates a client for one hub and token; `fetchImpl` is injectable for tests. */
export function createApiClient(cfg: ClientConfig, fetchImpl: typeof fetch = fetchFor(cfg)): ApiClient {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let res: Response;
    try {
      res = await fetchImpl(cfg.hub + path, {
        method,
        headers: { authorization: `Bearer ${cfg.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      const hint = cause?.code ? TLS_HINTS[cause.code] : undefined;
      if (hint) throw new CliError('MUSTER_ERR_TLS', `refusing the hub at ${cfg.hub}: ${hint} (${cause!.code})`);
      throw new CliError('MUSTER_ERR_HUB_UNREACHABLE', `cannot reach the hub at ${cfg.hub} (${why}); is it running? Set --hub or MUSTER_HUB.`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new CliError('MUSTER_ERR_BAD_RESPONSE', `the hub at ${cfg.hub} answered ${res.status} with something that is not JSON; is that a muster hub?`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string } & Record<string, unknown> }).error;
      const { code: _code, message: _message, ...details } = e ?? {};
      throw new CliError(e?.code ?? `HTTP_${res.status}`, `${e?.message ?? res.statusText} (${e?.code ?? res.status})`, 1, details);
    }
    return json as T;
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    del: (path) => call('DELETE', path),
  };
}
