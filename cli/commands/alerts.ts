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
    state: { type: 'string' }, json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
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

export const SILENCE_USAGE = `Usage: muster silence add [--node NAME] [--rule RULE] [--subject S] --for DUR --comment TEXT
       muster silence list [--json]
       muster silence expire ID

Holds back the email of matching alerts until the silence ends (they still
show in 'muster alerts'); if they still fire then, they are mailed. A silence
matches by node, rule (node_offline, disk_full, ...) and subject (a service,
a mountpoint, a container or unit name); what is left out matches anything.

Options:
  --for DUR      how long: 30m, 2h, 7d
  --comment TEXT why (required: the next person will ask)
  --json         print the API's answer as JSON
  --hub URL      hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN  admin token (env MUSTER_TOKEN)
`;

interface SilenceView { id: string; node: string | null; rule: string | null; subject: string | null; comment: string; createdBy: string; endsAt: string; active: boolean }

export async function silenceCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    node: { type: 'string' }, rule: { type: 'string' }, subject: { type: 'string' }, for: { type: 'string' }, comment: { type: 'string' },
    json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, true);
  if (values.help) { io.out(SILENCE_USAGE); return 0; }
  const [verb, ...rest] = positionals;
  const usage = (m: string) => new CliError('MUSTER_ERR_USAGE', m, 2);
  if (verb === 'add') {
    if (rest.length) throw usage(`unexpected argument ${JSON.stringify(rest[0])}`);
    if (!values.for) throw usage('--for is required: 30m, 2h, 7d');
    if (!values.comment) throw usage('--comment is required: say why');
    if (!values.node && !values.rule && !values.subject) throw usage('give at least one of --node, --rule or --subject');
    const api = createApiClient(resolveClient(values, io.env));
    const s = await api.post<SilenceView>('/api/v1/silences', {
      ...(values.node ? { node: values.node } : {}), ...(values.rule ? { rule: values.rule } : {}), ...(values.subject ? { subject: values.subject } : {}),
      for: values.for, comment: values.comment,
    });
    io.out(values.json ? JSON.stringify(s, null, 2) + '\n' : `silence ${s.id} until ${s.endsAt}\n`);
    return 0;
  }
  if (verb === 'list') {
    const api = createApiClient(resolveClient(values, io.env));
    const res = await api.get<{ silences: SilenceView[] }>('/api/v1/silences');
    if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return 0; }
    if (res.silences.length === 0) { io.out('No silences.\n'); return 0; }
    io.out(table(['ID', 'ACTIVE', 'NODE', 'RULE', 'SUBJECT', 'ENDS', 'BY', 'COMMENT'],
      res.silences.map((s) => [s.id, s.active ? 'yes' : 'ended', s.node ?? '*', s.rule ?? '*', s.subject ?? '*', s.endsAt.replace('T', ' ').slice(0, 16), s.createdBy, s.comment])));
    return 0;
  }
  if (verb === 'expire') {
    if (rest.length !== 1) throw usage('give one silence id: muster silence expire ID');
    const api = createApiClient(resolveClient(values, io.env));
    await api.del(`/api/v1/silences/${encodeURIComponent(rest[0]!)}`);
    io.out(`silence ${rest[0]} expired\n`);
    return 0;
  }
  throw usage('muster silence add | list | expire ID');
}
