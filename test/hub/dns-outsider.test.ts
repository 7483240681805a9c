/**
 * The hub's DNS seen from outside the allowed networks: a client in a
 * network namespace (its own address on a veth, like another machine on
 * another subnet) asks a real hub process started with `--dns-allow
 * 127.0.0.0/8`. It gets REFUSED for outside names and answers for the
 * internal domain; its flood is rate limited, and the metrics say so.
 * (The default, the hub's own subnets, would include the veth's /30: that
 * default is tested with injected interfaces in test/dns/client-acl.test.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as packet from 'dns-packet';
import { createTestHost, destroyAllTestHosts, netnsReady, type TestHost } from '../helpers/netns.ts';
import { dig, digReady, flags, section, startDnsmasq, status, type Dnsmasq } from '../helpers/dns.ts';
import { scrape, startHubProcess, type HubProc } from '../helpers/processes.ts';

let ready = false;
let host: TestHost;
let hub: HubProc | undefined;
let dnsmasq: Dnsmasq | undefined;

test.before(async () => {
  ready = (await digReady()) && (await netnsReady());
  if (!ready) return;
  dnsmasq = await startDnsmasq({ 'outside.test': '10.9.8.7' }, 60);
  if (!dnsmasq) { ready = false; return; }
  host = await createTestHost();
  hub = await startHubProcess({ dns: '0.0.0.0:0', args: ['--dns-allow', '127.0.0.0/8', '--dns-upstream', `127.0.0.1:${dnsmasq.port}`] });
});

test.after(async () => {
  await hub?.stop();
  await dnsmasq?.stop();
  await destroyAllTestHosts();
});

/** dig run inside the namespace, asking the hub across the veth. */
const digFrom = (h: TestHost, ...args: string[]) => h.exec('dig', [`@${h.hostAddress}`, '-p', String(hub!.dnsPort), '+time=3', '+tries=1', ...args]);

/** A flood from inside the namespace: `count` copies of one query as fast as they go; tallies what came back. */
async function flood(h: TestHost, query: Buffer, count: number): Promise<{ full: number; truncated: number; other: number }> {
  const script = `
    const dgram = require('node:dgram');
    const [to, port, hex, n] = process.argv.slice(1);
    const q = Buffer.from(hex, 'hex');
    const s = dgram.createSocket('udp4');
    const got = { full: 0, truncated: 0, other: 0 };
    s.on('message', (m) => { const f = m.readUInt16BE(2); if (f & 0x200) got.truncated++; else if ((f & 0xf) === 0) got.full++; else got.other++; });
    s.bind(0, () => {
      let i = 0;
      const next = () => { if (i++ < +n) return s.send(q, +port, to, next); setTimeout(() => { console.log(JSON.stringify(got)); s.close(); }, 1500); };
      next();
    });`;
  return JSON.parse(await h.exec(process.execPath, ['-e', script, h.hostAddress, String(hub!.dnsPort), query.toString('hex'), String(count)]));
}

const counter = (metrics: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);

test('from outside --dns-allow: REFUSED for outside names, the internal domain answered; loopback still recurses', async () => {
  if (!ready) return;
  const refused = await digFrom(host, 'outside.test', 'A');
  assert.is(status(refused), 'REFUSED');
  assert.not.ok(flags(refused).includes('ra'), 'no recursion available to this client');
  const soa = await digFrom(host, 'internal', 'SOA');
  assert.is(status(soa), 'NOERROR');
  assert.ok(flags(soa).includes('aa'));
  assert.equal(section(soa, 'ANSWER').map((r) => r[3]), ['SOA']);
  assert.is(dnsmasq!.queriesFor('outside.test'), 0, 'the stranger\'s question never went upstream');
  const local = await dig(hub!.dnsPort, 'outside.test', 'A');
  assert.equal(section(local, 'ANSWER').map((r) => r[4]), ['10.9.8.7']);
});

test('a flood from the outside address is rate limited with slips, TCP still answers it, and /metrics counts it all', async () => {
  if (!ready) return;
  const q = packet.encode({ type: 'query', id: 4242, flags: packet.RECURSION_DESIRED, questions: [{ name: 'internal', type: 'SOA' }] });
  const got = await flood(host, q, 300);
  assert.ok(got.full <= 25, `${got.full} full answers to 300 queries in well under a second (the default rate is 20 a second)`);
  assert.ok(got.truncated >= 100, `${got.truncated} slipped (TC)`);
  assert.ok(got.full + got.truncated + got.other < 300, 'the rest dropped');
  const tcp = await digFrom(host, '+tcp', 'internal', 'SOA');
  assert.is(status(tcp), 'NOERROR', 'over TCP the same client is answered');
  const metrics = await scrape(hub!);
  assert.ok(counter(metrics, 'muster_dns_refused_total{reason="recursion"}') >= 1);
  assert.ok(counter(metrics, 'muster_dns_rate_limited_total{action="dropped"}') >= 100);
  assert.ok(counter(metrics, 'muster_dns_rate_limited_total{action="slipped"}') >= 100);
  assert.ok(counter(metrics, 'muster_dns_queries_total{result="rate_limited"}') >= 200);
  for (const series of ['muster_dns_truncated_total', 'muster_dns_upstream_answers_dropped_total{reason="wrong_question"}', 'muster_dns_tcp_connections_closed_total{reason="idle"}']) {
    assert.ok(counter(metrics, series) >= 0, `${series} is exported from the start`);
  }
});

test.run();
