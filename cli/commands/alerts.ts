/** `muster alerts`: what is firing (and pending, and recently resolved) across the fleet. */
import { createApiClient } from '../client.ts';
import { resolveClient, CliError } from '../config.ts';
import { parseFlags } from '../args.ts';
import { age, table } from '../format.ts';
import type { Io } from '../io.ts';

export const ALERTS_USAGE = `Usage: muster alerts [--state firing|pending|resolved] [--json]

Lists alerts: firing ones first, then pending (condition holds, waiting for
its 'for' duration), then those resolved in the last 7 days. Rules and email
are configured with 'muster hub --alerts FILE'.

Exit codes: 0 nothing firing, 1 something is firing (handy in scripts), 2 usage.

Options:
  --state S      only alerts in this state
  --json         print the API's answer as JSON
  --hub URL      hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN  admin token (env MUSTER_TOKEN)
`;

interface AlertView {
  rule: string; node: string | null; subject: string; state: string; severity: string; summary: string;
  startedAt: string; firingAt: string | null; resolvedAt: string | null;
}

export async function alertsCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, {
    state: { type: 'string' }, json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { io.out(ALERTS_USAGE); return 0; }
  if (values.state && !['firing', 'pending', 'resolved'].includes(values.state)) throw new CliError('MUSTER_ERR_USAGE', '--state must be firing, pending or resolved', 2);
  const api = createApiClient(resolveClient(values, io.env));
  const res = await api.get<{ alerts: AlertView[] }>(`/api/v1/alerts${values.state ? `?state=${values.state}` : ''}`);
  const firing = res.alerts.some((a) => a.state === 'firing');
  if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return firing ? 1 : 0; }
  if (res.alerts.length === 0) { io.out('No alerts.\n'); return 0; }
  const order: Record<string, number> = { firing: 0, pending: 1, resolved: 2 };
  const now = Date.now();
  const rows = [...res.alerts].sort((a, b) => (order[a.state] ?? 3) - (order[b.state] ?? 3)).map((a) => [
    a.state.toUpperCase(), a.severity, a.rule, a.node ?? '-', a.subject,
    a.state === 'resolved' ? `resolved ${age(now - Date.parse(a.resolvedAt!))} ago` : `${age(now - Date.parse(a.firingAt ?? a.startedAt))}`,
    a.summary,
  ]);
  io.out(table(['STATE', 'SEVERITY', 'RULE', 'NODE', 'SUBJECT', 'FOR', 'WHAT'], rows));
  return firing ? 1 : 0;
}
