/**
 * The DNS listeners, over UDP and TCP, and the per-packet handling: guards
 * first (size, direction, opcode, counts), then decoding, EDNS, the
 * authoritative resolver or the forwarder, and truncation for UDP answers
 * that do not fit. Every packet is handled in bounded synchronous work, so a
 * flood of garbage costs little and never blocks the hub's event loop for long.
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

/** How a query ended, for metrics: `muster_dns_queries_total{result}`. */
export type QueryResult = 'answer' | 'nodata' | 'nxdomain' | 'forwarded' | 'cached' | 'servfail' | 'formerr' | 'notimp' | 'refused' | 'badvers' | 'dropped';

export interface DnsLogger {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface DnsServerDeps {
  resolver: Resolver;
  /** The zone to answer from now, and its SOA serial. */
  zone: () => { zone: CompiledZone; serial: number };
  forwarder: Forwarder;
  log: DnsLogger;
  /** Counts each query by how it ended. */
  count?: (result: QueryResult) => void;
  random?: () => number;
}

export interface DnsServerOptions {
  host: string;
  port: number;
  /** Largest UDP answer we send to EDNS clients (default 1232, the DNS flag day value). */
  ednsPayload?: number;
  maxTcpConnections?: number;
  /** A TCP connection idle this long is closed (default 10 s). */
  tcpIdleMs?: number;
  /** Forwarded queries waiting for upstream at once; beyond, SERVFAIL at once (default 1024). */
  maxInflight?: number;
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

/** A response with only a header (and the question, when we could read it): for errors. */
function bareResponse(id: number, queryFlags: number, rcode: number, questions: Packet['questions'] = [], additionals: Answer[] = []): Buffer {
  const flags = (queryFlags & (0x7800 | packet.RECURSION_DESIRED)) | packet.RECURSION_AVAILABLE | rcode;
  return packet.encode({ type: 'response', id, flags, questions, answers: [], authorities: [], additionals });
}

/** Handles one DNS message; resolves with the answer bytes, or undefined to stay silent. */
export type MessageHandler = (msg: Buffer, transport: 'udp' | 'tcp') => Promise<Buffer | undefined>;

/** Builds the message handler; exported so tests can feed it hostile bytes directly. */
export function createMessageHandler(deps: DnsServerDeps, opts: Pick<DnsServerOptions, 'ednsPayload' | 'maxInflight'> = {}): MessageHandler {
  const ednsPayload = opts.ednsPayload ?? 1232;
  const maxInflight = opts.maxInflight ?? 1024;
  const count = deps.count ?? (() => {});
  let inflight = 0;

  return async (msg, transport) => {
    // Guards before any decoding: too short to be DNS, a response (never answer those: loops), absurd counts.
    if (msg.length < 12 || msg.length > MAX_MESSAGE) { count('dropped'); return undefined; }
    const id = msg.readUInt16BE(0);
    const flags = msg.readUInt16BE(2);
    if (flags & QR) { count('dropped'); return undefined; }
    const opcode = (flags >> 11) & 0xf;
    if (opcode !== 0) { count('notimp'); return bareResponse(id, flags, RCODE.NOTIMP); }
    const [qd, an, ns, ar] = [msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
    if (qd !== 1 || an !== 0 || ns !== 0 || ar > 2) { count('formerr'); return bareResponse(id, flags, RCODE.FORMERR); }

    let query: DecodedPacket;
    try {
      query = packet.decode(msg);
    } catch {
      count('formerr');
      return bareResponse(id, flags, RCODE.FORMERR);
    }
    const question = query.questions?.[0];
    if (!question) { count('formerr'); return bareResponse(id, flags, RCODE.FORMERR); }
    const opt = query.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number; ednsVersion?: number; flags?: number } | undefined;
    const ourOpt: Answer[] = opt ? [{ type: 'OPT', name: '.', udpPayloadSize: ednsPayload, flags: 0 } as Answer] : [];
    if (opt && (opt.ednsVersion ?? 0) > 0) {
      // BADVERS is extended rcode 16: the upper 8 bits (1) go in the OPT record, the header's 4 bits stay 0.
      count('badvers');
      return bareResponse(id, flags, RCODE.NOERROR, query.questions, [{ type: 'OPT', name: '.', udpPayloadSize: ednsPayload, extendedRcode: 1, ednsVersion: 0, flags: 0 } as Answer]);
    }
    if (question.type === 'AXFR' || question.type === 'IXFR') { count('refused'); return bareResponse(id, flags, RCODE.REFUSED, query.questions, ourOpt); }

    const { zone, serial } = deps.zone();
    const r = deps.resolver.resolve({ name: question.name, type: question.type, class: question.class }, zone, serial, deps.random);
    if (r.kind === 'forward') {
      if (inflight >= maxInflight) { count('servfail'); return bareResponse(id, flags, RCODE.SERVFAIL, query.questions, ourOpt); }
      inflight++;
      try {
        const { response, cached } = await deps.forwarder.forward(msg, query);
        count(cached ? 'cached' : 'forwarded');
        return response;
      } catch (err) {
        deps.log.debug({ name: question.name, type: question.type, err: (err as Error).message }, 'DNS forward failed');
        count('servfail');
        return bareResponse(id, flags, RCODE.SERVFAIL, query.questions, ourOpt);
      } finally {
        inflight--;
      }
    }

    const rcode = RCODE[r.rcode];
    const base = (flags & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | packet.AUTHORITATIVE_ANSWER | rcode;
    const full: Packet = { type: 'response', id, flags: base, questions: query.questions, answers: r.answers, authorities: r.authorities, additionals: [...r.additionals, ...ourOpt] };
    let out = packet.encode(full);
    const limit = transport === 'tcp' ? MAX_MESSAGE : opt ? Math.min(ednsPayload, Math.max(512, opt.udpPayloadSize ?? 512)) : 512;
    if (out.length > limit) {
      // Too big for this datagram: say so (TC) and let the client ask again over TCP.
      out = packet.encode({ ...full, flags: base | packet.TRUNCATED_RESPONSE, answers: [], authorities: [], additionals: ourOpt });
    }
    count(r.rcode === 'NXDOMAIN' ? 'nxdomain' : r.answers.length === 0 ? 'nodata' : 'answer');
    return out;
  };
}

/** Starts the UDP and TCP listeners on the same port (port 0 picks one for both). */
export async function startDnsServer(deps: DnsServerDeps, opts: DnsServerOptions): Promise<DnsServer> {
  const handle = createMessageHandler(deps, opts);
  const tcpIdleMs = opts.tcpIdleMs ?? 10_000;
  const family = isIP(opts.host) === 6 ? 'udp6' : 'udp4';

  const connections = new Set<TcpSocket>();
  const tcp: Server = createServer((sock: TcpSocket) => {
    connections.add(sock);
    sock.on('close', () => connections.delete(sock));
    let buffered: Buffer = Buffer.alloc(0);
    sock.setTimeout(tcpIdleMs, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('data', (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (len < 12) { sock.destroy(); return; }
        if (buffered.length < 2 + len) break;
        const msg = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        handle(Buffer.from(msg), 'tcp').then((out) => {
          if (!out || sock.destroyed) return;
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(out.length);
          sock.write(Buffer.concat([prefix, out]));
        }, (err: Error) => {
          deps.log.warn({ err: err.message }, 'DNS TCP message handling failed');
          sock.destroy();
        });
      }
    });
  });
  tcp.maxConnections = opts.maxTcpConnections ?? 256;

  const udp: Socket = createSocket(family);
  udp.on('message', (msg, rinfo) => {
    handle(msg, 'udp').then((out) => {
      if (out) udp.send(out, rinfo.port, rinfo.address);
    }, (err: Error) => deps.log.warn({ err: err.message }, 'DNS UDP message handling failed'));
  });
  udp.on('error', (err) => deps.log.warn({ err: err.message }, 'DNS UDP socket error'));

  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen({ host: opts.host, port: opts.port }, () => { tcp.off('error', reject); resolve(); });
  });
  const address = tcp.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: opts.host, port }, () => { udp.off('error', reject); resolve(); });
    });
  } catch (err) {
    tcp.close();
    throw err;
  }

  return {
    port,
    async close() {
      udp.close();
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const c of connections) c.destroy();
      await closed;
    },
  };
}
