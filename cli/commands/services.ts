/** `muster services` and `muster where NAME`: what runs, and where and how one thing runs. */
import { createApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { age, bytes, table } from '../format.ts';
import type { Io } from '../io.ts';
import type { InstancePort } from '../../hub/services.ts';
import type { ServiceInstanceView, ServiceView } from '../../hub/routes/workloads.ts';

export const SERVICES_USAGE = `Usage: muster services [--json] [--hub URL] [--token TOKEN]

Lists every service the hub knows, with its instances on every node:
containers (named by the label muster.service, the compose service, or the
container name), systemd units, and bare processes that listen on a port.

Options:
  --json         print the API's answer as JSON
  --hub URL      hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN  admin token (env MUSTER_TOKEN)
`;

export const WHERE_USAGE = `Usage: muster where NAME [--json] [--hub URL] [--token TOKEN]

Shows where the service NAME runs and how: for each instance, the node, and
whether it is a container (image, compose project, ports), a systemd unit
(PID, ports) or a bare process (command line, ports), plus its DNS names.
NAME is matched without regard to case; a DNS name works too.

Exit codes: 0 found, 1 no such service (close matches are suggested).

Options:
  --json         print the API's answer as JSON
  --hub URL      hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN  admin token (env MUSTER_TOKEN)
`;

const FLAGS = { json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** `0.0.0.0:8080->80/tcp` for a container, `tcp 127.0.0.1:5432` for a socket. */
export function formatPort(p: InstancePort): string {
  const addr = p.address ? `${p.address.includes(':') ? `[${p.address}]` : p.address}:` : '';
  return p.containerPort !== undefined ? `${addr}${p.port}->${p.containerPort}/${p.protocol}` : `${p.protocol} ${addr}${p.port}`;
}

/** Distinct ports of a list of instances, in one short string. */
function portSummary(instances: ServiceInstanceView[]): string {
  const seen = new Set<string>();
  for (const i of instances) for (const p of i.ports) seen.add(`${p.port}/${p.protocol}`);
  const list = [...seen];
  return list.length === 0 ? '-' : list.length > 4 ? `${list.slice(0, 4).join(',')},+${list.length - 4}` : list.join(',');
}

function stateText(i: ServiceInstanceView, now: number): string {
  const parts = [i.state];
  if (i.health !== 'none') parts.push(i.health);
  if (i.exitCode !== undefined && i.kind === 'container' && i.state !== 'running') parts.push(`exit ${i.exitCode}`);
  if (i.since) parts.push(`${i.kind === 'container' && i.state !== 'running' ? 'for' : 'up'} ${age(now - Date.parse(i.since))}`);
  if (i.restarts > 0) parts.push(`${i.restarts} restart${i.restarts === 1 ? '' : 's'}`);
  if (!i.nodeOnline) parts.push('NODE OFFLINE (last known)');
  return parts.join(', ');
}

/** The where-view of one instance: a headline and indented facts. */
export function describeInstance(i: ServiceInstanceView, now: number): string[] {
  const head = `${i.node}  ${i.kind} ${i.name}  ${stateText(i, now)}${i.pid ? `, pid ${i.pid}` : ''}`;
  const lines = [head];
  const fact = (k: string, v: string | undefined) => { if (v) lines.push(`    ${k.padEnd(8)} ${v}`); };
  if (i.kind === 'container') {
    fact('image', `${i.image ?? '-'}${i.digest ? `  (${i.digest})` : ''}`);
    if (i.composeProject || i.composeService) fact('compose', `project ${i.composeProject ?? '-'}, service ${i.composeService ?? '-'}`);
  }
  fact('ports', i.ports.length ? i.ports.map(formatPort).join(', ') : 'none published');
  fact('command', i.command);
  if (i.kind !== 'container' && i.user) fact('user', i.user);
  if (i.memoryBytes !== undefined) fact('memory', bytes(i.memoryBytes));
  fact('node', i.nodeDnsName);
  return lines;
}

export async function servicesCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, FLAGS);
  if (values.help) { io.out(SERVICES_USAGE); return 0; }
  const api = createApiClient(resolveClient(values, io.env));
  const res = await api.get<{ services: ServiceView[] }>('/api/v1/services');
  if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return 0; }
  if (res.services.length === 0) {
    io.out('No services yet: no node reports a container, a running unit, or a process listening on a port.\n');
    return 0;
  }
  io.out(table(
    ['SERVICE', 'RUNNING', 'WHERE', 'PORTS'],
    res.services.map((s) => {
      const where = [...new Set(s.instances.map((i) => `${i.node}:${i.kind}`))];
      return [s.name, `${s.running}/${s.total}`, where.length > 3 ? `${where.slice(0, 3).join(' ')} +${where.length - 3}` : where.join(' '), portSummary(s.instances)];
    }),
  ));
  return 0;
}

export async function whereCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS, true);
  if (values.help) { io.out(WHERE_USAGE); return 0; }
  const name = positionals[0];
  if (!name || positionals.length > 1) throw new CliError('MUSTER_ERR_USAGE', 'give exactly one service name: muster where NAME', 2);
  const api = createApiClient(resolveClient(values, io.env));
  let s: ServiceView;
  try {
    s = await api.get<ServiceView>(`/api/v1/services/${encodeURIComponent(name)}`);
  } catch (err) {
    if (err instanceof CliError && err.code === 'MUSTER_ERR_SERVICE_NOT_FOUND') {
      const suggestions = Array.isArray(err.details.suggestions) ? (err.details.suggestions as string[]) : [];
      if (values.json) {
        io.out(JSON.stringify({ error: { code: err.code, message: `no service named '${name}'`, suggestions } }, null, 2) + '\n');
      } else {
        io.err(`no service named '${name}'${suggestions.length ? `; did you mean: ${suggestions.join(', ')}?` : ''}\n` +
          `See 'muster services' for every service.\n`);
      }
      return 1;
    }
    throw err;
  }
  if (values.json) { io.out(JSON.stringify(s, null, 2) + '\n'); return 0; }
  const now = Date.now();
  const out = [`${s.name}: ${s.total} instance${s.total === 1 ? '' : 's'}, ${s.running} running and healthy   dns ${s.dnsName}`, ''];
  for (const i of s.instances) out.push(...describeInstance(i, now), '');
  io.out(out.join('\n'));
  return 0;
}
