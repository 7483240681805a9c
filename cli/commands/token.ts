/** `muster token create|list|revoke`: manage people's tokens, join tokens, metrics tokens and node credentials. */
import { createApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { table } from '../format.ts';
import type { Io } from '../io.ts';
import { agentInstallLine } from '../install-line.ts';

export const TOKEN_USAGE = `Usage:
  muster token create --role admin|deployer|viewer|metrics --name NAME [--services PATTERN,...] [--nodes KEY=VALUE,...] [--ttl 30d] [--json]
  muster token create [--role agent] [--ttl 1h] [--uses N] [--replace NAME] [--json]
  muster token list [--json]
  muster token revoke ID [--json]

People's tokens carry their name: the audit log, jobs and silences show it.
  viewer    reads everything (nodes, services, events, jobs, alerts, logs,
            the audit log) and changes nothing
  deployer  a viewer who may also recommend, deploy, restart/stop/remove
            containers and act on units, for services matching --services
            on nodes matching --nodes (a new service too, if its name matches)
  admin     everything: tokens, node removal and replacement, silences,
            agent upgrades
  metrics   /metrics and Prometheus service discovery only
Join tokens (role agent, the default) let new nodes join; each joined node
gets its own credential (role node), listed here too. Revoking a node's
credential disconnects it at once.

  --name NAME      whose token it is (required for viewer and deployer;
                   --label is the same flag's older name)
  --services LIST  deployer: service names it may deploy, as globs
                   (web-*,api); * for every service
  --nodes LIST     deployer: node labels it may deploy to, KEY=VALUE (agents
                   get them with --label); every key must match, and a key
                   given twice takes either value; default every node

  --ttl DURATION   how long the token is valid (30m, 1h, 7d). Join tokens
                   default to 1h; --ttl 0 makes one that never expires (say
                   so only if you mean it). Admin and metrics tokens default
                   to no expiry.
  --uses N         joins the token allows (--uses 1: single-use); default
                   no limit within its lifetime
  --replace NAME   a join token only for NAME, allowed to take that existing
                   node over (a reinstalled machine); single-use by default

Common flags: --hub URL, --token TOKEN.
`;

interface TokenView {
  id: string; role: string; label: string; name?: string; scope?: { services: string[]; nodes: string[] } | null; node: string | null; createdAt: string; expiresAt: string | null; revokedAt: string | null; lastUsedAt: string | null;
  usesLeft?: number | null; replace?: string | null;
}

export async function tokenCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { io.out(TOKEN_USAGE); return sub ? 0 : 2; }
  const { values, positionals } = parseFlags(rest, {
    role: { type: 'string' }, ttl: { type: 'string' }, label: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' },
    services: { type: 'string' }, nodes: { type: 'string' },
    uses: { type: 'string' }, replace: { type: 'string' },
    hub: { type: 'string' }, token: { type: 'string' }, 'ca-file': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, true);
  if (values.help) { io.out(TOKEN_USAGE); return 0; }
  const client = resolveClient(values, io.env);
  const api = createApiClient(client);
  switch (sub) {
    case 'create': {
      const uses = values.uses === undefined ? undefined : Number(values.uses);
      if (uses !== undefined && (!Number.isInteger(uses) || uses < 1)) throw new CliError('MUSTER_ERR_USAGE', `--uses needs a whole number of at least 1, not ${JSON.stringify(values.uses)}`, 2);
      const role = values.role ?? 'agent';
      if (values.name !== undefined && values.label !== undefined && values.name !== values.label) throw new CliError('MUSTER_ERR_USAGE', '--label is the older name of --name: give one', 2);
      const name = values.name ?? values.label;
      const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((s) => s.trim()).filter(Boolean));
      const services = list(values.services);
      const nodes = list(values.nodes);
      const res = await api.post<{ token: string; id: string; role: string; name?: string; scope?: { services: string[]; nodes: string[] }; expiresAt: string | null; usesLeft?: number | null; replace?: string | null; caHash?: string | null }>('/api/v1/tokens', {
        role, ...(values.ttl !== undefined ? { ttl: values.ttl } : {}), ...(name ? { name } : {}),
        ...(services !== undefined ? { services } : {}), ...(nodes !== undefined ? { nodes } : {}),
        ...(uses !== undefined ? { uses } : {}), ...(values.replace !== undefined ? { replace: values.replace } : {}),
      });
      if (values.json) io.out(JSON.stringify(res, null, 2) + '\n');
      else io.out(`${res.token}\n`);
      const limits = [...(res.name ? [`for ${res.name}`] : []), ...(res.scope ? [`services ${res.scope.services.join(',')} on ${res.scope.nodes.length ? `nodes ${res.scope.nodes.join(',')}` : 'any node'}`] : []),
        res.expiresAt ? `expires ${res.expiresAt}` : 'no expiry', ...(res.usesLeft ? [`${res.usesLeft} join${res.usesLeft === 1 ? '' : 's'}`] : []), ...(res.replace ? [`replaces node ${res.replace}`] : [])];
      if (!values.json) io.err(`token ${res.id} (role ${res.role}, ${limits.join(', ')})\n`);
      if (!values.json && res.role === 'agent') {
        // The pin goes with every join command: nothing is fetched from, and the agent talks to no, hub whose CA does not match it.
        // A replacement token is for one name only, so the line says it: the new machine may have another host name.
        const line = agentInstallLine({ hub: client.hub, token: res.token, caHash: res.caHash, ...(res.replace ? { agentFlags: ['--name', res.replace] } : {}) });
        const host = new URL(client.hub).hostname;
        io.err(`add a node: run this there, as root or a user with sudo (Debian, Ubuntu or Raspberry Pi OS with systemd; more agent flags such as --name, --label K=V or --no-deploy go at the end):\n\n${line}\n\n`);
        if (/^(127\.|\[::1\]$|localhost$)/.test(host)) io.err(`note: ${host} is this machine's loopback address; on another node put the hub's address there (the hub's certificate names it: muster hub --tls-san)\n`);
      }
      // Shown with --json too: the warning goes to stderr, the answer to stdout.
      if (res.role === 'agent' && res.expiresAt === null) {
        io.err('warning: this join token never expires: whoever gets hold of it can join nodes until you revoke it (muster token revoke ' + res.id + ')\n');
      }
      return 0;
    }
    case 'list': {
      const res = await api.get<{ tokens: TokenView[] }>('/api/v1/tokens');
      if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return 0; }
      io.out(table(['ID', 'ROLE', 'NAME', 'NODE', 'SCOPE', 'CREATED', 'EXPIRES', 'USES LEFT', 'STATE'], res.tokens.map((t) => [
        t.id, t.role, (t.name ?? t.label) || '-', t.node ?? (t.replace ? `(replaces ${t.replace})` : '-'),
        t.scope ? `${t.scope.services.join(',')}${t.scope.nodes.length ? ` on ${t.scope.nodes.join(',')}` : ''}` : '-', t.createdAt.slice(0, 19), t.expiresAt?.slice(0, 19) ?? 'never',
        t.usesLeft === null || t.usesLeft === undefined ? '-' : String(t.usesLeft),
        t.revokedAt ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? 'expired' : t.usesLeft === 0 ? 'used up' : 'valid',
      ])));
      return 0;
    }
    case 'revoke': {
      const id = positionals[0];
      if (!id) throw new CliError('MUSTER_ERR_USAGE', 'token revoke needs a token ID (see muster token list)', 2);
      const res = await api.del<{ id: string; role: string; revokedAt: string }>(`/api/v1/tokens/${encodeURIComponent(id)}`);
      io.out(values.json ? JSON.stringify(res, null, 2) + '\n' : `revoked ${res.id} (${res.role})\n`);
      return 0;
    }
    default:
      throw new CliError('MUSTER_ERR_USAGE', `unknown token command '${sub}'; use create, list or revoke`, 2);
  }
}
