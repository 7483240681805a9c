/**
 * Everything outside the domain goes to upstream resolvers: the client's
 * query is sent as it came (with an id of ours), each upstream in turn gets
 * `timeoutMs`, and the whole attempt is bounded, so a dead upstream means
 * SERVFAIL in a few seconds, never a hang. Answers are cached for as long as
 * their TTLs say (negative answers for their SOA minimum), and served with
 * the TTLs counted down.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import * as packet from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';

/** An upstream resolver. */
export interface Upstream {
  host: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** Time one upstream has to answer (default 1500 ms). */
  timeoutMs?: number;
  /** Most answers cached (default 10,000); the oldest go first. */
  cacheSize?: number;
  /** Longest time an answer is cached, whatever its TTL says (default 1 h). */
  maxTtl?: number;
  now?: () => number;
}

/** Why forwarding failed: the caller answers SERVFAIL. */
export class ForwardError extends Error {
  readonly code = 'MUSTER_ERR_DNS_UPSTREAM';
}

/** Sends questions upstream and caches the answers. */
export interface Forwarder {
  /**
   * Resolves `query` (raw bytes, already decoded as `decoded`) upstream;
   * resolves with the response bytes carrying the client's id.
   */
  forward(query: Buffer, decoded: Packet): Promise<{ response: Buffer; cached: boolean }>;
  close(): void;
}

interface CacheEntry {
  packet: Packet;
  storedAt: number;
  expiresAt: number;
}

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  upstream: Upstream;
}

/** The cache key of a question: name (any case), type, class, and whether DNSSEC records were asked for. */
function cacheKey(p: Packet): string | undefined {
  const q = p.questions?.[0];
  if (!q) return undefined;
  const opt = p.additionals?.find((a) => a.type === 'OPT') as { flags?: number } | undefined;
  const dnssecOk = ((opt?.flags ?? 0) & 0x8000) !== 0;
  return `${q.name.toLowerCase()}|${q.type}|${q.class ?? 'IN'}|${dnssecOk ? 'do' : ''}`;
}

/** Seconds an answer may be cached: the smallest TTL in it, or the SOA minimum of a negative answer. */
export function cacheSeconds(p: Packet, maxTtl: number): number {
  const rcode = (p.flags ?? 0) & 0xf;
  if (rcode !== 0 && rcode !== 3) return 0; // NOERROR and NXDOMAIN only; never SERVFAIL or REFUSED
  if (p.flags !== undefined && (p.flags & packet.TRUNCATED_RESPONSE) !== 0) return 0;
  const records = [...(p.answers ?? []), ...(p.authorities ?? [])].filter((r) => r.type !== 'OPT') as (Answer & { ttl?: number })[];
  if (records.length === 0) return 0;
  if ((p.answers ?? []).length === 0) {
    const soa = (p.authorities ?? []).find((r) => r.type === 'SOA') as { ttl?: number; data: { minimum: number } } | undefined;
    return soa ? Math.min(soa.ttl ?? 0, soa.data.minimum, maxTtl) : 0;
  }
  return Math.min(maxTtl, ...records.map((r) => r.ttl ?? 0));
}

/** Creates a forwarder; its UDP socket opens with the first query. */
export function createForwarder(opts: ForwarderOptions): Forwarder {
  const timeoutMs = opts.timeoutMs ?? 1500;
  const cacheSize = opts.cacheSize ?? 10_000;
  const maxTtl = opts.maxTtl ?? 3600;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();
  const pending = new Map<number, Pending>();
  const sockets = new Map<'udp4' | 'udp6', Socket>();

  function udpSocket(host: string): Socket {
    const type = isIP(host) === 6 ? 'udp6' : 'udp4';
    const existing = sockets.get(type);
    if (existing) return existing;
    const s = createSocket(type);
    s.on('message', (msg, rinfo) => {
      if (msg.length < 12) return;
      const p = pending.get(msg.readUInt16BE(0));
      // Only the upstream we asked may answer (an off-path spoofer must also guess the id).
      if (!p || p.upstream.host !== rinfo.address || p.upstream.port !== rinfo.port) return;
      pending.delete(msg.readUInt16BE(0));
      clearTimeout(p.timer);
      p.resolve(msg);
    });
    s.on('error', () => { /* per-query timeouts report failures */ });
    s.bind(0);
    s.unref();
    sockets.set(type, s);
    return s;
  }

  function askUdp(query: Buffer, upstream: Upstream): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let id = randomInt(0, 65536);
      for (let tries = 0; pending.has(id) && tries < 100; tries++) id = randomInt(0, 65536);
      const out = Buffer.from(query);
      out.writeUInt16BE(id, 0);
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new ForwardError(`upstream ${upstream.host}:${upstream.port} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer, upstream });
      udpSocket(upstream.host).send(out, upstream.port, upstream.host, (err) => {
        if (!err) return;
        clearTimeout(timer);
        pending.delete(id);
        reject(new ForwardError(`upstream ${upstream.host}:${upstream.port}: ${err.message}`));
      });
    });
  }

  function askTcp(query: Buffer, upstream: Upstream): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const sock = connect({ host: upstream.host, port: upstream.port });
      const chunks: Buffer[] = [];
      let size = 0;
      const fail = (why: string) => { sock.destroy(); reject(new ForwardError(`upstream ${upstream.host}:${upstream.port} over TCP: ${why}`)); };
      sock.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
      sock.on('error', (err) => fail(err.message));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length);
        sock.write(Buffer.concat([len, query]));
      });
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        size += d.length;
        const all = Buffer.concat(chunks, size);
        if (all.length >= 2 && all.length >= 2 + all.readUInt16BE(0)) {
          sock.end();
          resolve(all.subarray(2, 2 + all.readUInt16BE(0)));
        }
      });
    });
  }

  function fromCache(key: string, clientId: number): Buffer | undefined {
    const e = cache.get(key);
    if (!e) return undefined;
    const t = now();
    if (t >= e.expiresAt) {
      cache.delete(key);
      return undefined;
    }
    const elapsed = Math.floor((t - e.storedAt) / 1000);
    const age = (records: Answer[] | undefined): Answer[] =>
      (records ?? []).map((r) => (r.type === 'OPT' ? r : ({ ...r, ttl: Math.max(0, ((r as { ttl?: number }).ttl ?? 0) - elapsed) } as Answer)));
    return packet.encode({ ...e.packet, id: clientId, answers: age(e.packet.answers), authorities: age(e.packet.authorities), additionals: age(e.packet.additionals) } as Packet);
  }

  function store(key: string, response: Buffer): void {
    let p: Packet;
    try {
      p = packet.decode(response);
    } catch {
      return; // relayed as it came, not cached
    }
    const seconds = cacheSeconds(p, maxTtl);
    if (seconds <= 0) return;
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    const t = now();
    cache.set(key, { packet: p, storedAt: t, expiresAt: t + seconds * 1000 });
  }

  return {
    async forward(query, decoded) {
      const clientId = decoded.id ?? 0;
      const key = cacheKey(decoded);
      if (key) {
        const hit = fromCache(key, clientId);
        if (hit) return { response: hit, cached: true };
      }
      if (opts.upstreams.length === 0) throw new ForwardError('no upstream resolvers configured');
      const errors: string[] = [];
      for (const upstream of opts.upstreams) {
        try {
          let response = await askUdp(query, upstream);
          if (response.length >= 4 && (response.readUInt16BE(2) & packet.TRUNCATED_RESPONSE) !== 0) {
            response = await askTcp(query, upstream);
          }
          if (key) store(key, response);
          const out = Buffer.from(response);
          out.writeUInt16BE(clientId, 0);
          return { response: out, cached: false };
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
      throw new ForwardError(errors.join('; '));
    },
    close() {
      for (const [id, p] of pending) {
        clearTimeout(p.timer);
        p.reject(new ForwardError('forwarder closed'));
        pending.delete(id);
      }
      for (const s of sockets.values()) s.close();
      sockets.clear();
      cache.clear();
    },
  };
}

/** Parses the `nameserver` lines of /etc/resolv.conf. */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1]!.replace(/%.*$/, ''); // drop an IPv6 zone id
    out.push({ host, port: 53 });
  }
  return out;
}
