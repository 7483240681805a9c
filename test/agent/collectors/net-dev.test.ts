import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseNetDev } from '../../../agent/collectors/net-dev.ts';

const fixture = (path: string): string => readFileSync(new URL(`../../fixtures/host/${path}`, import.meta.url), 'utf8');

test('recorded Debian VM: every interface, lo included', () => {
  const net = parseNetDev(fixture('debian-vm/proc/net/dev'));
  assert.equal(net.map((n) => n.iface), ['lo', 'ifb0', 'ifb1', 'eth0']);
  assert.equal(net[3], {
    iface: 'eth0', rxBytes: 231019297, rxPackets: 6783, rxErrors: 0, rxDropped: 0,
    txBytes: 427346, txPackets: 4058, txErrors: 0, txDropped: 0,
  });
});

test('Raspberry Pi: a name wider than the column (docker0:) and drops', () => {
  const net = parseNetDev(fixture('pi/proc/net/dev'));
  assert.equal(net.map((n) => n.iface), ['lo', 'eth0', 'wlan0', 'docker0']);
  assert.is(net[1]?.rxBytes, 5832749183);
  assert.is(net[1]?.rxDropped, 12);
  assert.is(net[1]?.txBytes, 1238476512);
  assert.is(net[3]?.txPackets, 2345);
});

test('old kernels glue a wide counter to the colon', () => {
  const line = 'eth0:4294967296 10 0 0 0 0 0 0 20 2 0 0 0 0 0 0';
  assert.is(parseNetDev(line)[0]?.rxBytes, 4294967296);
});

test.run();
