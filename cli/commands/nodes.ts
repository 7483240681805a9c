/** `muster nodes [NAME]`: the fleet at a glance, or one node in full. */
import { createApiClient } from '../client.ts';
import { resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { age, bytes, percent, table } from '../format.ts';
import type { Io } from '../io.ts';
import type { NodeDetailView, NodeSummaryView } from '../../hub/views.ts';

export const NODES_USAGE = `Usage: muster nodes [NAME] [--json] [--hub URL] [--token TOKEN]

Lists every node the hub knows: architecture, OS, CPU, memory, disk,
temperature and whether it is online. With NAME, shows one node in full.

Options:
  --json         print the API's answer as JSON
  --hub URL      hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN  admin token (env MUSTER_TOKEN)
`;

const status = (n: NodeSummaryView, now: number) => (n.online ? 'online' : `offline ${age(now - Date.parse(n.lastSeen))} ago`);

function memory(n: NodeSummaryView): string {
  const m = n.use?.memory;
  return m ? `${bytes(m.usedBytes)}/${bytes(m.totalBytes)}` : n.memoryBytes ? `-/${bytes(n.memoryBytes)}` : '-';
}

export async function nodesCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, true);
  if (values.help) { io.out(NODES_USAGE); return 0; }
  const api = createApiClient(resolveClient(values, io.env));
  const now = Date.now();
  if (positionals.length > 0) {
    const n = await api.get<NodeDetailView>(`/api/v1/nodes/${encodeURIComponent(positionals[0]!)}`);
    if (values.json) { io.out(JSON.stringify(n, null, 2) + '\n'); return 0; }
    const f = n.facts;
    const lines = [
      `${n.name}  ${status(n, now)}  (last seen ${n.lastSeen})`,
      `  machine    ${n.machineId}${f ? `  ${f.hostname}` : ''}`,
      `  system     ${n.os ?? '-'}, kernel ${n.kernel ?? '-'}, ${n.platform ?? '-'}`,
      `  cpu        ${f ? `${f.cpu.cores} × ${f.cpu.model}` : '-'}   use ${percent(n.use?.cpuPercent)}   load ${n.use?.load.join(' ') ?? '-'}`,
      `  memory     ${memory(n)} (${percent(n.use?.memory.percent)})   swap ${bytes(n.use?.swap.usedBytes)}/${bytes(n.use?.swap.totalBytes)}`,
      `  boot       ${f ? new Date(f.bootTime * 1000).toISOString() : '-'}${f?.rebootRequired ? '   REBOOT REQUIRED' : ''}`,
      `  agent      ${n.agentVersion ?? '-'} on ${f?.runtime ?? '-'}   samples up to #${n.samples.ackedSeq}${n.samples.dropped ? `, ${n.samples.dropped} dropped` : ''}`,
    ];
    if (n.use?.temperatureCelsius !== null && n.use?.temperatureCelsius !== undefined) lines.push(`  temp       ${n.use.temperatureCelsius.toFixed(1)}°C`);
    if (f?.addresses.length) lines.push(`  addresses  ${f.addresses.filter((a) => !a.internal).map((a) => `${a.address} (${a.iface})`).join(', ') || '-'}`);
    for (const fs of n.use?.filesystems ?? []) lines.push(`  disk       ${fs.mountpoint.padEnd(16)} ${bytes(fs.usedBytes)}/${bytes(fs.sizeBytes)} (${percent(fs.percent)}) ${fs.fstype}`);
    for (const u of [...(f?.unavailable ?? []), ...(n.use?.unavailable ?? [])]) lines.push(`  unavailable ${u.collector}: ${u.reason}`);
    io.out(lines.join('\n') + '\n');
    return 0;
  }
  const res = await api.get<{ nodes: NodeSummaryView[] }>('/api/v1/nodes');
  if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return 0; }
  if (res.nodes.length === 0) {
    io.out('No nodes yet. Join one with: muster token create --role agent, then muster agent --hub URL --join TOKEN\n');
    return 0;
  }
  io.out(table(
    ['NAME', 'ARCH', 'OS', 'CPU', 'MEMORY', 'DISK', 'TEMP', 'STATUS'],
    res.nodes.map((n) => [
      n.name + (n.rebootRequired ? ' (reboot)' : ''),
      n.arch ?? '-',
      n.os ?? '-',
      percent(n.use?.cpuPercent),
      memory(n),
      percent(n.use?.diskPercent),
      n.use?.temperatureCelsius === null || n.use?.temperatureCelsius === undefined ? '-' : `${Math.round(n.use.temperatureCelsius)}°C`,
      status(n, now),
    ]),
  ));
  return 0;
}
