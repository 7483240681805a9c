/** `muster events`: what changed on the fleet, newest first. */
import { createApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { table } from '../format.ts';
import type { Io } from '../io.ts';
import type { EventView } from '../../hub/routes/workloads.ts';

export const EVENTS_USAGE = `Usage: muster events [--node NAME] [--since DUR|TIME] [--kind KIND] [--limit N] [--json]

Lists what changed, newest first: containers started, stopped, died,
restarted or removed; units started, stopped or failed; listening ports
opened or closed; nodes joining, going offline and coming back.

Options:
  --node NAME     only this node
  --since WHEN    a duration back from now (15m, 2h, 7d) or an ISO time (default: all kept)
  --kind KIND     e.g. container, container.died, unit.failed, port, node
  --limit N       at most N events (default 50, at most 10000)
  --json          print the API's answer as JSON
  --hub URL       hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN   admin token (env MUSTER_TOKEN)
`;

/** A one-line summary of an event's details. */
function summary(e: EventView): string {
  const d = e.detail;
  const parts: string[] = [];
  if (typeof d['image'] === 'string') parts.push(d['image']);
  if (typeof d['exitCode'] === 'number') parts.push(`exit ${d['exitCode']}`);
  if (typeof d['restarts'] === 'number') parts.push(`${d['restarts']} restarts`);
  if (typeof d['from'] === 'string' && typeof d['to'] === 'string') parts.push(`${d['from']} -> ${d['to']}`);
  if (typeof d['process'] === 'string') parts.push(`${d['process']}${typeof d['pid'] === 'number' ? ` (pid ${d['pid']})` : ''}`);
  if (typeof d['reason'] === 'string' && d['reason']) parts.push(d['reason']);
  return parts.join(', ');
}

export async function eventsCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, {
    node: { type: 'string' }, since: { type: 'string' }, kind: { type: 'string' }, limit: { type: 'string' },
    json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { io.out(EVENTS_USAGE); return 0; }
  const limit = values.limit ?? '50';
  if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 10_000) throw new CliError('MUSTER_ERR_USAGE', `--limit must be a number from 1 to 10000, not ${JSON.stringify(values.limit)}`, 2);
  const query = new URLSearchParams({ limit });
  if (values.node) query.set('node', values.node);
  if (values.since) query.set('since', values.since);
  if (values.kind) query.set('kind', values.kind);
  const api = createApiClient(resolveClient(values, io.env));
  const res = await api.get<{ events: EventView[] }>(`/api/v1/events?${query}`);
  if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return 0; }
  if (res.events.length === 0) { io.out('No events.\n'); return 0; }
  io.out(table(['TIME', 'NODE', 'EVENT', 'SUBJECT', 'SERVICE', 'DETAIL'], res.events.map((e) => [
    e.ts.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.node ?? '-', e.kind, e.subject, e.service ?? '-', summary(e),
  ])));
  return 0;
}
