/**
 * Who may recurse: CIDR parsing and matching (IPv4, IPv6, IPv4 mapped into
 * IPv6), and the default, loopback plus the subnets of the machine's own
 * interfaces, taken from injected interface lists and read again when they change.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { NetworkInterfaceInfo } from 'node:os';
import { parseCidr, prefixKey } from '../../dns/addresses.ts';
import { createClientAcl, localNetworks, type InterfaceList } from '../../dns/client-acl.ts';

const v4 = (address: string, cidr: string): NetworkInterfaceInfo => ({ address, netmask: '', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr });
const v6 = (address: string, cidr: string): NetworkInterfaceInfo => ({ address, netmask: '', family: 'IPv6', mac: '00:00:00:00:00:00', internal: false, cidr, scopeid: 0 });

test('CIDRs parse to their network, and what is not one is refused', () => {
  assert.is(parseCidr('192.168.1.77/24')?.text, '192.168.1.0/24');
  assert.is(parseCidr('10.0.0.5')?.text, '10.0.0.5/32');
  assert.is(parseCidr('fd00:1:2:3::9/48')?.text, 'fd00:1:2::/48');
  assert.is(parseCidr('::ffff:10.1.0.0/112')?.text, '10.1.0.0/16', 'a mapped IPv4 network is the IPv4 network');
  for (const bad of ['', '10.0.0.256/8', '10.0.0.0/33', '1.2.3/24', 'fd00::/129', 'example.com/24', '10.0.0.0/-1', '10.0.0.0/']) {
    assert.is(parseCidr(bad), undefined, bad);
  }
});

test('a fixed list allows its networks and nothing else, whatever the interfaces', () => {
  const acl = createClientAcl({ interfaces: () => ({ eth0: [v4('192.168.1.5', '192.168.1.5/24')] }), now: () => 0 }, { allow: ['10.1.0.0/16', 'fd00::/8'] });
  assert.ok(acl.allows('10.1.200.3'));
  assert.ok(acl.allows('::ffff:10.1.2.3'), 'the same client on a dual-stack socket');
  assert.ok(acl.allows('fd12::1'));
  assert.not.ok(acl.allows('10.2.0.1'));
  assert.not.ok(acl.allows('127.0.0.1'), 'loopback only when listed');
  assert.not.ok(acl.allows('192.168.1.9'), 'an interface subnet only by default');
  assert.not.ok(acl.allows('not an address'));
});

test('by default: loopback and the subnets of the interfaces, as dnsmasq local-service', () => {
  const interfaces: InterfaceList = {
    lo: [{ ...v4('127.0.0.1', '127.0.0.1/8'), internal: true }],
    eth0: [v4('192.168.1.5', '192.168.1.5/24'), v6('fe80::1', 'fe80::1/64'), v6('2001:db8:5::5', '2001:db8:5::5/64')],
    docker0: [v4('172.17.0.1', '172.17.0.1/16')],
  };
  assert.equal(localNetworks(interfaces).sort(), ['127.0.0.0/8', '172.17.0.0/16', '192.168.1.0/24', '2001:db8:5::/64', '::1/128', 'fe80::/64']);
  const acl = createClientAcl({ interfaces: () => interfaces, now: () => 0 });
  for (const yes of ['127.0.0.1', '127.9.9.9', '::1', '192.168.1.200', '172.17.3.4', '2001:db8:5::77', '::ffff:192.168.1.20']) assert.ok(acl.allows(yes), yes);
  for (const no of ['192.168.2.1', '8.8.8.8', '2001:db8:6::1', '10.213.0.2']) assert.not.ok(acl.allows(no), no);
  // Loopback is allowed even on a machine whose interface list lacks it.
  assert.ok(createClientAcl({ interfaces: () => ({}), now: () => 0 }).allows('127.0.0.1'));
});

test('the default follows the interfaces: a new subnet is allowed once seen, re-read at most every refresh', () => {
  let t = 0;
  let reads = 0;
  let list: InterfaceList = { eth0: [v4('192.168.1.5', '192.168.1.5/24')] };
  const acl = createClientAcl({ interfaces: () => { reads++; return list; }, now: () => t }, { refreshMs: 10_000 });
  assert.not.ok(acl.allows('10.8.0.2'));
  list = { eth0: [v4('192.168.1.5', '192.168.1.5/24')], wg0: [v4('10.8.0.1', '10.8.0.1/24')] };
  t = 5_000;
  assert.not.ok(acl.allows('10.8.0.2'), 'not read again within the refresh interval');
  const before = reads;
  for (let i = 0; i < 1000; i++) acl.allows('8.8.8.8');
  assert.is(reads, before, 'a flood of strangers does not make it read the interfaces per query');
  t = 10_001;
  assert.ok(acl.allows('10.8.0.2'));
  assert.ok(acl.networks().includes('10.8.0.0/24'));
});

test('prefix keys: one client is a /24 or a /56 by default, mapped IPv4 the same as IPv4', () => {
  assert.is(prefixKey('192.0.2.7', 24, 56), prefixKey('192.0.2.200', 24, 56));
  assert.is(prefixKey('::ffff:192.0.2.7', 24, 56), prefixKey('192.0.2.9', 24, 56));
  assert.is.not(prefixKey('192.0.2.7', 24, 56), prefixKey('192.0.3.7', 24, 56));
  assert.is(prefixKey('2001:db8:1:ff::1', 24, 56), prefixKey('2001:db8:1:0::2', 24, 56));
  assert.is.not(prefixKey('2001:db8:1:100::1', 24, 56), prefixKey('2001:db8:1::1', 24, 56));
  assert.is.not(prefixKey('192.0.2.7', 32, 64), prefixKey('192.0.2.8', 32, 64));
});

test.run();
