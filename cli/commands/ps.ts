/** `muster ps --node NAME`: the containers, units and processes of one node. */
import { createApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { age, bytes, table } from '../format.ts';
import type { Io } from '../io.ts';
import type { ContainerInfo, ContainerUse, ListenPort, ProcessInfo, UnitInfo } from '../../protocol/index.ts';

export const PS_USAGE = `Usage: muster ps --node NAME [--all] [--json] [--hub URL] [--token TOKEN]

Shows what runs on one node: its Docker containers, its systemd units and its
processes, each process with the ports it listens on and the container or
unit that owns it.

Options:
  --node NAME    the node (required)
  --all          list inactive units too (default: units that run or failed)
  --json         print the API's answers as JSON: {containers, units, processes, ports}
  --hub URL      hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN  admin token (env MUSTER_TOKEN)
`;

type Listed<K extends string, T> = { node: string; online: boolean; collector: string | null } & Record<K, T[]>;

type ContainerRow = Omit<ContainerInfo, 'startedAt' | 'finishedAt'> & { startedAt?: string; finishedAt?: string; use: ContainerUse | null };
type UnitRow = Omit<UnitInfo, 'since'> & { since?: string };
type ProcessRow = Omit<ProcessInfo, 'startTime'> & { startTime: string };

/** A note under a section when its collector did not run on the node. */
function collectorNote(state: string | null): string {
  if (state === null) return '  (not reported by this node yet)\n';
  return state === 'ok' ? '' : `  (unavailable: ${state})\n`;
}

export async function psCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, {
    node: { type: 'string' }, all: { type: 'boolean' }, json: { type: 'boolean' },
    hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { io.out(PS_USAGE); return 0; }
  if (!values.node) throw new CliError('MUSTER_ERR_USAGE', '--node NAME is required (see muster nodes)', 2);
  const api = createApiClient(resolveClient(values, io.env));
  const base = `/api/v1/nodes/${encodeURIComponent(values.node)}`;
  const [containers, units, processes, ports] = await Promise.all([
    api.get<Listed<'containers', ContainerRow>>(`${base}/containers`),
    api.get<Listed<'units', UnitRow>>(`${base}/units`),
    api.get<Listed<'processes', ProcessRow>>(`${base}/processes`),
    api.get<Listed<'ports', ListenPort>>(`${base}/ports`),
  ]);
  if (values.json) {
    io.out(JSON.stringify({ node: containers.node, online: containers.online, containers, units, processes, ports }, null, 2) + '\n');
    return 0;
  }
  const now = Date.now();
  const out: string[] = [];
  out.push(`${containers.node}${containers.online ? '' : '  (offline: last known state)'}\n`);

  out.push(`CONTAINERS (${containers.containers.length})\n`, collectorNote(containers.collector));
  if (containers.containers.length) {
    out.push(table(['NAME', 'IMAGE', 'STATE', 'PORTS', 'CPU', 'MEMORY'], containers.containers.map((c) => [
      c.name,
      c.image,
      `${c.state}${c.health !== 'none' ? ` (${c.health})` : ''}${c.state === 'running' && c.startedAt ? ` ${age(now - Date.parse(c.startedAt))}` : c.exitCode !== undefined ? ` exit ${c.exitCode}` : ''}`,
      c.ports.filter((p) => p.hostPort !== undefined).map((p) => `${p.hostPort}->${p.containerPort}/${p.protocol}`).filter((v, i, a) => a.indexOf(v) === i).join(',') || '-',
      c.use ? `${c.use.cpuSeconds.toFixed(1)}s` : '-',
      c.use ? bytes(c.use.workingSetBytes) : '-',
    ])));
  }

  const shownUnits = units.units.filter((u) => values.all || u.activeState !== 'inactive');
  out.push(`\nUNITS (${shownUnits.length}${values.all ? '' : ` running or failed of ${units.units.length}`})\n`, collectorNote(units.collector));
  if (shownUnits.length) {
    out.push(table(['UNIT', 'ACTIVE', 'SUB', 'PID', 'MEMORY', 'RESTARTS', 'DESCRIPTION'], shownUnits.map((u) => [
      u.name, u.activeState, u.subState, u.mainPid ? String(u.mainPid) : '-', bytes(u.memoryBytes), String(u.restarts), u.description,
    ])));
  }

  const portsByPid = new Map<number, string[]>();
  for (const p of ports.ports) {
    if (p.pid === undefined) continue;
    portsByPid.set(p.pid, [...(portsByPid.get(p.pid) ?? []), `${p.protocol}/${p.port}`]);
  }
  out.push(`\nPROCESSES (${processes.processes.length})\n`, collectorNote(processes.collector));
  if (processes.processes.length) {
    out.push(table(['PID', 'USER', 'CPU', 'RSS', 'OWNER', 'PORTS', 'COMMAND'], processes.processes.map((p) => [
      String(p.pid),
      p.user,
      `${p.cpuSeconds.toFixed(1)}s`,
      bytes(p.rssBytes),
      p.owner.containerId ? `container ${p.owner.containerId.slice(0, 12)}` : p.owner.unit ?? '-',
      [...new Set(portsByPid.get(p.pid) ?? [])].join(',') || '-',
      p.cmdline.length > 80 ? `${p.cmdline.slice(0, 79)}…` : p.cmdline || `[${p.name}]`,
    ])));
  }
  io.out(out.join(''));
  return 0;
}
