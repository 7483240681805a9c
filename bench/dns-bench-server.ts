/**
 * muster's DNS server alone, answering for N synthetic nodes
 * (n0.node.internal ... n{N-1}.node.internal), for bench/dns-qps.ts, with
 * every defence on: the recursion ACL (the hub's default, this machine's
 * networks) decided per query, response rate limiting accounted for every
 * client (at a rate too high to bite dnsperf, so the figure is the cost of
 * the accounting, not of dropping), and the TCP caps and idle sweep.
 * Prints `port PORT` once listening; runs until SIGTERM.
 * Usage: node bench/dns-bench-server.ts N
 */
import { createResolver } from '../dns/resolver.ts';
import { compileZone } from '../dns/zone.ts';
import { createForwarder } from '../dns/forwarder.ts';
import { startDnsServer } from '../dns/server.ts';
import { createClientAcl } from '../dns/client-acl.ts';
import { networkInterfaces } from 'node:os';

/** The address of synthetic node i: 10.a.b.c, the same in the dnsmasq hosts file. */
export function benchAddress(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const n = Number(process.argv[2] ?? 1000);
  const zone = compileZone({
    nodes: Array.from({ length: n }, (_, i) => ({ name: `n${i}`, addresses: [benchAddress(i)], txt: [] })),
    services: [],
  });
  const server = await startDnsServer({
    resolver: createResolver({ domain: 'internal', ttl: 30, negativeTtl: 10, nsAddresses: ['127.0.0.1'] }),
    zone: () => ({ zone, serial: 1 }),
    forwarder: createForwarder({ upstreams: [] }),
    acl: createClientAcl({ interfaces: networkInterfaces, now: Date.now }),
    log: { warn() {}, debug() {} },
  }, { host: '127.0.0.1', port: 0, rateLimit: { everyone: true, responsesPerSecond: 10_000_000 } });
  process.stdout.write(`port ${server.port}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}
