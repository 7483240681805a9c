/**
 * The DNS listeners, over UDP and TCP, and the per-packet handling: guards
 * first (size, direction, opcode, counts), then decoding, EDNS, the
 * authoritative resolver or the forwarder, and truncation for UDP answers
 * that do not fit. Every packet is handled in bounded synchronous work, so a
 * flood of garbage costs little and never blocks the hub's event loop for long.
 *
 * The server is safe to expose: names outside the domain are forwarded only
 * for allowed clients (the others get REFUSED, and still get the domain's
 * own names), every UDP answer, forwarded ones too, fits 512 bytes or the
 * client's EDNS size (else it goes out truncated, so the client retries over
 * TCP), UDP responses are rate limited per client prefix (clients outside
 * the allowed networks by default), ANY over UDP gets one RRset (RFC 8482),
 * and TCP connections are capped per client and in total, with idle ones
 * closed and, when full, the least recently active one making room.
 *
 * Packets are decoded and encoded with dns-packet (5.6.1: names may only
 * point backwards, so compression loops cannot happen, and lengths are
 * checked); the listeners are our own, because the guards belong before the
 * decoder. dns2 was the other candidate: its 3.0.0 stalls ~2 s on a 12-byte
 * packet and hands garbage to the handler, and it owns its sockets.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket as TcpSocket } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import type { Resolver } from './resolver.ts';
import type { CompiledZone } from './zone.ts';
import type { Forwarder } from './forwarder.ts';
import type { ClientAcl } from './client-acl.ts';
import type { DnsEventSink, TcpCloseReason } from './events.ts';
import { createResponseRateLimiter, type RateLimitOptions, type RateVerdict } from './rate-limit.ts';
import { prefixKey } from './addresses.ts';
import { TYPE_OPT, optRecord, questionEnd } from './wire.ts';

/** How a query ended, for metrics: `muster_dns_queries_total{result}`. */
export type QueryResult = 'answer' | 'nodata' | 'nxdomain' | 'forwarded' | 'cached' | 'servfail' | 'formerr' | 'notimp' | 'refused' | 'badvers' | 'dropped' | 'rate_limited';

export interface DnsLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface DnsServerDeps {
  resolver: Resolver;
  /** The zone to answer from now, and its SOA serial. */
  zone: () => { zone: CompiledZone; serial: number };
  forwarder: Forwarder;
  /** Who may have names outside the domain resolved; everyone else gets REFUSED for them. */
  acl: ClientAcl;
  log: DnsLogger;
  /** Counts each query by how it ended. */
  count?: (result: QueryResult) => void;
  /** Counts what the defences did (refusals, rate limiting, truncation, TCP closes). */
  onEvent?: DnsEventSink;
  random?: () => number;
  /** Clock in ms for rate limits and TCP idleness (default Date.now). */
  now?: () => number;
}

/** Response rate limiting, and whom it applies to. */
export interface RateLimitConfig extends RateLimitOptions {
  /** Limit every client (`--dns-rate-limit`), not only those outside the allowed networks. */
  everyone?: boolean;
}

export interface DnsServerOptions {
  host: string;
  port: number;
  /** Largest UDP answer we send to EDNS clients (default 1232, the DNS flag day value). */
  ednsPayload?: number;
  /** TCP connections at once (default 256); when full, the least recently active idle one is closed to make room. */
  maxTcpConnections?: number;
  /** TCP connections from one client, an IPv4 address or an IPv6 /64 (default 32). */
  maxTcpPerClient?: number;
  /**
   * A TCP connection with nothing answered or asked in full for this long is
   * closed (default 10 s): only complete messages count, so trickling a byte
   * at a time does not keep a connection open.
   */
  tcpIdleMs?: number;
  /** Forwarded queries waiting for upstream at once; beyond, SERVFAIL at once (default 1024). */
  maxInflight?: number;
  /**
   * UDP response rate limiting (see rate-limit.ts): by default 20 responses a
   * second per prefix, for clients outside the allowed networks only (the
   * ones who could aim us at a victim); `false` for none.
   */
  rateLimit?: RateLimitConfig | false;
}

/** A listening DNS server. */
export interface DnsServer {
  /** The UDP and TCP port (the same), once listening. */
  port: number;
  close(): Promise<void>;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const QR = 0x8000;
const MAX_MESSAGE = 65535;
/** TTL of the HINFO that stands for an ANY answer (RFC 8482 section 4.2): it never changes. */
const ANY_HINFO_TTL = 3600;
/** Authoritative answers kept ready per zone; a flood of new names only recycles them. */
const MAX_READY = 10_000;
/** Question types never answered from the ready answers: they have rules of their own (RFC 8482, refusals). */
const UNCACHED_TYPES = new Set(['ANY', 'AXFR', 'IXFR']);

/** An authoritative answer kept ready, encoded, for the same question asked again. */
interface ReadyAnswer {
  /** Header, question and records, without OPT; the id, RD and RA are set per query. */
  body: Buffer;
  /** AA and the rcode. */
  flags: number;
  result: QueryResult;
}

/**
 * Where the one OPT record of a query ends, with what it says; undefined
 * when the rest of the message is not exactly one well-formed OPT of
 * version 0 (the full decoder then has its say).
 */
function readOpt(msg: Buffer, at: number): { udpPayloadSize: number; dnssecOk: boolean } | undefined {
  if (at + 11 > msg.length || msg[at] !== 0 || msg.readUInt16BE(at + 1) !== TYPE_OPT || msg[at + 6] !== 0) return undefined;
  const end = at + 11 + msg.readUInt16BE(at + 9);
  if (end > msg.length) return undefined;
  for (let o = at + 11; o < end;) {
    if (o + 4 > end) return undefined;
    o += 4 + msg.readUInt16BE(o + 2);
    if (o > end) return undefined;
  }
  return { udpPayloadSize: msg.readUInt16BE(at + 3), dnssecOk: (msg.readUInt16BE(at + 7) & 0x8000) !== 0 };
}

/** A response with only a header (and the question, when we could read it): for errors, refusals, slips and truncation. */
function bareResponse(id: number, queryFlags: number, extraFlags: number, rcode: number, questions: Packet['questions'] = [], additionals: Answer[] = []): Buffer {
  const flags = (queryFlags & (0x7800 | packet.RECURSION_DESIRED)) | extraFlags | rcode;
  return packet.encode({ type: 'response', id, flags, questions, answers: [], authorities: [], additionals });
}

/**
 * Handles one DNS message from `address`; gives the answer bytes, or
 * undefined to stay silent. Synchronous unless the question goes upstream,
 * so the common case costs no promise.
 */
export type MessageHandler = (msg: Buffer, transport: 'udp' | 'tcp', address: string) => Buffer | undefined | Promise<Buffer | undefined>;

/** Builds the message handler; exported so tests can feed it hostile bytes directly. */
export function createMessageHandler(deps: DnsServerDeps, opts: Pick<DnsServerOptions, 'ednsPayload' | 'maxInflight' | 'rateLimit'> = {}): MessageHandler {
  const ednsPayload = opts.ednsPayload ?? 1232;
  const maxInflight = opts.maxInflight ?? 1024;
  const count = deps.count ?? (() => {});
  const event = deps.onEvent ?? (() => {});
  const limiter = opts.rateLimit === false ? undefined : createResponseRateLimiter(opts.rateLimit ?? {}, deps.now ?? Date.now);
  const limitEveryone = opts.rateLimit !== false && (opts.rateLimit?.everyone ?? false);
  const optPlain = optRecord(ednsPayload, false);
  const optDo = optRecord(ednsPayload, true);
  let inflight = 0;
  // Answers from the zone, by the exact bytes of the question; dropped whenever the zone changes.
  const ready = new Map<string, ReadyAnswer>();
  let readyFor: CompiledZone | undefined;
  let readySerial = -1;

  /** The zone now; the ready answers are forgotten when it is not the one they came from. */
  function currentZone(): { zone: CompiledZone; serial: number } {
    const z = deps.zone();
    if (z.zone !== readyFor || z.serial !== readySerial) {
      ready.clear();
      readyFor = z.zone;
      readySerial = z.serial;
    }
    return z;
  }

  /** A ready answer with this query's id, RD, RA and OPT; undefined when it must take the full path. */
  function fromReady(msg: Buffer, transport: 'udp' | 'tcp', flags: number, ra: number, ar: number): Buffer | undefined {
    const qEnd = questionEnd(msg);
    if (qEnd === undefined) return undefined;
    let opt: { udpPayloadSize: number; dnssecOk: boolean } | undefined;
    if (ar === 1 && !(opt = readOpt(msg, qEnd))) return undefined;
    currentZone();
    const r = ready.get(msg.toString('latin1', 12, qEnd));
    if (!r) return undefined;
    const size = r.body.length + (opt ? 11 : 0);
    const limit = transport === 'tcp' ? MAX_MESSAGE : opt ? Math.min(ednsPayload, Math.max(512, opt.udpPayloadSize)) : 512;
    if (size > limit) return undefined;
    const out = Buffer.allocUnsafe(size);
    r.body.copy(out, 0);
    out.writeUInt16BE(msg.readUInt16BE(0), 0);
    out.writeUInt16BE(r.flags | (flags & packet.RECURSION_DESIRED) | ra, 2);
    if (opt) {
      (opt.dnssecOk ? optDo : optPlain).copy(out, r.body.length);
      out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    }
    count(r.result);
    return out;
  }

  /** Sends the question upstream and relays the answer, cut to the client's size limit. */
  async function forward(msg: Buffer, query: DecodedPacket, flags: number, qEnd: number, dnssecOk: boolean, ourOpt: Answer[], limit: number): Promise<Buffer> {
    const id = query.id ?? 0;
    const ra = packet.RECURSION_AVAILABLE;
    if (inflight >= maxInflight) { count('servfail'); return bareResponse(id, flags, ra, RCODE.SERVFAIL, query.questions, ourOpt); }
    inflight++;
    let response: Buffer;
    try {
      const r = await deps.forwarder.forward({ question: msg.subarray(12, qEnd), dnssecOk, checkingDisabled: (flags & packet.CHECKING_DISABLED) !== 0 });
      response = r.response;
      count(r.cached ? 'cached' : 'forwarded');
    } catch (err) {
      deps.log.debug({ name: query.questions?.[0]?.name, err: (err as Error).message }, 'DNS forward failed');
      count('servfail');
      return bareResponse(id, flags, ra, RCODE.SERVFAIL, query.questions, ourOpt);
    } finally {
      inflight--;
    }
    // The upstream's answer under our header: the client's id, question (its case too) and RD/CD; RA from us;
    // AD only for a client that can use it; never AA, since we are not the authority for it.
    const up = response.readUInt16BE(2);
    const ad = dnssecOk || (flags & packet.AUTHENTIC_DATA) ? up & packet.AUTHENTIC_DATA : 0;
    response.writeUInt16BE(id, 0);
    response.writeUInt16BE(QR | (flags & (packet.RECURSION_DESIRED | packet.CHECKING_DISABLED)) | ra | ad | (up & 0xf), 2);
    msg.copy(response, 12, 12, qEnd);
    let out = response;
    if (ourOpt.length) {
      out = Buffer.concat([response, dnssecOk ? optDo : optPlain]);
      out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    }
    if (out.length > limit) {
      event('truncated');
      return bareResponse(id, flags, ra | packet.TRUNCATED_RESPONSE, up & 0xf, query.questions, ourOpt);
    }
    return out;
  }

  return (msg, transport, address) => {
    // Guards before any decoding: too short to be DNS, a response (never answer those: loops), absurd counts.
    if (msg.length < 12 || msg.length > MAX_MESSAGE) { count('dropped'); return undefined; }
    const id = msg.readUInt16BE(0);
    const flags = msg.readUInt16BE(2);
    if (flags & QR) { count('dropped'); return undefined; }
    const allowed = deps.acl.allows(address);
    // Rate limiting comes before any work, so a flood that is dropped costs no decoding.
    let verdict: RateVerdict = 'send';
    if (limiter && transport === 'udp' && (limitEveryone || !allowed)) {
      verdict = limiter.check(address);
      if (verdict === 'drop') { count('rate_limited'); event('rate_limited_dropped'); return undefined; }
    }
    // Recursion is available to allowed clients only, and the header says so.
    const ra = allowed ? packet.RECURSION_AVAILABLE : 0;
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== 0) { count('notimp'); return bareResponse(id, flags, ra, RCODE.NOTIMP); }
    const [qd, an, ns, ar] = [msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
    if (qd !== 1 || an !== 0 || ns !== 0 || ar > 2) { count('formerr'); return bareResponse(id, flags, ra, RCODE.FORMERR); }
    // Most queries ask what was asked a moment ago: answered from bytes kept ready, nothing decoded.
    const fast = ar <= 1 && verdict === 'send' ? fromReady(msg, transport, flags, ra, ar) : undefined;
    if (fast) return fast;

    let query: DecodedPacket;
    try {
      query = packet.decode(msg);
    } catch {
      count('formerr');
      return bareResponse(id, flags, ra, RCODE.FORMERR);
    }
    const question = query.questions?.[0];
    // questionEnd also refuses a question name that is a pointer (into the header): decodable, but nothing to forward.
    const qEnd = questionEnd(msg);
    if (!question || qEnd === undefined) { count('formerr'); return bareResponse(id, flags, ra, RCODE.FORMERR); }
    const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number; ednsVersion?: number; flags?: number } | undefined;
    const dnssecOk = ((opt?.flags ?? 0) & packet.DNSSEC_OK) !== 0;
    const ourOpt: Answer[] = opt ? [{ type: 'OPT', name: '.', udpPayloadSize: ednsPayload, flags: dnssecOk ? packet.DNSSEC_OK : 0 } as Answer] : [];
    if (opt && (opt.ednsVersion ?? 0) > 0) {
      // BADVERS is extended rcode 16: the upper 8 bits (1) go in the OPT record, the header's 4 bits stay 0.
      count('badvers');
      return bareResponse(id, flags, ra, RCODE.NOERROR, query.questions, [{ type: 'OPT', name: '.', udpPayloadSize: ednsPayload, extendedRcode: 1, ednsVersion: 0, flags: 0 } as Answer]);
    }
    if (verdict === 'slip') {
      // Instead of a dropped answer, an empty truncated one, no bigger than the query: a real client retries over TCP.
      count('rate_limited');
      event('rate_limited_slipped');
      return bareResponse(id, flags, ra | packet.TRUNCATED_RESPONSE, RCODE.NOERROR, query.questions, ourOpt);
    }
    if (question.type === 'AXFR' || question.type === 'IXFR') {
      count('refused');
      event('refused_zone_transfer');
      return bareResponse(id, flags, ra, RCODE.REFUSED, query.questions, ourOpt);
    }
    const limit = transport === 'tcp' ? MAX_MESSAGE : opt ? Math.min(ednsPayload, Math.max(512, opt.udpPayloadSize ?? 512)) : 512;
    const minimalAny = (question.type as string) === 'ANY' && transport === 'udp';

    const { zone, serial } = currentZone();
    const r = deps.resolver.resolve({ name: question.name, type: question.type, class: question.class }, zone, serial, deps.random);
    if (r.kind === 'forward') {
      if (!allowed) {
        // Not an open resolver: strangers get the domain's own names and nothing else.
        count('refused');
        event('refused_recursion');
        return bareResponse(id, flags, 0, RCODE.REFUSED, query.questions, ourOpt);
      }
      if (minimalAny) {
        // RFC 8482: ANY over UDP is answered with a synthesized HINFO, without asking anyone.
        count('answer');
        return packet.encode({
          type: 'response', id, flags: (flags & packet.RECURSION_DESIRED) | ra, questions: query.questions,
          answers: [{ name: question.name, type: 'HINFO', ttl: ANY_HINFO_TTL, data: { cpu: 'RFC8482', os: '' } }], authorities: [], additionals: ourOpt,
        });
      }
      return forward(msg, query, flags, qEnd, dnssecOk, ourOpt, limit);
    }

    let { answers, additionals } = r;
    if (minimalAny && answers.length > 1) {
      // RFC 8482: one RRset of the name is a complete answer to ANY over UDP.
      const first = answers[0]!;
      answers = answers.filter((a) => a.type === first.type && a.name === first.name);
      additionals = [];
    }
    const answerFlags = packet.AUTHORITATIVE_ANSWER | RCODE[r.rcode];
    const base = (flags & packet.RECURSION_DESIRED) | ra | answerFlags;
    const result: QueryResult = r.rcode === 'NXDOMAIN' ? 'nxdomain' : answers.length === 0 ? 'nodata' : 'answer';
    const body = packet.encode({ type: 'response', id, flags: base, questions: query.questions, answers, authorities: r.authorities, additionals });
    if (!r.varies && !UNCACHED_TYPES.has(question.type)) {
      if (ready.size >= MAX_READY) ready.delete(ready.keys().next().value!);
      ready.set(msg.toString('latin1', 12, qEnd), { body, flags: answerFlags, result });
    }
    let out = body;
    if (opt) {
      out = Buffer.concat([body, dnssecOk ? optDo : optPlain]);
      out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    }
    if (out.length > limit) {
      // Too big for this datagram: say so (TC) and let the client ask again over TCP.
      event('truncated');
      out = bareResponse(id, flags, ra | packet.AUTHORITATIVE_ANSWER | packet.TRUNCATED_RESPONSE, RCODE[r.rcode], query.questions, ourOpt);
    }
    count(result);
    return out;
  };
}

/** One open TCP connection, for the caps and the idle sweep. */
interface TcpConnection {
  sock: TcpSocket;
  client: string;
  /** When a complete query last arrived or an answer last left, in ms. */
  activeAt: number;
  /** Queries being answered now: a connection waiting for an upstream is not idle. */
  pending: number;
  /** Closes it; 'closed' when the client or an error ended it, which is not counted. */
  close(reason: TcpCloseReason | 'closed'): void;
}

/** Starts the UDP and TCP listeners on the same port (port 0 picks one for both). */
export async function startDnsServer(deps: DnsServerDeps, opts: DnsServerOptions): Promise<DnsServer> {
  const handle = createMessageHandler(deps, opts);
  const now = deps.now ?? Date.now;
  const event = deps.onEvent ?? (() => {});
  const tcpIdleMs = opts.tcpIdleMs ?? 10_000;
  const maxTcp = opts.maxTcpConnections ?? 256;
  const maxPerClient = opts.maxTcpPerClient ?? 32;
  const family = isIP(opts.host) === 6 ? 'udp6' : 'udp4';

  const connections = new Map<TcpSocket, TcpConnection>();
  const perClient = new Map<string, number>();

  /** Makes room for one more connection: false when every open one is busy answering. */
  function admit(client: string): boolean {
    if ((perClient.get(client) ?? 0) >= maxPerClient) { event('tcp_client_limit'); return false; }
    if (connections.size < maxTcp) return true;
    // Full: the least recently active idle connection goes, so idle connections can never lock newcomers out.
    let oldest: TcpConnection | undefined;
    for (const c of connections.values()) if (c.pending === 0 && (!oldest || c.activeAt < oldest.activeAt)) oldest = c;
    if (!oldest) { event('tcp_total_limit'); return false; }
    oldest.close('evicted');
    return true;
  }

  const tcp: Server = createServer((sock: TcpSocket) => {
    // One client is an IPv4 address or an IPv6 /64 (a single host may hold a whole /64).
    const client = prefixKey(sock.remoteAddress ?? '', 32, 64);
    if (!admit(client)) { sock.destroy(); return; }
    let open = true;
    const conn: TcpConnection = {
      sock, client, activeAt: now(), pending: 0,
      close(reason) {
        if (!open) return;
        open = false;
        connections.delete(sock);
        const left = (perClient.get(client) ?? 1) - 1;
        if (left > 0) perClient.set(client, left);
        else perClient.delete(client);
        if (reason !== 'closed') event(`tcp_${reason}`);
        sock.destroy();
      },
    };
    connections.set(sock, conn);
    perClient.set(client, (perClient.get(client) ?? 0) + 1);
    sock.on('close', () => conn.close('closed'));
    sock.on('error', () => conn.close('closed'));
    const address = sock.remoteAddress ?? '';
    const reply = (out: Buffer | undefined) => {
      conn.pending--;
      conn.activeAt = now();
      if (!out || !open) return;
      const frame = Buffer.allocUnsafe(2 + out.length);
      frame.writeUInt16BE(out.length, 0);
      out.copy(frame, 2);
      // A client that asks without reading its answers waits until it has read them.
      if (!sock.write(frame) && !sock.isPaused()) {
        sock.pause();
        sock.once('drain', () => sock.resume());
      }
    };
    // Chunks are joined only once a whole message is in: a client sending a byte per segment costs linear time, not quadratic.
    let chunks: Buffer[] = [];
    let size = 0;
    sock.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      while (size >= 2) {
        if (chunks[0]!.length < 2) chunks = [Buffer.concat(chunks, size)];
        const len = chunks[0]!.readUInt16BE(0);
        if (len < 12) { conn.close('closed'); return; }
        if (size < 2 + len) break;
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        const msg = Buffer.from(all.subarray(2, 2 + len));
        const rest = all.subarray(2 + len);
        chunks = rest.length ? [rest] : [];
        size = rest.length;
        conn.pending++;
        conn.activeAt = now();
        let out: ReturnType<MessageHandler>;
        try {
          out = handle(msg, 'tcp', address);
        } catch (err) {
          deps.log.warn({ err: (err as Error).message }, 'DNS TCP message handling failed');
          conn.close('closed');
          return;
        }
        if (out instanceof Promise) {
          out.then(reply, (err: Error) => {
            deps.log.warn({ err: err.message }, 'DNS TCP message handling failed');
            conn.close('closed');
          });
        } else {
          reply(out);
        }
      }
    });
  });

  // One sweep for every connection, not a timer each; it looks at complete messages only (activeAt).
  const sweep = setInterval(() => {
    const t = now();
    for (const c of connections.values()) if (c.pending === 0 && t - c.activeAt >= tcpIdleMs) c.close('idle');
  }, Math.max(20, Math.min(1000, Math.floor(tcpIdleMs / 4))));
  sweep.unref();

  const udp: Socket = createSocket(family);
  const sendTo = (out: Buffer | undefined, port: number, address: string) => {
    if (out) udp.send(out, port, address);
  };
  udp.on('message', (msg, rinfo) => {
    let out: ReturnType<MessageHandler>;
    try {
      out = handle(msg, 'udp', rinfo.address);
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'DNS UDP message handling failed');
      return;
    }
    if (out instanceof Promise) out.then((b) => sendTo(b, rinfo.port, rinfo.address), (err: Error) => deps.log.warn({ err: err.message }, 'DNS UDP message handling failed'));
    else sendTo(out, rinfo.port, rinfo.address);
  });
  udp.on('error', (err) => deps.log.warn({ err: err.message }, 'DNS UDP socket error'));

  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ host: opts.host, port: opts.port }, () => { tcp.off('error', reject); resolve(); });
    });
  } catch (err) {
    clearInterval(sweep);
    udp.close();
    throw err;
  }
  const address = tcp.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: opts.host, port }, () => { udp.off('error', reject); resolve(); });
    });
  } catch (err) {
    clearInterval(sweep);
    tcp.close();
    throw err;
  }

  return {
    port,
    async close() {
      clearInterval(sweep);
      udp.close();
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const c of [...connections.values()]) c.close('closed');
      await closed;
    },
  };
}
