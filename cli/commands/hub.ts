/** `muster hub`: runs a hub in the foreground until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import { startHub, type RunningHub } from '../../hub/main.ts';
import { parseFlags, parseListen } from '../args.ts';
import type { Io } from '../io.ts';
import { DNS_FLAGS, DNS_USAGE, parseDnsFlags } from '../dns-flags.ts';

export const HUB_USAGE = `Usage: muster hub [--data DIR] [--listen HOST:PORT] [--dns-listen HOST:PORT] [options]

Runs the muster hub: the inventory (SQLite under DIR), the API, the agent
endpoint and the DNS server (<node>.node.internal, <service>.service.internal).
On first start it writes an admin token to DIR/admin.token (0600).

Options:
  --data DIR          data directory (default ./data)
  --listen HOST:PORT  address for the API and agents (default 0.0.0.0:7070)
${DNS_USAGE}  --log-level LEVEL   trace, debug, info, warn, error (default info)
  -h, --help          show this help
`;

/** Waits for SIGINT or SIGTERM once. */
export function untilSignal(): Promise<void> {
  return new Promise((res) => {
    const done = () => { process.off('SIGINT', done); process.off('SIGTERM', done); res(); };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

export async function hubCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, {
    data: { type: 'string' }, listen: { type: 'string' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    ...DNS_FLAGS,
  });
  if (values.help) { io.out(HUB_USAGE); return 0; }
  const { host, port } = parseListen(values.listen ?? '0.0.0.0:7070');
  const dns = parseDnsFlags(values);
  const dataDir = resolve(values.data ?? 'data');
  const hub: RunningHub = await startHub({ dataDir, host, port, dns, logger: { level: values['log-level'] ?? 'info' } });
  io.out(`hub listening on ${hub.url} (data ${dataDir})\n`);
  if (dns) io.out(`dns listening on ${dns.host}:${hub.dnsPort} (udp and tcp), domain ${dns.domain}\n`);
  if (hub.adminTokenCreated) io.out(`admin token written to ${dataDir}/admin.token\n`);
  await untilSignal();
  await hub.close();
  return 0;
}
