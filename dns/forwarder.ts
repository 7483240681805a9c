/**
 * Everything outside the domain goes to upstream resolvers, in a way an
 * off-path attacker cannot poison (the Kaminsky attack, CVE-2008-1447):
 * every upstream query leaves from a fresh socket on a port the kernel picks
 * at random, with a random id, and that socket is connected to the upstream
 * asked, so the kernel drops datagrams from anyone else. An answer counts
 * only if it also carries our id and exactly the question asked (name, type
 * and class); anything else that arrives is dropped and counted, and we keep
 * waiting for the real answer. A spoofer must guess ~32 bits per attempt,
 * and at most one query per question is in flight at a time (concurrent
 * askers share it), so flooding us with the same question does not give
 * them more tries. Only answers that passed are cached.
 *
 * The upstream is asked with EDNS (our own 1232-byte payload, the client's
 * DO and CD bits); when it answers truncated we ask it again over TCP, and
 * the whole answer is cached: the server cuts what a UDP client gets to the
 * client's size limit, and the client's retry over TCP is then a cache hit.
 * Answers are kept as the upstream sent them, name compression included,
 * without the upstream's OPT record; cached ones are served with their TTLs
 * counted down. Each upstream has `timeoutMs`, so a dead one means SERVFAIL
 * in a few seconds, never a hang.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect, isIP, type Socket as TcpSocket } from 'node:net';
import { randomInt } from 'node:crypto';
import { parseAddress } from './addresses.ts';
import type { DnsEventSink, UpstreamDropReason } from './events.ts';
import { HEADER_BYTES, TYPE_OPT, TYPE_SOA, questionKey, sameQuestion, walkRecords, type RecordRef } from './wire.ts';

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
  /** The UDP payload size we advertise upstream (default 1232, the DNS flag day value). */
  ednsPayload?: number;
  now?: () => number;
  /** Counts answers dropped as spoofed or malformed. */
  onEvent?: DnsEventSink;
}

/** Why forwarding failed: the caller answers SERVFAIL. */
export class ForwardError extends Error {
  readonly code = 'MUSTER_ERR_DNS_UPSTREAM';
}

/** A question to forward, as the client asked it. */
export interface ForwardRequest {
  /** The question section's bytes (name, type, class) as the client sent them. */
  question: Buffer;
  /** The client asked for DNSSEC records (the EDNS DO bit). */
  dnssecOk: boolean;
  /** The client asked the upstream not to validate (the CD bit). */
  checkingDisabled: boolean;
}

/** What the upstream answered. */
export interface ForwardResult {
  /**
   * A whole DNS message, our own copy: the upstream's answer to exactly this
   * question (the name's case may differ), without OPT, TTLs counted down.
   * Its id and flags are the upstream's; the caller sets its own.
   */
  response: Buffer;
  /** Served without asking upstream now (from the cache, or shared with a query in flight). */
  cached: boolean;
}

/** Sends questions upstream and caches the answers. */
export interface Forwarder {
  forward(request: ForwardRequest): Promise<ForwardResult>;
  close(): void;
}

interface Answer {
  /** The message without OPT. */
  bytes: Buffer;
  ttlAt: number[];
  /** Seconds it may be cached (0: not at all). */
  seconds: number;
  storedAt: number;
}

interface CacheEntry {
  answer: Answer;
  expiresAt: number;
}

const QR = 0x8000;
const RD = 0x0100;
const TC = 0x0200;
const CD = 0x0010;

/** The TTL a record claims; values with the top bit set mean 0 (RFC 2181 section 8). */
const ttlAt = (msg: Buffer, at: number) => {
  const t = msg.readUInt32BE(at);
  return t > 0x7fffffff ? 0 : t;
};

/**
 * Seconds an answer may be cached: the smallest TTL of its answer and
 * authority records, or for a negative answer the SOA's TTL and minimum.
 * NOERROR and NXDOMAIN only (never SERVFAIL or REFUSED), never a truncated one.
 */
export function cacheSeconds(msg: Buffer, records: RecordRef[], maxTtl: number): number {
  const flags = msg.readUInt16BE(2);
  const rcode = flags & 0xf;
  if ((rcode !== 0 && rcode !== 3) || (flags & TC) !== 0) return 0;
  const counted = records.filter((r) => r.section < 2 && r.type !== TYPE_OPT);
  if (counted.length === 0) return 0;
  if (!counted.some((r) => r.section === 0)) {
    const soa = counted.find((r) => r.type === TYPE_SOA);
    // The SOA's minimum is the last 32 bits of its RDATA.
    return soa && soa.end - 4 >= soa.rdataAt ? Math.min(ttlAt(msg, soa.ttlAt), ttlAt(msg, soa.end - 4), maxTtl) : 0;
  }
  return Math.min(maxTtl, ...counted.map((r) => ttlAt(msg, r.ttlAt)));
}

/**
 * Checks a message that arrived on a query's socket: undefined when it is the
 * answer to our query (id, a response, opcode QUERY, exactly our question,
 * records that parse), else why it is not.
 */
function verify(msg: Buffer, id: number, question: Buffer): { records: RecordRef[] } | UpstreamDropReason {
  if (msg.length < HEADER_BYTES) return 'malformed';
  if (msg.readUInt16BE(0) !== id) return 'wrong_id';
  const flags = msg.readUInt16BE(2);
  if ((flags & QR) === 0 || ((flags >> 11) & 0xf) !== 0) return 'malformed';
  if (msg.readUInt16BE(4) !== 1 || !sameQuestion(msg, question)) return 'wrong_question';
  const walked = walkRecords(msg, HEADER_BYTES + question.length);
  if (!walked) return 'malformed';
  // OPT belongs in the additional section only.
  if (walked.records.some((r) => r.type === TYPE_OPT && r.section !== 2)) return 'malformed';
  return { records: walked.records };
}

/** The answer as we keep it: the upstream's OPT (and anything after it) cut off, trailing bytes dropped. */
function keep(msg: Buffer, records: RecordRef[], questionBytes: number, maxTtl: number, now: number): Answer {
  const opt = records.findIndex((r) => r.type === TYPE_OPT);
  const kept = opt < 0 ? records : records.slice(0, opt);
  const end = kept.length ? kept[kept.length - 1]!.end : HEADER_BYTES + questionBytes;
  const bytes = Buffer.from(msg.subarray(0, end));
  bytes.writeUInt16BE(kept.filter((r) => r.section === 2).length, 10);
  return { bytes, ttlAt: kept.map((r) => r.ttlAt), seconds: cacheSeconds(bytes, kept, maxTtl), storedAt: now };
}

/** Whether two spellings name the same address (::1 and 0:0::1). */
function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseAddress(a);
  const y = parseAddress(b);
  return !!x && !!y && x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Creates a forwarder; it opens a socket per upstream query and none otherwise. */
export function createForwarder(opts: ForwarderOptions): Forwarder {
  const timeoutMs = opts.timeoutMs ?? 1500;
  const cacheSize = opts.cacheSize ?? 10_000;
  const maxTtl = opts.maxTtl ?? 3600;
  const ednsPayload = opts.ednsPayload ?? 1232;
  const now = opts.now ?? Date.now;
  const onEvent = opts.onEvent ?? (() => {});
  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Promise<Answer>>();
  /** Every open upstream socket with its way to fail, so close() can end them all. */
  const open = new Map<Socket | TcpSocket, (err: Error) => void>();
  let closed = false;

  function query(id: number, req: ForwardRequest): Buffer {
    const q = Buffer.alloc(HEADER_BYTES + req.question.length + 11);
    q.writeUInt16BE(id, 0);
    q.writeUInt16BE(RD | (req.checkingDisabled ? CD : 0), 2);
    q.writeUInt16BE(1, 4);
    q.writeUInt16BE(1, 10);
    req.question.copy(q, HEADER_BYTES);
    const opt = HEADER_BYTES + req.question.length;
    q.writeUInt16BE(TYPE_OPT, opt + 1);
    q.writeUInt16BE(ednsPayload, opt + 3);
    q.writeUInt16BE(req.dnssecOk ? 0x8000 : 0, opt + 7);
    return q;
  }

  function askUdp(req: ForwardRequest, upstream: Upstream): Promise<{ msg: Buffer; records: RecordRef[] }> {
    return new Promise((resolve, reject) => {
      const id = randomInt(0, 65536);
      // A socket of its own: the kernel binds it to a random free port, and once
      // connected it delivers only datagrams from the upstream's address and port.
      const sock = createSocket(isIP(upstream.host) === 6 ? 'udp6' : 'udp4');
      let done = false;
      const finish = (err: Error | undefined, result?: { msg: Buffer; records: RecordRef[] }) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        open.delete(sock);
        sock.close();
        if (err) reject(err);
        else resolve(result!);
      };
      const timer = setTimeout(() => finish(new ForwardError(`upstream ${upstream.host}:${upstream.port} did not answer within ${timeoutMs} ms`)), timeoutMs);
      open.set(sock, finish);
      // An ICMP port unreachable arrives as ECONNREFUSED on a connected socket: the next upstream at once.
      sock.on('error', (err) => finish(new ForwardError(`upstream ${upstream.host}:${upstream.port}: ${err.message}`)));
      sock.on('message', (msg, rinfo) => {
        if (rinfo.port !== upstream.port || !sameAddress(rinfo.address, upstream.host)) { onEvent('upstream_wrong_source'); return; }
        const v = verify(msg, id, req.question);
        if (typeof v === 'string') { onEvent(`upstream_${v}`); return; }
        finish(undefined, { msg, records: v.records });
      });
      // connect() reports its own failure (no route to the upstream, say) to this callback, not as 'error'.
      sock.connect(upstream.port, upstream.host, (err?: Error) => {
        if (done) return;
        if (err) { finish(new ForwardError(`upstream ${upstream.host}:${upstream.port}: ${err.message}`)); return; }
        sock.send(query(id, req), (sendErr) => { if (sendErr) finish(new ForwardError(`upstream ${upstream.host}:${upstream.port}: ${sendErr.message}`)); });
      });
    });
  }

  function askTcp(req: ForwardRequest, upstream: Upstream): Promise<{ msg: Buffer; records: RecordRef[] }> {
    return new Promise((resolve, reject) => {
      const id = randomInt(0, 65536);
      const sock = connect({ host: upstream.host, port: upstream.port });
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (err: Error | undefined, result?: { msg: Buffer; records: RecordRef[] }) => {
        if (done) return;
        done = true;
        open.delete(sock);
        sock.destroy();
        if (err) reject(err);
        else resolve(result!);
      };
      const fail = (why: string) => finish(new ForwardError(`upstream ${upstream.host}:${upstream.port} over TCP: ${why}`));
      open.set(sock, finish);
      sock.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs} ms`));
      sock.on('error', (err) => fail(err.message));
      sock.on('close', () => fail('closed before answering'));
      sock.on('connect', () => {
        const q = query(id, req);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        sock.write(Buffer.concat([len, q]));
      });
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        size += d.length;
        if (size < 2) return;
        const head = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
        const len = head.readUInt16BE(0);
        if (size < 2 + len) return;
        const all = chunks.length === 1 ? head : Buffer.concat(chunks, size);
        const msg = all.subarray(2, 2 + len);
        // The connection is ours alone, but the answer must still be the one asked for.
        const v = verify(msg, id, req.question);
        if (typeof v === 'string') { onEvent(`upstream_${v}`); fail(`an answer that is not ours (${v})`); return; }
        finish(undefined, { msg, records: v.records });
      });
    });
  }

  async function ask(req: ForwardRequest): Promise<Answer> {
    if (opts.upstreams.length === 0) throw new ForwardError('no upstream resolvers configured');
    const errors: string[] = [];
    for (const upstream of opts.upstreams) {
      try {
        let got = await askUdp(req, upstream);
        if ((got.msg.readUInt16BE(2) & TC) !== 0) got = await askTcp(req, upstream);
        return keep(got.msg, got.records, req.question.length, maxTtl, now());
      } catch (err) {
        if (closed) throw err;
        errors.push((err as Error).message);
      }
    }
    throw new ForwardError(errors.join('; '));
  }

  /** Our own copy of an answer, its TTLs counted down by the seconds it has been kept. */
  function copyOf(a: Answer): Buffer {
    const out = Buffer.from(a.bytes);
    const elapsed = Math.floor((now() - a.storedAt) / 1000);
    if (elapsed > 0) for (const at of a.ttlAt) out.writeUInt32BE(Math.max(0, ttlAt(out, at) - elapsed), at);
    return out;
  }

  return {
    async forward(req) {
      const key = `${questionKey(req.question)}|${req.dnssecOk ? 'do' : ''}|${req.checkingDisabled ? 'cd' : ''}`;
      const hit = cache.get(key);
      if (hit) {
        if (now() < hit.expiresAt) return { response: copyOf(hit.answer), cached: true };
        cache.delete(key);
      }
      const pending = inflight.get(key);
      if (pending) return { response: copyOf(await pending), cached: true };
      const asked = ask(req);
      inflight.set(key, asked);
      let answer: Answer;
      try {
        answer = await asked;
      } finally {
        inflight.delete(key);
      }
      if (answer.seconds > 0 && !closed) {
        if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
        cache.set(key, { answer, expiresAt: answer.storedAt + answer.seconds * 1000 });
      }
      return { response: copyOf(answer), cached: false };
    },
    close() {
      closed = true;
      for (const fail of [...open.values()]) fail(new ForwardError('forwarder closed'));
      open.clear();
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
