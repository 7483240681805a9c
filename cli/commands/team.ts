/** `muster whoami` and `muster audit`: which token this is, and who did what on the hub. */
import { createApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { table } from '../format.ts';
import type { Io } from '../io.ts';
import type { auditView } from '../../hub/routes/team.ts';

export const WHOAMI_USAGE = `Usage: muster whoami [--json]

Prints the name, role and scope of the token in use (--token, MUSTER_TOKEN,
or the config 'muster up' writes), and what it may do.
`;

export const AUDIT_USAGE = `Usage: muster audit [--since DUR|TIME] [--who NAME] [--limit N] [--json]

Who did what, newest first: every write through the API (tokens created or
revoked, deploys and how they ended, container and unit actions, silences,
nodes removed or replaced, agent upgrades) and every refusal, with the
token's name, the time, the caller's address and the outcome. Entries are
kept 90 days (muster hub --audit-retention).

Options:
  --since WHEN    a duration back from now (15m, 2h, 7d) or an ISO time (default: all kept)
  --who NAME      only what NAME did (a token's name, as muster whoami shows it)
  --limit N       at most N entries (default 100, at most 10000)
  --json          print the API's answer as JSON
  --hub URL       hub address (env MUSTER_HUB; default from 'muster up')
  --token TOKEN   a viewer, deployer or admin token (env MUSTER_TOKEN)
`;

const CLIENT_FLAGS = { hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

interface Whoami { name: string; role: string; tokenId: string; scope: { services: string[]; nodes: string[] } | null; permissions: string[]; expiresAt: string | null }

export async function whoamiCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { ...CLIENT_FLAGS });
  if (values.help) { io.out(WHOAMI_USAGE); return 0; }
  const client = resolveClient(values, io.env);
  const me = await createApiClient(client).get<Whoami>('/api/v1/whoami');
  if (values.json) { io.out(JSON.stringify(me, null, 2) + '\n'); return 0; }
  const lines = [
    `name      ${me.name}`,
    `role      ${me.role}`,
    ...(me.scope ? [`services  ${me.scope.services.join(', ')}`, `nodes     ${me.scope.nodes.length ? me.scope.nodes.join(', ') : 'any'}`] : []),
    `may       ${me.permissions.join(', ')}`,
    `token     ${me.tokenId}${me.expiresAt ? `, expires ${me.expiresAt}` : ''}`,
    `hub       ${client.hub}`,
  ];
  io.out(lines.join('\n') + '\n');
  return 0;
}

type AuditEntryView = ReturnType<typeof auditView>;

/** What a refusal lacked, or the failure's code, in a few words. */
function why(e: AuditEntryView): string {
  const err = e.detail['error'] as { permission?: string; service?: string } | undefined;
  if (e.outcome === 'refused' && err?.permission) return `needs ${err.permission}${err.service ? ` for ${err.service}` : ''}`;
  if (e.code) return e.code;
  const job = e.detail['job'];
  return typeof job === 'string' ? `job ${job}` : '';
}

export async function auditCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseFlags(argv, { ...CLIENT_FLAGS, since: { type: 'string' }, who: { type: 'string' }, limit: { type: 'string' } });
  if (values.help) { io.out(AUDIT_USAGE); return 0; }
  const limit = values.limit ?? '100';
  if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 10_000) throw new CliError('MUSTER_ERR_USAGE', `--limit must be a number from 1 to 10000, not ${JSON.stringify(values.limit)}`, 2);
  const query = new URLSearchParams({ limit });
  if (values.since) query.set('since', values.since);
  if (values.who) query.set('who', values.who);
  const res = await createApiClient(resolveClient(values, io.env)).get<{ entries: AuditEntryView[] }>(`/api/v1/audit?${query}`);
  if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return 0; }
  if (res.entries.length === 0) { io.out('Nothing in the audit log.\n'); return 0; }
  io.out(table(['TIME', 'WHO', 'ACTION', 'TARGET', 'FROM', 'OUTCOME', 'WHY'], res.entries.map((e) => [
    e.ts.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.who, e.action, e.target ?? e.path ?? '-', e.address ?? 'hub', e.outcome, why(e),
  ])));
  return 0;
}
