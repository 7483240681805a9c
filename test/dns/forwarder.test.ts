/**
 * The forwarder against upstreams on loopback that misbehave on purpose:
 * answers to another question, with another id, from someone else, too big,
 * truncated. Only the answer to the question asked, from the upstream asked,
 * on the socket that asked, is believed and cached; the rest is counted.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';
import type { Answer } from 'dns-packet';
import { createForwarder, type Forwarder, type ForwarderOptions } from '../../dns/forwarder.ts';
import type { DnsEvent } from '../../dns/events.ts';
import { answerTo, startFakeUpstream, type FakeUpstream } from '../helpers/dns.ts';

let upstream: FakeUpstream;
const forwarders: Forwarder[] = [];
let events: DnsEvent[] = [];

test.before(async () => { upstream = await startFakeUpstream(); });
test.after(async () => { for (const f of forwarders) f.close(); await upstream.close(); });
test.before.each(() => {
  events = [];
  upstream.queries.length = 0;
  upstream.behave = (q) => [answerTo(q, [{ name: q.questions![0]!.name, type: 'A', ttl: 60, data: '10.0.0.1' }])];
});

function forwarder(opts: Partial<ForwarderOptions> = {}): Forwarder {
  const f = createForwarder({ upstreams: [{ host: '127.0.0.1', port: upstream.port }], timeoutMs: 400, onEvent: (e) => events.push(e), ...opts });
  forwarders.push(f);
  return f;
}

/** The question section of a query for `name`, as a client's bytes. */
const question = (name: string, type = 'A') => packet.encode({ type: 'query', id: 0, questions: [{ name, type: type as 'A' }] }).subarray(12);
const ask = (f: Forwarder, name: string, type = 'A') => f.forward({ question: question(name, type), dnssecOk: false, checkingDisabled: false });
const addresses = (response: Buffer) => (packet.decode(response).answers ?? []).map((a) => (a as { data: unknown }).data);

test('every upstream query leaves from its own random source port, with a random id', async () => {
  const f = forwarder();
  for (let i = 0; i < 24; i++) await ask(f, `q${i}.example`);
  const ports = upstream.queries.map((q) => q.port);
  const ids = upstream.queries.map((q) => q.id);
  assert.is(ports.length, 24);
  assert.ok(new Set(ports).size >= 22, `source ports ${ports.join(' ')}`);
  assert.ok(new Set(ids).size >= 22, `ids ${ids.join(' ')}`);
  const steps = ports.slice(1).filter((p, i) => Math.abs(p - ports[i]!) <= 2).length;
  assert.ok(steps <= 2, `ports are not sequential: ${ports.join(' ')}`);
  assert.ok(upstream.queries.every((q) => q.udpPayloadSize === 1232), 'asked with EDNS, our own payload size');
});

test('an answer to another question is dropped, counted and never cached (the Kaminsky setup)', async () => {
  const f = forwarder();
  upstream.behave = (q) => [{ ...answerTo(q, [{ name: 'bank.example', type: 'A', ttl: 3600, data: '6.6.6.6' }]), questions: [{ name: 'bank.example', type: 'A' }] }];
  const err = await ask(f, 'mismatch.example').then(() => undefined, (e: { code?: string }) => e);
  assert.is(err?.code, 'MUSTER_ERR_DNS_UPSTREAM');
  assert.ok(events.includes('upstream_wrong_question'));
  upstream.behave = (q) => [answerTo(q, [{ name: q.questions![0]!.name, type: 'A', ttl: 60, data: '10.0.0.9' }])];
  assert.equal(addresses((await ask(f, 'bank.example')).response), ['10.0.0.9'], 'bank.example was not cached from the forged answer');
  assert.is(upstream.queries.filter((q) => q.name === 'bank.example').length, 1, 'and was asked upstream');
});

test('the wrong type or class is another question too; a wrong id is dropped; the real answer after them counts', async () => {
  const f = forwarder();
  upstream.behave = (q) => {
    const right = answerTo(q, [{ name: q.questions![0]!.name, type: 'A', ttl: 60, data: '10.0.0.2' }]);
    return [
      { ...right, id: (q.id + 1) & 0xffff, answers: [{ name: q.questions![0]!.name, type: 'A', ttl: 60, data: '6.6.6.1' }] },
      { ...right, questions: [{ name: q.questions![0]!.name, type: 'AAAA' }], answers: [] },
      { ...right, questions: [{ name: q.questions![0]!.name, type: 'A', class: 'CH' }] },
      Buffer.from([(q.id >> 8) & 0xff, q.id & 0xff, 0x81]),
      right,
    ];
  };
  const { response, cached } = await ask(f, 'WWW.Example.com');
  assert.equal(addresses(response), ['10.0.0.2']);
  assert.is(cached, false);
  assert.equal(events.sort(), ['upstream_malformed', 'upstream_wrong_id', 'upstream_wrong_question', 'upstream_wrong_question']);
  assert.is((await ask(f, 'www.example.COM')).cached, true, 'the name matches without regard to case');
});

test('a forged answer from another socket, aimed at the query\'s own source port, is not believed', async () => {
  const f = forwarder({ timeoutMs: 600 });
  const spoofer = createSocket('udp4');
  await new Promise<void>((r) => spoofer.bind(0, '127.0.0.1', () => r()));
  upstream.behave = async (q, _t, from) => {
    // The spoofer knows the port and the id (the worst case) and answers first; the real upstream later.
    const forged = packet.encode(answerTo(q, [{ name: q.questions![0]!.name, type: 'A', ttl: 3600, data: '6.6.6.6' }]));
    await new Promise<void>((r) => spoofer.send(forged, from.port, '127.0.0.1', () => r()));
    await new Promise((r) => setTimeout(r, 50));
    return [answerTo(q, [{ name: q.questions![0]!.name, type: 'A', ttl: 60, data: '10.0.0.3' }])];
  };
  try {
    assert.equal(addresses((await ask(f, 'spoofed.example')).response), ['10.0.0.3']);
  } finally {
    spoofer.close();
  }
});

test('a truncated answer is asked again over TCP, checked the same way, and kept whole', async () => {
  const f = forwarder();
  const many: Answer[] = Array.from({ length: 300 }, (_, i) => ({ name: 'big.example', type: 'A', ttl: 60, data: `10.1.${i >> 8}.${i & 255}` }));
  upstream.behave = (q, transport) => (transport === 'udp' ? [answerTo(q, [], packet.TRUNCATED_RESPONSE)] : [answerTo(q, many)]);
  const { response } = await ask(f, 'big.example');
  assert.is(addresses(response).length, 300);
  assert.equal(upstream.queries.map((q) => q.transport), ['udp', 'tcp']);
  // Over TCP too, an answer to another question is not taken.
  upstream.behave = (q, transport) => (transport === 'udp' ? [answerTo(q, [], packet.TRUNCATED_RESPONSE)] : [{ ...answerTo(q, many), questions: [{ name: 'other.example', type: 'A' }] }]);
  const err = await ask(f, 'big2.example').then(() => undefined, (e: { code?: string }) => e);
  assert.is(err?.code, 'MUSTER_ERR_DNS_UPSTREAM');
  assert.ok(events.includes('upstream_wrong_question'));
});

test('the upstream\'s OPT is not passed on, and the answer keeps the upstream\'s name compression', async () => {
  const f = forwarder();
  let upstreamBytes = 0;
  upstream.behave = (q) => {
    const m = { ...answerTo(q, Array.from({ length: 20 }, (_, i) => ({ name: q.questions![0]!.name, type: 'A' as const, ttl: 60, data: `10.2.0.${i}` }))), additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0 } as Answer] };
    // Compress by hand what dns-packet does not: every answer's name points at the question.
    const plain = packet.encode(m);
    const name = packet.encode({ type: 'query', questions: q.questions }).subarray(12, -4);
    const parts: Buffer[] = [plain.subarray(0, 12 + name.length + 4)];
    let at = 12 + name.length + 4;
    for (let i = 0; i < 20; i++) { parts.push(Buffer.from([0xc0, 12]), plain.subarray(at + name.length, at + name.length + 14)); at += name.length + 14; }
    parts.push(plain.subarray(at));
    const compressed = Buffer.concat(parts);
    upstreamBytes = compressed.length;
    return [compressed];
  };
  const { response } = await ask(f, 'a-rather-long-name-to-compress.example');
  const decoded = packet.decode(response);
  assert.is(decoded.answers?.length, 20);
  assert.equal(decoded.additionals, [], 'no OPT');
  assert.is(response.length, upstreamBytes - 11, 'the upstream\'s bytes less its OPT');
});

test('identical questions asked at once share one upstream query', async () => {
  const f = forwarder();
  upstream.behave = async (q) => { await new Promise((r) => setTimeout(r, 100)); return [answerTo(q, [{ name: q.questions![0]!.name, type: 'A', ttl: 0, data: '10.0.0.4' }])]; };
  const all = await Promise.all(Array.from({ length: 20 }, () => ask(f, 'popular.example')));
  assert.ok(all.every((r) => addresses(r.response)[0] === '10.0.0.4'));
  assert.is(upstream.queries.length, 1, 'a spoofer flooding us with one question gets one chance at a time, not twenty');
});

test('an upstream that refuses the port fails over to the next at once', async () => {
  const dead = createSocket('udp4');
  await new Promise<void>((r) => dead.bind(0, '127.0.0.1', () => r()));
  const deadPort = (dead.address() as { port: number }).port;
  dead.close();
  const f = forwarder({ upstreams: [{ host: '127.0.0.1', port: deadPort }, { host: '127.0.0.1', port: upstream.port }], timeoutMs: 2_000 });
  const t0 = Date.now();
  assert.equal(addresses((await ask(f, 'failover.example')).response), ['10.0.0.1']);
  assert.ok(Date.now() - t0 < 1_000, `took ${Date.now() - t0} ms: the ICMP error was taken, not the timeout`);
});

test('an upstream that cannot be reached fails over to the next, and nothing throws', async () => {
  // 2001:db8::/32 is for documentation: with no route there connect() or send() fails; with one, nothing answers.
  const f = forwarder({ upstreams: [{ host: '2001:db8::53', port: 53 }, { host: '127.0.0.1', port: upstream.port }] });
  assert.equal(addresses((await ask(f, 'unroutable.example')).response), ['10.0.0.1']);
});

test.run();
