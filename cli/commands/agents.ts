/**
 * `muster agents`: which version every node's agent runs, against the bundle
 * this hub would push; `muster agents upgrade --node N | --all` pushes it and,
 * with --wait, follows each node until it runs the new version, rolled back,
 * or refused.
 */
import { createApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { table } from '../format.ts';
import type { Io } from '../io.ts';

export const AGENTS_USAGE = `Usage:
  muster agents [--json]
  muster agents upgrade (--node NAME ... | --all) [--force] [--wait] [--json]

Lists every node's agent version and whether it runs the bundle this hub
serves. 'upgrade' asks each chosen online node's agent to replace itself with
that bundle: an agent installed as a service (install.sh) downloads it from
the hub, checks its SHA-256, swaps it in and restarts through systemd, and
goes back to the previous version by itself if the new one has not reached
the hub within a minute. Agents started by hand refuse and say so.

  --node NAME   a node to upgrade (repeatable)
  --all         every node that is online and not on the hub's version
  --force       ask even nodes that report the hub's version already
  --wait        wait (up to 3 minutes) until every node ended its upgrade
Common flags: --hub URL, --token TOKEN, --ca-file FILE.
`;

interface AgentView { node: string; online: boolean; version: string | null; runtime: string | null; current: boolean | null; upgrade: { state: string; from: string | null; to: string; message: string; at: string } | null }
interface Requested { node: string; from: string | null; to: string; state: string; message: string }

const ENDED = new Set(['done', 'rolled back', 'refused', 'failed', 'current', 'offline']);

export async function agentsCommand(argv: string[], io: Io): Promise<number> {
  const sub = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'list';
  const rest = sub === 'list' && argv[0] !== 'list' ? argv : argv.slice(1);
  const { values } = parseFlags(rest, {
    node: { type: 'string', multiple: true }, all: { type: 'boolean' }, force: { type: 'boolean' }, wait: { type: 'boolean' },
    json: { type: 'boolean' }, hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { io.out(AGENTS_USAGE); return 0; }
  const api = createApiClient(resolveClient(values, io.env));
  if (sub === 'list') {
    const res = await api.get<{ bundle: { version: string } | null; agents: AgentView[] }>('/api/v1/agents');
    if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return 0; }
    io.out(table(['NODE', 'VERSION', 'RUNTIME', 'STATUS', 'LAST UPGRADE'], res.agents.map((a) => [
      a.node, a.version ?? '-', a.runtime ?? '-',
      !a.online ? 'offline' : a.current ? 'current' : a.current === false ? `behind (hub has ${res.bundle?.version})` : '-',
      a.upgrade ? `${a.upgrade.state} ${a.upgrade.from ?? '?'} -> ${a.upgrade.to} (${a.upgrade.at.slice(0, 19)})` : '-',
    ])));
    return 0;
  }
  if (sub !== 'upgrade') throw new CliError('MUSTER_ERR_USAGE', `unknown agents command '${sub}'; use list or upgrade`, 2);
  const nodes = values.node ?? [];
  if (Boolean(values.all) === nodes.length > 0) throw new CliError('MUSTER_ERR_USAGE', 'give --node NAME (repeatable) or --all', 2);
  const res = await api.post<{ requested: Requested[] }>('/api/v1/agents/upgrade', { ...(values.all ? { all: true } : { nodes }), ...(values.force ? { force: true } : {}) });
  let rows = res.requested;
  if (values.wait) {
    const names = new Set(rows.map((r) => r.node));
    const end = Date.now() + 180_000;
    while (Date.now() < end) {
      const now = (await api.get<{ agents: AgentView[] }>('/api/v1/agents')).agents.filter((a) => names.has(a.node));
      rows = now.map((a) => ({ node: a.node, from: a.upgrade?.from ?? null, to: a.upgrade?.to ?? '-', state: a.upgrade?.state ?? '-', message: a.upgrade?.message ?? '' }));
      if (rows.every((r) => ENDED.has(r.state))) break;
      if (!values.json) io.err(`waiting: ${rows.filter((r) => !ENDED.has(r.state)).map((r) => `${r.node} ${r.state}`).join(', ')}\n`);
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
  if (values.json) io.out(JSON.stringify({ requested: rows }, null, 2) + '\n');
  else io.out(table(['NODE', 'FROM', 'TO', 'STATE', 'MESSAGE'], rows.map((r) => [r.node, r.from ?? '-', r.to, r.state, r.message])));
  return rows.some((r) => r.state === 'failed' || r.state === 'rolled back' || (values.wait && !ENDED.has(r.state))) ? 1 : 0;
}
