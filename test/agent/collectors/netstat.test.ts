/**
 * netstat's parsers: the kept fields of /proc/net/netstat, snmp and snmp6,
 * the same with the layouts a collector keeps as without, on the real files
 * and on text whose header changes; a value line that does not fit its
 * header is an error.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createNetstatLayouts, NETSTAT_FIELDS, parseNetstat, parseSnmp6 } from '../../../agent/collectors/netstat.ts';

const keep = (k: string) => NETSTAT_FIELDS.test(k);

test('recorded text: pairs of lines by protocol, snmp6 names split after the 6, only kept fields', () => {
  const text = 'Tcp: RtoAlgorithm ActiveOpens InSegs CurrEstab\nTcp: 1 27 3058 -1\nUdp: InDatagrams NoPorts\nUdp: 10 2\n';
  assert.equal([...parseNetstat(text, keep)], [['Tcp_ActiveOpens', 27], ['Tcp_InSegs', 3058], ['Tcp_CurrEstab', -1], ['Udp_InDatagrams', 10], ['Udp_NoPorts', 2]]);
  assert.equal(parseNetstat(text).get('Tcp_RtoAlgorithm'), 1, 'everything without a filter');
  assert.equal([...parseSnmp6('Ip6InReceives                   \t430\nIp6InHdrErrors                  \t0\nUdp6InDatagrams                 \t7\n', keep)], [['Udp6_InDatagrams', 7]]);
  assert.equal([...parseNetstat('Tcp: A B\nTcp: 1 2', () => true)], [['Tcp_A', 1], ['Tcp_B', 2]], 'no newline at the end');
  assert.throws(() => parseNetstat('Tcp: A B C\nTcp: 1 2\n'), /field count mismatch in Tcp/);
  assert.throws(() => parseNetstat('Tcp: A B\nTcp: 1 2 3\n'), /field count mismatch in Tcp/);
});

test('kept layouts give what a fresh parse gives: on this host\'s files, run after run, and when a header changes', () => {
  const layouts = createNetstatLayouts();
  for (let run = 0; run < 3; run++) {
    for (const f of ['/proc/net/netstat', '/proc/net/snmp']) {
      const text = readFileSync(f, 'latin1');
      assert.equal([...parseNetstat(text, keep, layouts)], [...parseNetstat(text, keep)], f);
    }
    const six = readFileSync('/proc/net/snmp6', 'latin1');
    assert.equal([...parseSnmp6(six, keep, layouts)], [...parseSnmp6(six, keep)]);
  }
  assert.ok(parseNetstat(readFileSync('/proc/net/snmp', 'latin1'), keep, layouts).has('Tcp_InSegs'));
  // A kernel with one more field (after an upgrade, another fixture): a header not seen is laid out anew.
  const a = parseNetstat('Tcp: ActiveOpens InSegs\nTcp: 5 6\n', keep, layouts);
  const b = parseNetstat('Tcp: InSegs Extra ActiveOpens\nTcp: 7 8 9\n', keep, layouts);
  assert.equal([...a], [['Tcp_ActiveOpens', 5], ['Tcp_InSegs', 6]]);
  assert.equal([...b], [['Tcp_InSegs', 7], ['Tcp_ActiveOpens', 9]]);
});

test.run();
