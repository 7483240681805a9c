/** `muster token create|list|revoke`: manage join tokens, admin tokens and node credentials. */
import { createApiClient } from '../client.ts';
import { CliError, resolveClient } from '../config.ts';
import { parseFlags } from '../args.ts';
import { table } from '../format.ts';
import type { Io } from '../io.ts';

export const TOKEN_USAGE = `Usage:
  muster token create [--role agent|admin] [--ttl 1h] [--label TEXT] [--json]
  muster token list [--json]
  muster token revoke ID [--json]

Join tokens (role agent) let new nodes join; each joined node gets its own
credential (role node), listed here too. Revoking a node's credential
disconnects it at once. Common flags: --hub URL, --token TOKEN.
`;

interface TokenView { id: string; role: string; label: string; node: string | null; createdAt: string; expiresAt: string | null; revokedAt: string | null; lastUsedAt: string | null }

export async function tokenCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { io.out(TOKEN_USAGE); return sub ? 0 : 2; }
  const { values, positionals } = parseFlags(rest, {
    role: { type: 'string' }, ttl: { type: 'string' }, label: { type: 'string' }, json: { type: 'boolean' },
    hub: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  }, true);
  if (values.help) { io.out(TOKEN_USAGE); return 0; }
  const api = createApiClient(resolveClient(values, io.env));
  switch (sub) {
    case 'create': {
      const res = await api.post<{ token: string; id: string; role: string; expiresAt: string | null }>('/api/v1/tokens', {
        role: values.role ?? 'agent', ...(values.ttl ? { ttl: values.ttl } : {}), ...(values.label ? { label: values.label } : {}),
      });
      if (values.json) io.out(JSON.stringify(res, null, 2) + '\n');
      else io.out(`${res.token}\n`);
      if (!values.json) io.err(`token ${res.id} (role ${res.role}${res.expiresAt ? `, expires ${res.expiresAt}` : ', no expiry'})\n`);
      return 0;
    }
    case 'list': {
      const res = await api.get<{ tokens: TokenView[] }>('/api/v1/tokens');
      if (values.json) { io.out(JSON.stringify(res, null, 2) + '\n'); return 0; }
      io.out(table(['ID', 'ROLE', 'NODE', 'LABEL', 'CREATED', 'EXPIRES', 'STATE'], res.tokens.map((t) => [
        t.id, t.role, t.node ?? '-', t.label || '-', t.createdAt.slice(0, 19), t.expiresAt?.slice(0, 19) ?? '-',
        t.revokedAt ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? 'expired' : 'valid',
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
