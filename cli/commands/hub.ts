/** `muster hub`: runs a hub in the foreground until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import { startHub, type RunningHub } from '../../hub/main.ts';
import { parseFlags, parseListen } from '../args.ts';
import type { Io } from '../io.ts';

export const HUB_USAGE = `Usage: muster hub [--data DIR] [--listen HOST:PORT] [--log-level LEVEL]

Runs the muster hub: the inventory (SQLite under DIR), the API and the agent
endpoint. On first start it writes an admin token to DIR/admin.token (0600).

Options:
  --data DIR          data directory (default ./data)
  --listen HOST:PORT  address for the API and agents (default 0.0.0.0:7070)
  --log-level LEVEL   trace, debug, info, warn, error (default info)
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
  });
  if (values.help) { io.out(HUB_USAGE); return 0; }
  const { host, port } = parseListen(values.listen ?? '0.0.0.0:7070');
  const dataDir = resolve(values.data ?? 'data');
  const hub: RunningHub = await startHub({ dataDir, host, port, logger: { level: values['log-level'] ?? 'info' } });
  io.out(`hub listening on ${hub.url} (data ${dataDir})\n`);
  if (hub.adminTokenCreated) io.out(`admin token written to ${dataDir}/admin.token\n`);
  await untilSignal();
  await hub.close();
  return 0;
}
