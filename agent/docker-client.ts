/**
 * A small Docker Engine API client over the local unix socket, on node:http.
 *
 * Why not dockerode: the agent ships as one bundled file that must run on
 * Node 18 without native modules. dockerode 4 installs 58 packages, and
 * bundled by esbuild for a one-call program it is 2.0 MB and bundles only
 * once ssh2's native crypto binding and cpu-features are marked external; the
 * same program on this client is 5.4 KB (measured 2026-11-25). This client
 * speaks the same Engine API (unversioned paths, so the daemon's own version
 * answers) for the handful of endpoints the agent calls.
 */
import * as http from 'node:http';

/** Where the Docker Engine listens by default. */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** A failed Engine API call: the HTTP status and the daemon's message, or the socket error. */
export class DockerError extends Error {
  readonly statusCode: number | undefined;
  readonly code: string;
  constructor(message: string, statusCode: number | undefined, code = 'MUSTER_ERR_DOCKER', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DockerError';
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** One message of the Engine's event stream (GET /events). */
export interface DockerEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

/** A running subscription to the event stream. */
export interface EventSubscription {
  close(): void;
}

export interface DockerClientOptions {
  socketPath?: string;
  /** Time limit for one request; the event stream has none. */
  timeoutMs?: number;
}

/** The Engine API calls the agent makes. */
export interface DockerClient {
  readonly socketPath: string;
  /** GET a JSON document; throws DockerError on a non-2xx answer or a socket error. */
  get<T>(path: string): Promise<T>;
  /** Sends a request with an optional JSON body; resolves with the status and the parsed body (or undefined). */
  request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T | undefined }>;
  /**
   * Follows GET /events with the given filters, calling `onEvent` for each
   * message; `onEnd` runs once when the stream ends or fails (the caller decides
   * whether to resubscribe).
   */
  events(filters: Record<string, string[]>, onEvent: (e: DockerEvent) => void, onEnd: (err?: Error) => void): EventSubscription;
  /**
   * Sends a request whose answer is a stream of JSON lines (an image pull),
   * calling `onLine` for each (lines that are not JSON are skipped); resolves
   * at the end of the stream, rejects on an HTTP error (with the daemon's
   * message), when the stream breaks off, or when the whole exchange takes
   * longer than `timeoutMs` (code MUSTER_ERR_DOCKER_TIMEOUT).
   */
  stream(method: string, path: string, onLine: (line: Record<string, unknown>) => void, timeoutMs: number): Promise<void>;
  /** GET an answer that is not JSON (container logs), as bytes. */
  raw(path: string): Promise<Buffer>;
  /**
   * Follows a GET whose answer streams for as long as it runs (container
   * logs with follow=1): `onData` for each chunk of the body as it comes,
   * `onEnd` once when the stream ends, fails or is refused (an HTTP error
   * with the daemon's message).
   */
  follow(path: string, onData: (chunk: Buffer) => void, onEnd: (err?: Error) => void): EventSubscription;
}

/** Creates a client; nothing connects until a call is made. */
export function createDockerClient(opts: DockerClientOptions = {}): DockerClient {
  const socketPath = opts.socketPath ?? DEFAULT_DOCKER_SOCKET;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  // One keep-alive agent per client: each sample makes several calls.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  function request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T | undefined }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request({
        socketPath, path, method, agent, timeout: timeoutMs,
        headers: { Host: 'docker', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new DockerError(`Docker ${method} ${path}: ${err.message}`, res.statusCode, 'MUSTER_ERR_DOCKER', { cause: err })));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          if (text.length > 0 && /json/.test(res.headers['content-type'] ?? '')) {
            try { parsed = JSON.parse(text); } catch { parsed = undefined; }
          }
          if (status >= 400) {
            const msg = (parsed as { message?: string } | undefined)?.message ?? (text.trim() || `HTTP ${status}`);
            reject(new DockerError(`Docker ${method} ${path}: ${msg}`, status));
            return;
          }
          resolve({ status, body: parsed as T | undefined });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new DockerError(`Docker ${method} ${path}: ${err.message}`, undefined, unreachableCode(err), { cause: err })));
      req.end(payload);
    });
  }

  function stream(method: string, path: string, onLine: (line: Record<string, unknown>) => void, limitMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve();
      };
      // No keep-alive agent and no idle timeout: a pull may be quiet for long stretches; the limit bounds the whole exchange.
      const req = http.request({ socketPath, path, method, headers: { Host: 'docker' } }, (res) => {
        const status = res.statusCode ?? 0;
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (settled) return;
          buffered += chunk;
          if (status >= 400) {
            buffered = buffered.slice(0, 64 * 1024);
            return;
          }
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            let parsed: Record<string, unknown>;
            try { parsed = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
            try { onLine(parsed); } catch (err) { finish(err as Error); return; }
          }
          if (buffered.length > 1024 * 1024) finish(new DockerError(`Docker ${method} ${path}: a stream line longer than 1 MiB`, status));
        });
        res.on('end', () => {
          if (status >= 400) {
            let msg = buffered.trim() || `HTTP ${status}`;
            try { msg = (JSON.parse(buffered) as { message?: string }).message ?? msg; } catch { /* not JSON */ }
            finish(new DockerError(`Docker ${method} ${path}: ${msg}`, status));
            return;
          }
          const rest = buffered.trim();
          if (rest) {
            try { onLine(JSON.parse(rest) as Record<string, unknown>); } catch (err) { if (!(err instanceof SyntaxError)) { finish(err as Error); return; } }
          }
          finish();
        });
        // After 'end' this does nothing; before it, the daemon went away mid-stream.
        res.on('close', () => finish(new DockerError(`Docker ${method} ${path}: the stream broke off`, status)));
        res.on('error', (err) => finish(new DockerError(`Docker ${method} ${path}: the stream broke off (${err.message})`, status, 'MUSTER_ERR_DOCKER', { cause: err })));
      });
      const timer = setTimeout(() => finish(new DockerError(`Docker ${method} ${path}: no end within ${Math.round(limitMs / 1000)} s`, undefined, 'MUSTER_ERR_DOCKER_TIMEOUT')), limitMs);
      req.on('error', (err) => finish(new DockerError(`Docker ${method} ${path}: ${err.message}`, undefined, unreachableCode(err), { cause: err })));
      req.end();
    });
  }

  function raw(path: string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath, path, method: 'GET', agent, timeout: timeoutMs, headers: { Host: 'docker' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          if ((res.statusCode ?? 0) >= 400) reject(new DockerError(`Docker GET ${path}: ${body.toString('utf8').trim() || `HTTP ${res.statusCode}`}`, res.statusCode));
          else resolve(body);
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new DockerError(`Docker GET ${path}: ${err.message}`, undefined, unreachableCode(err), { cause: err })));
      req.end();
    });
  }

  function follow(path: string, onData: (chunk: Buffer) => void, onEnd: (err?: Error) => void): EventSubscription {
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    // No agent and no timeout: a quiet container sends nothing for hours.
    const req = http.request({ socketPath, path, method: 'GET', headers: { Host: 'docker' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 400) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => { if (chunks.length < 64) chunks.push(c); });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8').trim();
          let msg = text || `HTTP ${status}`;
          try { msg = (JSON.parse(text) as { message?: string }).message ?? msg; } catch { /* not JSON */ }
          end(new DockerError(`Docker GET ${path}: ${msg}`, status));
        });
        return;
      }
      res.on('data', (c: Buffer) => { if (!ended) onData(c); });
      res.on('end', () => end());
      res.on('close', () => end());
      res.on('error', (err) => end(err));
    });
    req.on('error', (err) => end(new DockerError(`Docker GET ${path}: ${err.message}`, undefined, unreachableCode(err), { cause: err })));
    req.end();
    return { close: () => { ended = true; req.destroy(); } };
  }

  return {
    socketPath,
    stream,
    raw,
    follow,
    async get<T>(path: string) {
      const { body } = await request<T>('GET', path);
      if (body === undefined) throw new DockerError(`Docker GET ${path}: the answer is not JSON`, 200);
      return body;
    },
    request,
    events(filters, onEvent, onEnd) {
      let ended = false;
      const end = (err?: Error) => {
        if (ended) return;
        ended = true;
        onEnd(err);
      };
      const path = `/events?filters=${encodeURIComponent(JSON.stringify(filters))}`;
      // No agent and no timeout: the stream stays open for as long as the daemon runs.
      const req = http.request({ socketPath, path, method: 'GET', headers: { Host: 'docker' } }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          res.resume();
          end(new DockerError(`Docker GET /events: HTTP ${res.statusCode}`, res.statusCode));
          return;
        }
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line) continue;
            try { onEvent(JSON.parse(line) as DockerEvent); } catch { /* a line that is not JSON is not an event */ }
          }
          // A single event is a few hundred bytes; anything this long without a newline is not the Engine.
          if (buffered.length > 1024 * 1024) req.destroy(new Error('event stream line too long'));
        });
        res.on('end', () => end());
        res.on('error', (err) => end(err));
      });
      req.on('error', (err) => end(new DockerError(`Docker GET /events: ${err.message}`, undefined, unreachableCode(err), { cause: err })));
      req.end();
      return { close: () => { ended = true; req.destroy(); } };
    },
  };
}

/** MUSTER_ERR_DOCKER_UNREACHABLE for "no daemon there", so callers can tell it from a refused request. */
function unreachableCode(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES' ? 'MUSTER_ERR_DOCKER_UNREACHABLE' : 'MUSTER_ERR_DOCKER';
}
