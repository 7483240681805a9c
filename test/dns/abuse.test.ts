/**
 * The DNS server against the abuse a resolver on a network meets, over real
 * sockets on loopback (every 127.x.y.z is a different client here): a raw
 * client that keeps whatever arrives (the Kaminsky setup), amplification
 * through huge and truncated upstream answers, strangers asking for outside
 * names, a flood from one address, ANY, and idle or greedy TCP clients.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket as TcpSocket } from 'node:net';
import * as packet from 'dns-packet';
import type { Answer, Packet } from 'dns-packet';
import { createResolver } from '../../dns/resolver.ts';
import { compileZone } from '../../dns/zone.ts';
import { createForwarder } from '../../dns/forwarder.ts';
import { createClientAcl } from '../../dns/client-acl.ts';
import { startDnsServer, type DnsServer, type DnsServerOptions, type QueryResult } from '../../dns/server.ts';
import type { DnsEvent } from '../../dns/events.ts';
import { answerTo, dig, digReady, flags, rawUdpClient, section, startFakeUpstream, status, type FakeUpstream } from '../helpers/dns.ts';
import { waitFor } from '../helpers/processes.ts';

const zone = compileZone({ nodes: [{ name: 'vm-2', addresses: ['192.168.1.20', 'fd00::20'], txt: ['arch=amd64'] }], services: [] });
const silent = { warn() {}, debug() {} };
let upstream: FakeUpstream;
const servers: DnsServer[] = [];
let events: DnsEvent[] = [];
let results: QueryResult[] = [];
let clock = 1_000_000;
let digOk = false;

/** A server that forwards to the fake upstream and lets `allow` recurse. */
async function start(allow: string[], opts: Partial<DnsServerOptions> = {}, realClock = false): Promise<DnsServer> {
  const now = realClock ? Date.now : () => clock;
  const s = await startDnsServer({
    resolver: createResolver({ domain: 'internal', ttl: 30, negativeTtl: 10, nsAddresses: ['127.0.0.1'] }),
    zone: () => ({ zone, serial: 7 }),
    forwarder: createForwarder({ upstreams: [{ host: '127.0.0.1', port: upstream.port }], timeoutMs: 300, onEvent: (e) => events.push(e) }),
    acl: createClientAcl({ interfaces: () => ({}), now }, { allow }),
    log: silent,
    count: (r) => results.push(r),
    onEvent: (e) => events.push(e),
    now,
  }, { host: '127.0.0.1', port: 0, ...opts });
  servers.push(s);
  return s;
}

const query = (name: string, type = 'A', extra: Partial<Packet> = {}): Packet => ({ type: 'query', id: Math.floor(Math.random() * 65536), flags: packet.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }], ...extra });
const edns = (size: number): Partial<Packet> => ({ additionals: [{ type: 'OPT', name: '.', udpPayloadSize: size, flags: 0 } as Answer] });
const TC = packet.TRUNCATED_RESPONSE;
/** The response code dns-packet decodes (its types leave it out). */
const rcode = (p: Packet) => (p as { rcode?: string }).rcode;

test.before(async () => {
  upstream = await startFakeUpstream();
  digOk = await digReady();
});
test.after(async () => {
  for (const s of servers) await s.close();
  await upstream.close();
});
test.before.each(() => {
  events = [];
  results = [];
  upstream.queries.length = 0;
  upstream.behave = (q) => [answerTo(q, [{ name: q.questions![0]!.name, type: 'A', ttl: 60, data: '10.0.0.1' }])];
});

test('a forged answer to another question never reaches the client, nor the cache', async () => {
  const s = await start(['127.0.0.0/8']);
  upstream.behave = (q) => [{ ...answerTo(q, [{ name: 'bank.example', type: 'A', ttl: 3600, data: '6.6.6.6' }]), questions: [{ name: 'bank.example', type: 'A' }] }];
  const client = await rawUdpClient();
  try {
    const q = packet.encode(query('mismatch.example'));
    await client.send(q, s.port);
    await client.collect(1, 2_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.is(client.received.length, 1, 'one answer, whatever else arrived upstream');
    const got = packet.decode(client.received[0]!);
    assert.is(rcode(got), 'SERVFAIL');
    assert.equal(got.answers, []);
    assert.ok(events.includes('upstream_wrong_question'));
    upstream.behave = (q2) => [answerTo(q2, [{ name: q2.questions![0]!.name, type: 'A', ttl: 60, data: '10.0.0.7' }])];
    await client.send(query('bank.example'), s.port);
    await client.collect(2, 2_000);
    assert.equal((packet.decode(client.received[1]!).answers ?? []).map((a) => (a as { data: string }).data), ['10.0.0.7']);
    assert.is(upstream.queries.filter((x) => x.name === 'bank.example').length, 1, 'bank.example was asked, not served from a poisoned cache');
  } finally {
    client.close();
  }
});

test('no amplification: a 63 KB upstream answer reaches a UDP client as 512 bytes or its EDNS size with TC, whole over TCP', async () => {
  const s = await start(['127.0.0.0/8']);
  const huge: Answer[] = Array.from({ length: 2250 }, (_, i) => ({ name: 'huge.example', type: 'A', ttl: 60, data: `10.3.${i >> 8}.${i & 255}` }));
  upstream.behave = (q) => [answerTo(q, huge)];
  const client = await rawUdpClient();
  try {
    const plain = packet.encode(query('huge.example'));
    await client.send(plain, s.port);
    await client.send(query('huge.example', 'A', edns(4096)), s.port);
    await client.send(query('huge.example', 'A', edns(100)), s.port);
    const got = await client.collect(3, 2_000);
    assert.is(got.length, 3);
    const sizes = got.map((b) => b.length);
    assert.ok(sizes.every((n) => n <= 512 + 11) && sizes.every((n) => n < 4 * plain.length), `answers of ${sizes.join(', ')} bytes to ${plain.length}-byte queries`);
    for (const b of got) {
      assert.ok((b.readUInt16BE(2) & TC) !== 0, 'TC set');
      assert.equal(packet.decode(b).answers, []);
    }
    assert.ok(events.filter((e) => e === 'truncated').length >= 3);
  } finally {
    client.close();
  }
  if (!digOk) return;
  const whole = await dig(s.port, 'huge.example', 'A', '+tcp');
  assert.is(section(whole, 'ANSWER').length, 2250, 'over TCP the whole answer (from the cache)');
  assert.is(upstream.queries.length, 1);
});

test('an upstream that sets TC: the hub fetches over TCP, but UDP clients still get TC and retry', async () => {
  const s = await start(['127.0.0.0/8']);
  const many: Answer[] = Array.from({ length: 100 }, (_, i) => ({ name: 'tc.example', type: 'A', ttl: 60, data: `10.4.0.${i}` }));
  upstream.behave = (q, transport) => [transport === 'udp' ? answerTo(q, [], TC) : answerTo(q, many)];
  const client = await rawUdpClient();
  try {
    await client.send(query('tc.example'), s.port);
    const [b] = await client.collect(1, 2_000);
    assert.ok(b && b.length <= 512 && (b.readUInt16BE(2) & TC) !== 0, `${b?.length} bytes, TC`);
  } finally {
    client.close();
  }
  assert.equal(upstream.queries.map((q) => q.transport), ['udp', 'tcp']);
  if (!digOk) return;
  const out = await dig(s.port, 'tc.example', 'A', '+noedns');
  assert.match(out, /Truncated, retrying in TCP mode/);
  assert.is(section(out, 'ANSWER').length, 100);
});

test('clients outside the allowed networks: REFUSED for outside names (never forwarded), answers for the domain', async () => {
  const s = await start(['127.0.0.1/32']);
  const stranger = await rawUdpClient('127.1.0.5');
  try {
    await stranger.send(query('outside.example'), s.port);
    await stranger.send(query('vm-2.node.internal'), s.port);
    await stranger.send(query('internal', 'AXFR'), s.port);
    const got = (await stranger.collect(3, 2_000)).map((b) => packet.decode(b));
    const byName = new Map(got.map((p) => [`${p.questions?.[0]?.name} ${p.questions?.[0]?.type}`, p]));
    const refused = byName.get('outside.example A')!;
    assert.is(rcode(refused), 'REFUSED');
    assert.is((refused.flags! & packet.RECURSION_AVAILABLE), 0, 'RA clear: no recursion for this client');
    const own = byName.get('vm-2.node.internal A')!;
    assert.is(rcode(own), 'NOERROR');
    assert.equal(own.answers?.map((a) => (a as { data: string }).data), ['192.168.1.20']);
    assert.is(rcode(byName.get('internal AXFR')!), 'REFUSED');
    assert.is(upstream.queries.length, 0, 'nothing was forwarded');
    assert.equal(events.sort(), ['refused_recursion', 'refused_zone_transfer']);
  } finally {
    stranger.close();
  }
  if (!digOk) return;
  assert.is(status(await dig(s.port, 'outside.example', 'A')), 'NOERROR', 'the allowed client recurses');
});

test('a flood from one stranger is rate limited: the rate answered, then every second answer slipped (TC), the rest dropped', async () => {
  const s = await start(['127.0.0.1/32']);
  const flooder = await rawUdpClient('127.2.0.5');
  const friend = await rawUdpClient('127.0.0.1');
  try {
    for (let i = 0; i < 100; i++) await flooder.send(query('vm-2.node.internal'), s.port);
    for (let i = 0; i < 100; i++) await friend.send(query('vm-2.node.internal'), s.port);
    await friend.collect(100, 3_000);
    await flooder.collect(60, 3_000);
    await new Promise((r) => setTimeout(r, 200));
    const full = flooder.received.filter((b) => (b.readUInt16BE(2) & TC) === 0);
    const slipped = flooder.received.filter((b) => (b.readUInt16BE(2) & TC) !== 0);
    assert.is(full.length, 20, 'the default rate: 20 a second');
    assert.is(slipped.length, 40);
    assert.ok(slipped.every((b) => b.length <= 12 + 24 && packet.decode(b).answers?.length === 0), 'a slip is no bigger than the query');
    assert.is(friend.received.length, 100, 'an allowed client is not limited by default');
    assert.is(events.filter((e) => e === 'rate_limited_dropped').length, 40);
    assert.is(events.filter((e) => e === 'rate_limited_slipped').length, 40);
    assert.is(results.filter((r) => r === 'rate_limited').length, 80);
    // The debt: a second later the stranger is still limited; after the window it is answered again.
    clock += 1_000;
    flooder.received.length = 0;
    await flooder.send(query('vm-2.node.internal'), s.port);
    await flooder.send(query('vm-2.node.internal'), s.port);
    await flooder.collect(1, 500);
    assert.ok(flooder.received.every((b) => (b.readUInt16BE(2) & TC) !== 0), 'still limited a second later');
    clock += 16_000;
    flooder.received.length = 0;
    await flooder.send(query('vm-2.node.internal'), s.port);
    const [after] = await flooder.collect(1, 1_000);
    assert.ok(after && (after.readUInt16BE(2) & TC) === 0, 'answered after the window');
  } finally {
    flooder.close();
    friend.close();
  }
});

test('--dns-rate-limit limits everyone, allowed clients included; TCP is never limited', async () => {
  const s = await start(['127.0.0.0/8'], { rateLimit: { everyone: true, responsesPerSecond: 10 } });
  const client = await rawUdpClient('127.6.0.1');
  try {
    for (let i = 0; i < 30; i++) await client.send(query('vm-2.node.internal'), s.port);
    await client.collect(20, 2_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.is(client.received.filter((b) => (b.readUInt16BE(2) & TC) === 0).length, 10);
    assert.is(client.received.length, 20);
  } finally {
    client.close();
  }
  if (!digOk) return;
  for (let i = 0; i < 5; i++) assert.is(status(await dig(s.port, 'vm-2.node.internal', 'A', '+tcp')), 'NOERROR');
});

test('ANY over UDP gets one RRset (RFC 8482), an outside name a synthesized HINFO without asking upstream; TCP gets everything', async () => {
  const s = await start(['127.0.0.0/8']);
  const client = await rawUdpClient();
  try {
    await client.send(query('vm-2.node.internal', 'ANY'), s.port);
    await client.send(query('outside.example', 'ANY'), s.port);
    const got = (await client.collect(2, 2_000)).map((b) => packet.decode(b));
    const own = got.find((p) => p.questions?.[0]?.name === 'vm-2.node.internal')!;
    assert.equal([...new Set(own.answers?.map((a) => a.type))], ['A']);
    const outside = got.find((p) => p.questions?.[0]?.name === 'outside.example')!;
    assert.equal(outside.answers?.map((a) => [a.type, (a as { data: { cpu: string } }).data.cpu]), [['HINFO', 'RFC8482']]);
    assert.is(upstream.queries.length, 0);
  } finally {
    client.close();
  }
  if (!digOk) return;
  const all = await dig(s.port, 'vm-2.node.internal', 'ANY', '+tcp');
  assert.equal(section(all, 'ANSWER').map((r) => r[3]).sort(), ['A', 'AAAA', 'TXT']);
});

/** Opens a TCP connection from `local`; resolves once connected, with a promise of its close. */
function openTcp(port: number, local: string): Promise<{ sock: TcpSocket; closed: Promise<void>; ask(p: Packet): Promise<Packet> }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress: local });
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    let buf = Buffer.alloc(0);
    const waiting: ((p: Packet) => void)[] = [];
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        waiting.shift()?.(packet.decode(msg));
      }
    });
    sock.on('error', () => {});
    sock.once('connect', () => resolve({
      sock, closed,
      ask: (p) => new Promise<Packet>((r, j) => {
        waiting.push(r);
        const body = packet.encode(p);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(body.length);
        sock.write(Buffer.concat([len, body]));
        closed.then(() => j(new Error('closed before answering')));
      }),
    }));
    sock.once('error', reject);
  });
}
const isClosed = (c: { closed: Promise<void> }, ms: number) => Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

test('TCP: a client may hold only so many connections; the others still get in', async () => {
  const s = await start(['127.0.0.0/8'], { maxTcpPerClient: 3, maxTcpConnections: 50 }, true);
  const mine = await Promise.all([1, 2, 3].map(() => openTcp(s.port, '127.7.0.1')));
  const extra = await openTcp(s.port, '127.7.0.1');
  assert.ok(await isClosed(extra, 1_000), 'the fourth connection of one client is closed');
  assert.ok(events.includes('tcp_client_limit'));
  for (const c of mine) assert.is(rcode(await c.ask(query('vm-2.node.internal'))), 'NOERROR');
  const other = await openTcp(s.port, '127.7.0.2');
  assert.is(rcode(await other.ask(query('vm-2.node.internal'))), 'NOERROR');
  for (const c of [...mine, other]) c.sock.destroy();
});

test('TCP: idle connections are closed, trickling a byte at a time does not count as activity', async () => {
  const s = await start(['127.0.0.0/8'], { tcpIdleMs: 400 }, true);
  const silentConn = await openTcp(s.port, '127.8.0.1');
  const busy = await openTcp(s.port, '127.8.0.2');
  const trickle = await openTcp(s.port, '127.8.0.3');
  const body = packet.encode(query('vm-2.node.internal'));
  const framed = Buffer.concat([Buffer.from([0, body.length]), body]);
  let i = 0;
  const dribble = setInterval(() => { if (i < framed.length - 1) trickle.sock.write(framed.subarray(i, ++i)); }, 50);
  try {
    const t0 = Date.now();
    for (let k = 0; k < 6; k++) {
      assert.is(rcode(await busy.ask(query('vm-2.node.internal'))), 'NOERROR');
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.ok(await isClosed(silentConn, 1), `the silent connection is closed after ${Date.now() - t0} ms`);
    assert.ok(await isClosed(trickle, 1), 'so is the one trickling bytes');
    assert.not.ok(await isClosed(busy, 1), 'the one asking stays open');
    assert.ok(events.filter((e) => e === 'tcp_idle').length >= 2);
  } finally {
    clearInterval(dribble);
    busy.sock.destroy();
  }
});

test('TCP: when the server is full of idle connections, a newcomer still gets in (the least recently active goes)', async () => {
  const s = await start(['127.0.0.0/8'], { maxTcpConnections: 6, maxTcpPerClient: 2 }, true);
  const idle: Awaited<ReturnType<typeof openTcp>>[] = [];
  for (let i = 1; i <= 6; i++) idle.push(await openTcp(s.port, `127.9.0.${i}`));
  await new Promise((r) => setTimeout(r, 20));
  // The last one to connect asks something: it is the most recently active.
  assert.is(rcode(await idle[5]!.ask(query('vm-2.node.internal'))), 'NOERROR');
  const newcomer = await openTcp(s.port, '127.9.1.1');
  assert.is(rcode(await newcomer.ask(query('vm-2.node.internal'))), 'NOERROR');
  await waitFor('the oldest idle connection to be closed', () => isClosed(idle[0]!, 1), 1_000, 20);
  assert.not.ok(await isClosed(idle[5]!, 1));
  assert.ok(events.includes('tcp_evicted'));
  for (const c of [...idle, newcomer]) c.sock.destroy();
});

test.run();
