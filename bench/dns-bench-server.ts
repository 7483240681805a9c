/**
 * muster's DNS server alone, answering for N synthetic nodes
 * (n0.node.internal ... n{N-1}.node.internal), for bench/dns-qps.ts.
 * Prints `port PORT` once listening; runs until SIGTERM.
 * Usage: node bench/dns-bench-server.ts N
 */
import { createResolver } from '../dns/resolver.ts';
import { compileZone } from '../dns/zone.ts';
import { createForwarder } from '../dns/forwarder.ts';
import { startDnsServer } from '../dns/server.ts';

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
    log: { warn() {}, debug() {} },
  }, { host: '127.0.0.1', port: 0, maxTcpConnections: 1024 });
  process.stdout.write(`port ${server.port}\n`);
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
}
