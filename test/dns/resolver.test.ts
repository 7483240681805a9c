import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResolver, type Resolution } from '../../dns/resolver.ts';
import { compileZone, reverseName } from '../../dns/zone.ts';

const zone = compileZone({
  nodes: [
    { name: 'vm-2', addresses: ['192.168.1.20', 'fd00::20'], txt: ['arch=amd64', 'group=compute'] },
    { name: 'Pi_1', addresses: ['192.168.1.31'], txt: ['arch=armv7'] },
  ],
  services: [
    { name: 'grafana', instances: [{ node: 'vm-2', ports: [{ port: 3000, protocol: 'tcp' }] }, { node: 'Pi_1', ports: [{ port: 3000, protocol: 'tcp' }] }] },
    { name: 'dns-cache', instances: [{ node: 'vm-2', ports: [{ port: 53, protocol: 'udp' }] }] },
    { name: 'down', instances: [] },
  ],
});
const resolver = createResolver({ domain: 'internal', ttl: 30, negativeTtl: 10, nsAddresses: ['192.168.1.20'] });
const ask = (name: string, type: string): Extract<Resolution, { kind: 'answer' }> => {
  const r = resolver.resolve({ name, type }, zone, 7, () => 0.5);
  if (r.kind !== 'answer') throw new Error(`${name} ${type} was forwarded`);
  return r;
};
const data = (r: Extract<Resolution, { kind: 'answer' }>) => r.answers.map((a) => ('data' in a ? a.data : undefined));

test('node names: A, AAAA, TXT; case-insensitive; invalid names reach their mapped label', () => {
  assert.equal(data(ask('vm-2.node.internal', 'A')), ['192.168.1.20']);
  assert.equal(data(ask('VM-2.Node.Internal.', 'AAAA')), ['fd00::20']);
  assert.equal(data(ask('vm-2.node.internal', 'TXT')), [['arch=amd64', 'group=compute']]);
  assert.equal(data(ask('pi-1.node.internal', 'A')), ['192.168.1.31'], 'Pi_1 is pi-1 in DNS');
  assert.is(ask('VM-2.Node.Internal.', 'A').answers[0]!.name, 'VM-2.Node.Internal', 'the owner name echoes the question');
});

test('service names: every healthy instance, SRV with targets and their addresses as additionals', () => {
  assert.equal((data(ask('grafana.service.internal', 'A')) as string[]).sort(), ['192.168.1.20', '192.168.1.31']);
  const srv = ask('_grafana._tcp.service.internal', 'SRV');
  assert.equal(srv.answers.map((a) => (a as { data: { target: string; port: number } }).data).map((d) => `${d.target}:${d.port}`).sort(),
    ['pi-1.node.internal:3000', 'vm-2.node.internal:3000']);
  assert.equal(srv.additionals.map((a) => `${a.name} ${a.type}`).sort(), ['pi-1.node.internal A', 'vm-2.node.internal A', 'vm-2.node.internal AAAA']);
  assert.equal(data(ask('_dns-cache._udp.service.internal', 'SRV')).length, 1);
});

test('service answers are shuffled', () => {
  const orders = new Set<string>();
  for (const r of [0, 0.99]) {
    const res = resolver.resolve({ name: 'grafana.service.internal', type: 'A' }, zone, 1, () => r);
    if (res.kind === 'answer') orders.add(data(res).join(','));
  }
  assert.is(orders.size, 2);
});

test('NXDOMAIN for unknown names, NODATA for known names without the type; both carry the SOA', () => {
  const nx = ask('nope.node.internal', 'A');
  assert.is(nx.rcode, 'NXDOMAIN');
  assert.is(nx.authorities[0]!.type, 'SOA');
  assert.is((nx.authorities[0] as { ttl: number }).ttl, 10);
  assert.is(ask('down.service.internal', 'A').rcode, 'NXDOMAIN', 'a service with no healthy instance has no address');
  const nodata = ask('pi-1.node.internal', 'AAAA');
  assert.is(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers, []);
  assert.is(nodata.authorities[0]!.type, 'SOA');
  assert.is(ask('_grafana._udp.service.internal', 'SRV').rcode, 'NOERROR', 'no udp port: NODATA');
  for (const ent of ['node.internal', 'service.internal', '_tcp.service.internal']) assert.is(ask(ent, 'A').rcode, 'NOERROR', `${ent} is an empty non-terminal`);
  assert.is(ask('a.b.c.internal', 'A').rcode, 'NXDOMAIN');
});

test('the apex has SOA and NS, and ns.<domain> has the server address', () => {
  const soa = ask('internal', 'SOA');
  assert.is((soa.answers[0] as { data: { serial: number; minimum: number } }).data.serial, 7);
  assert.is((soa.answers[0] as { data: { serial: number; minimum: number } }).data.minimum, 10);
  const ns = ask('internal', 'NS');
  assert.equal(data(ns), ['ns.internal']);
  assert.equal(ns.additionals.map((a) => (a as { data: string }).data), ['192.168.1.20']);
  assert.equal(data(ask('ns.internal', 'A')), ['192.168.1.20']);
});

test('PTR for node addresses; other reverse names and other domains are forwarded', () => {
  assert.is(reverseName('192.168.1.20'), '20.1.168.192.in-addr.arpa');
  assert.is(reverseName('fd00::20'), '0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa');
  assert.equal(data(ask('20.1.168.192.in-addr.arpa', 'PTR')), ['vm-2.node.internal']);
  assert.equal(data(ask(reverseName('fd00::20')!, 'PTR')), ['vm-2.node.internal']);
  assert.is(resolver.resolve({ name: '9.9.9.9.in-addr.arpa', type: 'PTR' }, zone, 1).kind, 'forward');
  assert.is(resolver.resolve({ name: 'debian.org', type: 'A' }, zone, 1).kind, 'forward');
  assert.is(resolver.resolve({ name: 'notinternal', type: 'A' }, zone, 1).kind, 'forward');
});

test.run();
