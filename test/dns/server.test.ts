/**
 * The DNS server over real sockets, asked by the real `dig` over UDP and TCP,
 * forwarding to a real dnsmasq; and fed hostile bytes directly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';
import { createResolver } from '../../dns/resolver.ts';
import { compileZone, type ZoneSnapshot } from '../../dns/zone.ts';
import { createForwarder, type Upstream } from '../../dns/forwarder.ts';
import { createMessageHandler, startDnsServer, type DnsServer, type QueryResult } from '../../dns/server.ts';
import { createClientAcl } from '../../dns/client-acl.ts';
import { dig, digReady, flags, section, startDnsmasq, status, type Dnsmasq } from '../helpers/dns.ts';
import { waitFor } from '../helpers/processes.ts';

const many = Array.from({ length: 60 }, (_, i) => ({ name: `n${i}`, addresses: [`10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`], txt: [] }));
const snapshot: ZoneSnapshot = {
  nodes: [{ name: 'vm-2', addresses: ['192.168.1.20', 'fd00::20'], txt: ['arch=amd64', 'group=compute'] }, ...many],
  services: [
    { name: 'grafana', instances: [{ node: 'vm-2', ports: [{ port: 3000, protocol: 'tcp' }] }] },
    { name: 'big', instances: many.map((n) => ({ node: n.name, ports: [{ port: 80, protocol: 'tcp' }] })) },
  ],
};
const silent = { warn() {}, debug() {} };

let server: DnsServer | undefined;
let dnsmasq: Dnsmasq | undefined;
let deadUpstream: ReturnType<typeof createSocket> | undefined;
let ready = false;
const counts = new Map<QueryResult, number>();

async function startServer(upstreams: Upstream[]): Promise<DnsServer> {
  const zone = compileZone(snapshot);
  return startDnsServer({
    resolver: createResolver({ domain: 'internal', ttl: 30, negativeTtl: 10, nsAddresses: ['127.0.0.1'] }),
    zone: () => ({ zone, serial: 42 }),
    forwarder: createForwarder({ upstreams, timeoutMs: 700 }),
    acl: createClientAcl({ interfaces: () => ({}), now: Date.now }, { allow: ['127.0.0.0/8'] }),
    log: silent,
    count: (r) => counts.set(r, (counts.get(r) ?? 0) + 1),
  }, { host: '127.0.0.1', port: 0 });
}

test.before(async () => {
  ready = await digReady();
  if (!ready) return;
  dnsmasq = await startDnsmasq({ 'upstream.test': '10.9.8.7' }, 2);
  if (!dnsmasq) { ready = false; return; }
  server = await startServer([{ host: '127.0.0.1', port: dnsmasq.port }]);
});

test.after(async () => {
  await server?.close();
  await dnsmasq?.stop();
  deadUpstream?.close();
});

test('every record kind over UDP and TCP, authoritative, with the EDNS OPT echoed', async () => {
  if (!ready) return;
  for (const transport of ['+notcp', '+tcp']) {
    const a = await dig(server!.port, 'vm-2.node.internal', 'A', transport);
    assert.is(status(a), 'NOERROR');
    assert.ok(flags(a).includes('aa'), `AA flag over ${transport}`);
    assert.equal(section(a, 'ANSWER').map((r) => r[4]), ['192.168.1.20']);
    assert.match(a, /EDNS: version: 0, flags:; udp: 1232/);
    assert.equal(section(await dig(server!.port, 'VM-2.NODE.internal', 'AAAA', transport), 'ANSWER').map((r) => r[4]), ['fd00::20']);
    assert.equal(section(await dig(server!.port, 'vm-2.node.internal', 'TXT', transport), 'ANSWER').map((r) => r.slice(4).join(' ')), ['"arch=amd64" "group=compute"']);
    assert.equal(section(await dig(server!.port, 'grafana.service.internal', 'A', transport), 'ANSWER').map((r) => `${r[1]} ${r[4]}`), ['30 192.168.1.20'], 'non-zero TTL');
    const srv = await dig(server!.port, '_grafana._tcp.service.internal', 'SRV', transport);
    assert.equal(section(srv, 'ANSWER').map((r) => r.slice(4).join(' ')), ['10 10 3000 vm-2.node.internal.']);
    assert.equal(section(srv, 'ADDITIONAL').map((r) => `${r[0]} ${r[3]}`).sort(), ['vm-2.node.internal. A', 'vm-2.node.internal. AAAA']);
    assert.equal(section(await dig(server!.port, '-x', '192.168.1.20', transport), 'ANSWER').map((r) => r[4]), ['vm-2.node.internal.']);
    assert.equal(section(await dig(server!.port, 'internal', 'SOA', transport), 'ANSWER').map((r) => r.slice(4, 7).join(' ')), ['ns.internal. hostmaster.internal. 42']);
    assert.equal(section(await dig(server!.port, 'internal', 'NS', transport), 'ANSWER').map((r) => r[4]), ['ns.internal.']);
  }
});

test('NXDOMAIN with the SOA and its negative TTL; NODATA for a known name without the type', async () => {
  if (!ready) return;
  const nx = await dig(server!.port, 'nope.node.internal', 'A');
  assert.is(status(nx), 'NXDOMAIN');
  assert.ok(flags(nx).includes('aa'));
  const auth = section(nx, 'AUTHORITY');
  assert.is(auth[0]![3], 'SOA');
  assert.is(auth[0]![1], '10');
  assert.is(auth[0]![10], '10', 'SOA minimum = negative TTL');
  const nodata = await dig(server!.port, 'grafana.service.internal', 'TXT');
  assert.is(status(nodata), 'NOERROR');
  assert.equal(section(nodata, 'ANSWER'), []);
  assert.is(section(nodata, 'AUTHORITY')[0]![3], 'SOA');
});

test('EDNS versions it does not speak get BADVERS', async () => {
  if (!ready) return;
  const out = await dig(server!.port, 'internal', 'SOA', '+edns=1', '+noednsnegotiation');
  assert.is(status(out), 'BADVERS');
});

test('an answer over 512 bytes without EDNS is truncated (TC), and dig gets it whole over TCP', async () => {
  if (!ready) return;
  const cut = await dig(server!.port, 'big.service.internal', 'A', '+noedns', '+ignore');
  assert.ok(flags(cut).includes('tc'), 'TC set');
  assert.equal(section(cut, 'ANSWER'), []);
  const whole = await dig(server!.port, 'big.service.internal', 'A', '+noedns');
  assert.match(whole, /Truncated, retrying in TCP mode/);
  assert.is(section(whole, 'ANSWER').length, 60);
  const edns = await dig(server!.port, 'big.service.internal', 'A', '+bufsize=4096', '+ignore');
  assert.ok(flags(edns).includes('tc'), '60 answers do not fit our 1232-byte EDNS limit either');
});

test('names outside the domain go to the upstream (a real dnsmasq), cached for their TTL', async () => {
  if (!ready) return;
  const first = await dig(server!.port, 'a.upstream.test', 'A');
  assert.is(status(first), 'NOERROR');
  assert.equal(section(first, 'ANSWER').map((r) => r[4]), ['10.9.8.7']);
  await waitFor('dnsmasq to log the query', () => dnsmasq!.queriesFor('a.upstream.test') === 1, 2_000, 20);
  const second = await dig(server!.port, 'A.Upstream.Test', 'A');
  assert.equal(section(second, 'ANSWER').map((r) => r[4]), ['10.9.8.7']);
  assert.ok(Number(section(second, 'ANSWER')[0]![1]) <= 2);
  await new Promise((r) => setTimeout(r, 300));
  assert.is(dnsmasq!.queriesFor('a.upstream.test'), 1, 'the second answer came from the cache');
  await new Promise((r) => setTimeout(r, 2_300));
  await dig(server!.port, 'a.upstream.test', 'A');
  await waitFor('the expired answer asked again', () => dnsmasq!.queriesFor('a.upstream.test') === 2, 2_000, 20);
  const nx = await dig(server!.port, 'nothing.example.invalid', 'A');
  assert.is(status(nx), 'REFUSED', 'dnsmasq without upstreams refuses; relayed as it came');
});

test('an upstream that does not answer gives SERVFAIL in bounded time', async () => {
  if (!ready) return;
  deadUpstream = createSocket('udp4');
  await new Promise<void>((r) => deadUpstream!.bind(0, '127.0.0.1', () => r()));
  const port = (deadUpstream.address() as { port: number }).port;
  const s = await startServer([{ host: '127.0.0.1', port }]);
  try {
    const t0 = Date.now();
    const out = await dig(s.port, 'anything.example', 'A');
    assert.is(status(out), 'SERVFAIL');
    assert.ok(Date.now() - t0 < 3_000, `${Date.now() - t0} ms`);
  } finally {
    await s.close();
  }
});

test('hostile input: short, reversed, looping, lying and garbage packets are refused quickly; nothing throws', async () => {
  const zone = compileZone(snapshot);
  const handle = createMessageHandler({
    resolver: createResolver({ domain: 'internal', ttl: 30, negativeTtl: 10, nsAddresses: [] }),
    zone: () => ({ zone, serial: 1 }),
    forwarder: { forward: async () => { throw new Error('no upstream in this test'); }, close() {} },
    acl: createClientAcl({ interfaces: () => ({}), now: Date.now }, { allow: ['127.0.0.0/8'] }),
    log: silent,
  });
  const header = (id: number, flagsWord: number, qd: number, an = 0, ns = 0, ar = 0) => {
    const b = Buffer.alloc(12);
    b.writeUInt16BE(id, 0); b.writeUInt16BE(flagsWord, 2); b.writeUInt16BE(qd, 4); b.writeUInt16BE(an, 6); b.writeUInt16BE(ns, 8); b.writeUInt16BE(ar, 10);
    return b;
  };
  const rcodeOf = (b: Buffer | undefined) => (b ? b.readUInt16BE(2) & 0xf : undefined);
  // A name that points at itself: a compression loop.
  const loop = Buffer.concat([header(1, 0, 1), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  // A header claiming thousands of records over a few bytes.
  const liar = Buffer.concat([header(2, 0, 1, 0, 0, 2), Buffer.from([3, 0x61, 0x62, 0x63, 0, 0, 1, 0, 1]), Buffer.alloc(20, 0xff)]);
  const thousands = Buffer.concat([header(3, 0, 4000, 4000, 4000, 4000), Buffer.alloc(500, 0xc0)]);
  const cases: [string, Buffer, number | undefined][] = [
    ['empty', Buffer.alloc(0), undefined],
    ['one byte', Buffer.from([1]), undefined],
    ['header only, no question', header(4, 0, 0), 1],
    ['a response, not a query', header(5, 0x8000, 1), undefined],
    ['an UPDATE', header(6, 5 << 11, 1), 4],
    ['a compression loop', loop, 1],
    ['records that are not there', liar, 1],
    ['thousands of claimed records', thousands, 1],
    ['64 KiB of garbage', Buffer.concat([header(7, 0, 1), Buffer.alloc(65_000, 0x3f)]), 1],
  ];
  for (const [what, bytes, expected] of cases) {
    const t0 = performance.now();
    const out = await handle(bytes, 'udp', '127.0.0.1');
    const ms = performance.now() - t0;
    assert.is(rcodeOf(out), expected, what);
    assert.ok(ms < 20, `${what} took ${ms.toFixed(1)} ms`);
    if (out) assert.is(out.readUInt16BE(0), bytes.readUInt16BE(0), `${what}: the id is echoed`);
  }
  // 20,000 random packets: none throws, none costs more than a few milliseconds. A packet that
  // took long once is timed again: a garbage collection can land on any packet, a slow parse
  // lands on the same one every time.
  const timed = async (bytes: Buffer) => { const t0 = performance.now(); await handle(bytes, 'udp', '127.0.0.1'); return performance.now() - t0; };
  let worst = 0;
  for (let i = 0; i < 20_000; i++) {
    const len = 12 + Math.floor(Math.random() * 200);
    const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(Math.random() * 256)));
    if (i % 2) bytes.writeUInt16BE(1, 4); // half of them pass the count guard and reach the decoder
    bytes.writeUInt16BE(bytes.readUInt16BE(2) & 0x07ff, 2);
    let ms = await timed(bytes);
    if (ms >= 20) ms = Math.min(ms, await timed(bytes), await timed(bytes), await timed(bytes));
    worst = Math.max(worst, ms);
  }
  assert.ok(worst < 20, `worst random packet took ${worst.toFixed(1)} ms, every time it was tried`);
  // And a real query still gets its answer from the same handler.
  const ok = await handle(packet.encode({ type: 'query', id: 9, questions: [{ type: 'A', name: 'vm-2.node.internal' }] }), 'udp', '127.0.0.1');
  assert.equal(packet.decode(ok!).answers?.map((a) => (a as { data: string }).data), ['192.168.1.20']);
});

test('answers kept ready follow the zone, carry each query\'s id, RD and OPT, and shuffled answers stay shuffled', async () => {
  let current = { zone: compileZone(snapshot), serial: 1 };
  const handle = createMessageHandler({
    resolver: createResolver({ domain: 'internal', ttl: 30, negativeTtl: 10, nsAddresses: [] }),
    zone: () => current,
    forwarder: { forward: async () => { throw new Error('no upstream in this test'); }, close() {} },
    acl: createClientAcl({ interfaces: () => ({}), now: Date.now }, { allow: ['127.0.0.0/8'] }),
    log: silent,
  });
  const ask = async (name: string, extra: Partial<packet.Packet> = {}, transport: 'udp' | 'tcp' = 'udp') => {
    const id = Math.floor(Math.random() * 65536);
    const out = await handle(packet.encode({ type: 'query', id, questions: [{ type: 'A', name }], ...extra }), transport, '127.0.0.1');
    const p = packet.decode(out!);
    assert.is(p.id, id, 'the id of this query');
    return p;
  };
  const data = (p: packet.Packet) => (p.answers ?? []).map((a) => (a as { data: string }).data);
  for (let i = 0; i < 3; i++) assert.equal(data(await ask('vm-2.node.internal')), ['192.168.1.20']);
  const withOpt = await ask('vm-2.node.internal', { flags: packet.RECURSION_DESIRED, additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: packet.DNSSEC_OK } as packet.Answer] });
  assert.ok((withOpt.flags! & packet.RECURSION_DESIRED) !== 0, 'RD copied');
  assert.equal(withOpt.additionals?.map((a) => [a.type, (a as { flags?: number }).flags]), [['OPT', packet.DNSSEC_OK]], 'OPT with the DO bit echoed');
  assert.equal((await ask('vm-2.node.internal')).additionals, [], 'no OPT for a query without one');
  current = { zone: compileZone({ ...snapshot, nodes: [{ name: 'vm-2', addresses: ['192.168.1.99'], txt: [] }] }), serial: 2 };
  assert.equal(data(await ask('vm-2.node.internal')), ['192.168.1.99'], 'a new zone, a new answer');
  current = { zone: compileZone(snapshot), serial: 3 };
  const orders = new Set<string>();
  for (let i = 0; i < 40; i++) orders.add(data(await ask('big.service.internal', {}, 'tcp')).slice(0, 3).join());
  assert.ok(orders.size > 1, 'service answers are shuffled on every query, not frozen');
});

test.run();
