import { networkInterfaces } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toAddressFacts } from '../../../agent/collectors/addresses.ts';

test('flattens interfaces; all-zero MACs dropped; numeric families from Node 18.0 accepted', () => {
  const facts = toAddressFacts({
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
    eth0: [
      { address: '192.0.2.2', netmask: '255.255.255.0', family: 'IPv4', mac: '02:fc:00:00:00:01', internal: false, cidr: '192.0.2.2/24' },
      // Node 18.0-18.3 shape.
      { address: 'fd00::2', netmask: 'ffff:ffff:ffff:ffff::', family: 6 as unknown as 'IPv6', mac: '02:fc:00:00:00:01', internal: false, cidr: 'fd00::2/64', scopeid: 0 },
    ],
  });
  assert.equal(facts, [
    { iface: 'lo', family: 4, address: '127.0.0.1', internal: true },
    { iface: 'eth0', family: 4, address: '192.0.2.2', internal: false, mac: '02:fc:00:00:00:01' },
    { iface: 'eth0', family: 6, address: 'fd00::2', internal: false, mac: '02:fc:00:00:00:01' },
  ]);
});

test('this host: every address os.networkInterfaces() lists', () => {
  const ifaces = networkInterfaces();
  const expected = Object.values(ifaces).reduce((n, list) => n + (list?.length ?? 0), 0);
  assert.is(toAddressFacts(ifaces).length, expected);
});

test.run();
