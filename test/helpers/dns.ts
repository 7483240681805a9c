/**
 * Real DNS tools for tests: `dig` (bind9-dnsutils) as the client, and a
 * `dnsmasq` on loopback as an upstream resolver with records of its own;
 * and what no real tool does on purpose: an upstream that misbehaves as a
 * test tells it to, and a client that keeps every datagram it gets.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { createSocket } from 'node:dgram';
import { createServer as createTcpServer } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { freePort, missingComponent, waitFor } from './processes.ts';

const run = promisify(execFile);
const DNSMASQ = '/usr/sbin/dnsmasq';

/** True when dig is installed; otherwise reports it missing (CI fails on that). */
export async function digReady(): Promise<boolean> {
  try {
    await run('dig', ['-v']);
    return true;
  } catch {
    missingComponent('dig', 'bash install/test-host.sh installs bind9-dnsutils');
    return false;
  }
}

/** Runs dig against 127.0.0.1:port; resolves with its full text output. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=5', '+tries=1', ...args], { timeout: 20_000 });
  return stdout;
}

/** The status word of a dig answer (NOERROR, NXDOMAIN...). */
export const status = (out: string) => /status: (\w+)/.exec(out)?.[1];
/** The header flags of a dig answer, e.g. ['qr', 'aa', 'rd', 'ra']. */
export const flags = (out: string) => (/;; flags: ([a-z ]+);/.exec(out)?.[1] ?? '').trim().split(/\s+/);
/** The records of one section (ANSWER, AUTHORITY, ADDITIONAL) as [name, ttl, class, type, ...data] rows. */
export function section(out: string, name: string): string[][] {
  const m = new RegExp(`;; ${name} SECTION:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(out);
  return m ? m[1]!.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/)) : [];
}

export interface Dnsmasq {
  port: number;
  child: ChildProcess;
  /** How many queries for `name` dnsmasq logged. */
  queriesFor(name: string): number;
  stop(): Promise<void>;
}

/**
 * Starts dnsmasq on 127.0.0.1 with `--address` records of its own and no
 * upstream, logging every query; undefined (and reported) when it is missing.
 */
export async function startDnsmasq(records: Record<string, string>, localTtl = 2): Promise<Dnsmasq | undefined> {
  if (!existsSync(DNSMASQ)) {
    missingComponent('dnsmasq', 'bash install/test-host.sh installs dnsmasq-base');
    return undefined;
  }
  const port = await freePort();
  const args = ['--keep-in-foreground', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces', '--listen-address=127.0.0.1',
    `--port=${port}`, `--local-ttl=${localTtl}`, '--log-queries', '--log-facility=-', '--pid-file=', '--user=root', '--conf-file=/dev/null'];
  for (const [name, address] of Object.entries(records)) args.push(`--address=/${name}/${address}`);
  const child = spawn(DNSMASQ, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => { log += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  await waitFor('dnsmasq to start', () => {
    if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${log}`);
    return /started, version/.test(log);
  }, 10_000);
  return {
    port,
    child,
    queriesFor: (name) => log.split('\n').filter((l) => l.includes(`query[`) && l.includes(` ${name} `)).length,
    async stop() {
      child.kill();
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    },
  };
}

/** One query a fake upstream received. */
export interface UpstreamQuery {
  transport: 'udp' | 'tcp';
  /** The source port it came from (the forwarder's socket). */
  port: number;
  id: number;
  name: string;
  type: string;
  /** The UDP payload size its OPT advertised; undefined without EDNS. */
  udpPayloadSize: number | undefined;
}

/** What a fake upstream sends back for a query: messages (objects are encoded; buffers go as they are). */
export type UpstreamBehaviour = (q: Packet & { id: number }, transport: 'udp' | 'tcp', from: { address: string; port: number }) => (Packet | Buffer)[] | Promise<(Packet | Buffer)[]>;

/** A misbehaving (or well-behaved) upstream resolver on loopback, UDP and TCP on one port. */
export interface FakeUpstream {
  port: number;
  queries: UpstreamQuery[];
  /** Replaced by tests to change what it answers; by default the right answer, 10.0.0.1 for every A query. */
  behave: UpstreamBehaviour;
  close(): Promise<void>;
}

/** The honest answer to a query: its id and question, with the given records. */
export function answerTo(q: Packet, answers: Answer[], flags = 0): Packet {
  return { type: 'response', id: q.id ?? 0, flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | flags, questions: q.questions ?? [], answers };
}

/** Starts a fake upstream resolver on 127.0.0.1. */
export async function startFakeUpstream(): Promise<FakeUpstream> {
  const udp = createSocket('udp4');
  const queries: UpstreamQuery[] = [];
  const encode = (m: Packet | Buffer) => (Buffer.isBuffer(m) ? m : packet.encode(m));
  const record = (msg: Buffer, transport: 'udp' | 'tcp', port: number) => {
    const q = packet.decode(msg) as Packet & { id: number };
    const opt = q.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    queries.push({ transport, port, id: q.id, name: q.questions?.[0]?.name ?? '', type: q.questions?.[0]?.type ?? '', udpPayloadSize: opt?.udpPayloadSize });
    return q;
  };
  const up: FakeUpstream = {
    port: 0,
    queries,
    behave: (q) => [answerTo(q, [{ name: q.questions![0]!.name, type: 'A', ttl: 60, data: '10.0.0.1' }])],
    async close() {
      udp.close();
      await new Promise((r) => tcp.close(r));
    },
  };
  udp.on('message', async (msg, rinfo) => {
    const q = record(msg, 'udp', rinfo.port);
    for (const m of await up.behave(q, 'udp', rinfo)) udp.send(encode(m), rinfo.port, rinfo.address);
  });
  const tcp = createTcpServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('error', () => sock.destroy());
    sock.on('data', async (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = record(buf.subarray(2, 2 + buf.readUInt16BE(0)), 'tcp', sock.remotePort ?? 0);
      for (const m of await up.behave(q, 'tcp', { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0 })) {
        const body = encode(m);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(body.length);
        sock.write(Buffer.concat([len, body]));
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
  up.port = (tcp.address() as { port: number }).port;
  await new Promise<void>((r) => udp.bind(up.port, '127.0.0.1', () => r()));
  return up;
}

/**
 * A raw UDP client that keeps every datagram that arrives, as a spoofing
 * victim's stub would see them, instead of discarding mismatched ones as dig
 * does. Bound to `address` (any 127.x.y.z works on Linux), so tests can be
 * several clients at once on loopback.
 */
export async function rawUdpClient(address = '127.0.0.1'): Promise<{
  send(msg: Buffer | Packet, port: number): Promise<void>;
  /** Every datagram received so far. */
  received: Buffer[];
  /** Waits until `n` datagrams arrived or `ms` passed; resolves with them all. */
  collect(n: number, ms: number): Promise<Buffer[]>;
  close(): void;
}> {
  const sock = createSocket('udp4');
  const received: Buffer[] = [];
  sock.on('message', (m) => received.push(m));
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  return {
    received,
    send: (msg, port) => new Promise<void>((resolve, reject) => sock.send(Buffer.isBuffer(msg) ? msg : packet.encode(msg), port, '127.0.0.1', (err) => (err ? reject(err) : resolve()))),
    async collect(n, ms) {
      const end = Date.now() + ms;
      while (received.length < n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
      return received;
    },
    close: () => sock.close(),
  };
}
