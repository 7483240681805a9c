/** A small HTTP client for the hub's API that turns every failure into a clear CliError. */
import { CliError, type ClientConfig } from './config.ts';

export interface ApiClient {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
  del<T>(path: string): Promise<T>;
}

/** Creates a client for one hub and token; `fetchImpl` is injectable for tests. */
export function createApiClient(cfg: ClientConfig, fetchImpl: typeof fetch = fetch): ApiClient {
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
