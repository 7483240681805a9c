/** `muster nodes [NAME]`: the fleet at a glance, or one node in full; `nodes replace|remove NAME` change who a node is. */
import { createApiClient, type ApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { age, bytes, percent, table } from '../format.ts';
import type { Io } from '../io.ts';
import type { NodeDetailView, NodeSummaryView } from '../../hub/views.ts';

export const NODES_USAGE = `Usage: muster nodes [NAME] [--json] [--hub URL] [--token TOKEN]
       muster nodes replace NAME [--window 1h]
       muster nodes remove NAME [--yes]

Lists every node the hub knows: architecture, OS, CPU, memory, disk,
temperature and whether it is online. With NAME, shows one node in full.

A node's name belongs to the agent holding its credential. To move the name
to another machine (a reinstalled or swapped node), 'nodes replace NAME'
lets the next join under NAME take the node over within the window (default
1h): the old agent's credential is revoked and its link cut; the node keeps
its history. 'nodes remove NAME' deletes the node, its credentials (its
agent is cut off for good) and its samples, workloads and events; it asks
first unless --yes (required when stdin is not a terminal).

Options:
  --json         print the API's answer as JSON
  --window DUR   how long 'replace' leaves the name open (30m, 1h, at most 1d)
  --yes          'remove' without asking
  --hub URL      hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN  admin token (env MUSTER_TOKEN)
`;

const status = (n: NodeSummaryView, now: number) => (n.online ? 'online' : `offline ${age(now - Date.parse(n.lastSeen))} ago`);

function memory(n: NodeSummaryView): string {
  const m = n.use?.memory;
  return m ? `${bytes(m.usedBytes)}/${bytes(m.totalBytes)}` : n.memoryBytes ? `-/${bytes(n.memoryBytes)}` : '-';
}

/** `nodes replace NAME` and `nodes remove NAME`. */
async function changeNode(api: ApiClient, sub: 'replace' | 'remove', name: string, values: { json?: boolean; yes?: boolean; window?: string }, io: Io): Promise<number> {
  const path = `/api/v1/nodes/${encodeURIComponent(name)}`;
  if (sub === 'replace') {
    const res = await api.post<{ node: string; replaceUntil: string }>(`${path}/replace`, values.window ? { window: values.window } : {});
    io.out(values.json ? JSON.stringify(res, null, 2) + '\n'
      : `the next join under '${res.node}' until ${res.replaceUntil} takes the node over; its current agent will be cut off.\n`
        + `On the new machine: muster agent --hub URL --join TOKEN --name ${res.node} (a join token: muster token create --role agent)\n`);
    return 0;
  }
  if (!values.yes) {
    if (!io.ask) throw new CliError('MUSTER_ERR_USAGE', `removing a node cannot be undone; pass --yes to remove '${name}' without a terminal to ask on`, 2);
    const answer = await io.ask(`Remove node '${name}', its credentials, samples, workloads and events? Its agent is cut off for good. [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) {
      io.err('not removed\n');
      return 1;
    }
  }
  const res = await api.del<{ node: string; removed: boolean }>(path);
  io.out(values.json ? JSON.stringify(res, null, 2) + '\n' : `removed node ${res.node}\n`);
  return 0;
}

export async function nodesCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    yes: { type: 'boolean', short: 'y' }, window: { type: 'string' },
  }, true);
  if (values.help) { io.out(NODES_USAGE); return 0; }
  const sub = positionals[0];
  if (sub === 'replace' || sub === 'remove') {
    const name = positionals[1];
    if (!name || positionals.length > 2) throw new CliError('MUSTER_ERR_USAGE', `nodes ${sub} needs one node NAME`, 2);
    return changeNode(createApiClient(resolveClient(values, io.env)), sub, name, values, io);
  }
  if (values.yes || values.window) throw new CliError('MUSTER_ERR_USAGE', '--yes and --window go with nodes remove and nodes replace', 2);
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
    io.out('No nodes yet. Add one: muster token create --role agent prints the line to run on it.\n');
    return 0;
  }
  io.out(table(
    ['NAME', 'ARCH', 'OS', 'CPU', 'MEMORY', 'DISK', 'TEMP', 'AGENT', 'STATUS'],
    res.nodes.map((n) => [
      n.name + (n.rebootRequired ? ' (reboot)' : ''),
      n.arch ?? '-',
      n.os ?? '-',
      percent(n.use?.cpuPercent),
      memory(n),
      percent(n.use?.diskPercent),
      n.use?.temperatureCelsius === null || n.use?.temperatureCelsius === undefined ? '-' : `${Math.round(n.use.temperatureCelsius)}°C`,
      n.agentVersion ?? '-',
      status(n, now),
    ]),
  ));
  return 0;
}
